import type { Queryable } from '../db/queryable';
import type { AuditKind } from './audit-kinds';

export interface AuditEventWrite {
  districtId: string | null;
  kind: AuditKind;
  actor: string;
  address: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditEvent extends AuditEventWrite {
  id: string;
  at: Date;
}

interface Row {
  id: string;
  district_id: string | null;
  kind: AuditKind;
  actor: string;
  address: string | null;
  at: Date;
  before: unknown;
  after: unknown;
}

const toEvent = (row: Row): AuditEvent => ({
  id: row.id,
  districtId: row.district_id,
  kind: row.kind,
  actor: row.actor,
  address: row.address,
  at: row.at,
  before: row.before,
  after: row.after,
});

export interface AuditPageQuery {
  /** null: every district's (the operator's view). */
  districtId: string | null;
  kind?: AuditKind;
  limit: number;
  offset: number;
}

/** The only code that speaks SQL about audit_events: append, and read newest first. */
export class AuditEventsRepository {
  constructor(private readonly db: Queryable) {}

  async append(event: AuditEventWrite): Promise<void> {
    await this.db.query(
      `INSERT INTO audit_events (district_id, kind, actor, address, before, after) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        event.districtId,
        event.kind,
        event.actor,
        event.address,
        event.before === undefined ? null : JSON.stringify(event.before),
        event.after === undefined ? null : JSON.stringify(event.after),
      ],
    );
  }

  async page(query: AuditPageQuery): Promise<{ total: number; events: AuditEvent[] }> {
    const where = ['($1::uuid IS NULL OR district_id = $1)', '($2::text IS NULL OR kind = $2)'].join(' AND ');
    const params = [query.districtId, query.kind ?? null];
    const [{ rows: count }, { rows }] = await Promise.all([
      this.db.query<{ total: string }>(`SELECT count(*) AS total FROM audit_events WHERE ${where}`, params),
      this.db.query<Row>(
        `SELECT id::text AS id, district_id, kind, actor, address, at, before, after FROM audit_events
         WHERE ${where} ORDER BY audit_events.id DESC LIMIT $3 OFFSET $4`,
        [...params, query.limit, query.offset],
      ),
    ]);
    return { total: Number(count[0].total), events: rows.map(toEvent) };
  }
}
