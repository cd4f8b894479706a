import { Injectable } from '@nestjs/common';
import { AuditEventsRepository } from '../../../lib/audit/audit-events.repository';
import type { AuditKind } from '../../../lib/audit/audit-kinds';
import { redactSecrets } from '../../../lib/audit/redact';
import { currentActor } from './request-actor';

/** Records a change made through the API, with its actor, address, and before/after without secrets. */
@Injectable()
export class AuditTrail {
  constructor(private readonly events: AuditEventsRepository) {}

  async record(
    kind: AuditKind,
    districtId: string | null,
    change: { before?: unknown; after?: unknown },
  ): Promise<void> {
    const { actor, address } = currentActor();
    await this.events.append({
      districtId,
      kind,
      actor,
      address,
      before: change.before === undefined ? null : redactSecrets(change.before),
      after: change.after === undefined ? null : redactSecrets(change.after),
    });
  }
}
