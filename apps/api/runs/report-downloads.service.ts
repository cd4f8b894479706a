import type { ServerResponse } from 'node:http';
import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { Env } from '../../../lib/config/env';
import { ExportSlotsRepository } from '../../../lib/db/repositories/export-slots.repository';
import { RunReports } from '../../../lib/sync/run-reports';
import { ENV, EXPORTS_POOL } from '../api.tokens';
import type { Credential } from '../common/bearer-token';
import { TooManyRequestsException } from '../common/too-many-requests.exception';

/** What a caller refused a slot is told to wait: downloads of a normal report take seconds. */
const SLOT_RETRY_AFTER_SECONDS = 10;

/** A slot taken on a connection of the export pool; the report streams on that same connection. */
interface Lease {
  client: PoolClient;
  /** Gives the slot and the connection back; a connection whose COPY broke is closed instead. */
  end(failure: Error | undefined): Promise<void>;
}

/**
 * Report downloads (errors.csv, plan.csv) stream from their own small pool (API_EXPORT_CONNECTIONS),
 * so slow readers can never take the connections requests and authentication need. Each district,
 * whichever of its keys ask, may have API_EXPORTS_PER_DISTRICT downloads in progress, and the
 * operator token as many (more answer 429), so no single one takes the whole export pool. A client
 * that stops reading for API_EXPORT_SEND_TIMEOUT_SECONDS, or is still reading after
 * API_EXPORT_DEADLINE_SECONDS, is disconnected, which ends its COPY and frees its connection.
 */
@Injectable()
export class ReportDownloads {
  private readonly logger = new Logger(ReportDownloads.name);

  constructor(
    @Inject(EXPORTS_POOL) private readonly pool: Pool,
    @Inject(ENV) private readonly env: Readonly<Env>,
    private readonly reports: RunReports,
  ) {}

  get sendTimeoutSeconds(): number {
    return this.env.API_EXPORT_SEND_TIMEOUT_SECONDS;
  }

  /**
   * Takes a slot of the district's (or the operator's), then calls `start` (status and headers) and
   * streams what `write` writes on the slot's connection. A refusal (429, 503) comes before
   * `start`, so it is an ordinary JSON error.
   */
  async send(
    credential: Credential,
    districtId: string,
    res: ServerResponse,
    start: () => void,
    write: (reports: RunReports, client: PoolClient) => Promise<void>,
  ): Promise<void> {
    const lease = await this.lease(credential.kind === 'operator' ? 'operator' : `district:${districtId}`);
    let failure: Error | undefined;
    const deadline = setTimeout(() => {
      res.destroy(new Error(`the download was still going after ${this.env.API_EXPORT_DEADLINE_SECONDS} s`));
    }, this.env.API_EXPORT_DEADLINE_SECONDS * 1000);
    try {
      start();
      disconnectWhenStalled(res, this.env.API_EXPORT_SEND_TIMEOUT_SECONDS);
      await write(this.reports, lease.client);
      if (!res.writableEnded) res.end();
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      // The client went away, stopped reading or ran past the deadline: nothing left to answer.
      if (res.destroyed) {
        this.logger.warn(`report download ended early: ${failure.message}`);
        return;
      }
      throw err;
    } finally {
      clearTimeout(deadline);
      await lease.end(failure);
    }
  }

  private async lease(holder: string): Promise<Lease> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.logger.warn(`no connection for a report download: ${(err as Error).message}`);
      throw new ServiceUnavailableException(
        'Every connection for report downloads is busy with other downloads: try again in a minute.',
      );
    }
    const slots = new ExportSlotsRepository(client);
    let slot = -1;
    try {
      for (let i = 0; i < this.env.API_EXPORTS_PER_DISTRICT && slot < 0; i++)
        if (await slots.tryTake(holder, i)) slot = i;
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    if (slot < 0) {
      client.release();
      const who = holder === 'operator' ? 'The operator token' : 'This district';
      throw new TooManyRequestsException(
        `${who} already has ${this.env.API_EXPORTS_PER_DISTRICT} report downloads in progress, ` +
          `the most allowed at once (API_EXPORTS_PER_DISTRICT). Let one finish, then try again in ${SLOT_RETRY_AFTER_SECONDS} seconds.`,
        SLOT_RETRY_AFTER_SECONDS,
      );
    }
    return {
      client,
      end: async (failure) => {
        // A COPY cut short leaves the connection mid-protocol: close it (its locks go with it).
        if (failure) return client.release(failure);
        try {
          await slots.give(holder, slot);
          client.release();
        } catch (err) {
          client.release(err as Error);
        }
      },
    };
  }
}

/**
 * A client that reads nothing for `seconds` (the socket's send buffer stays full, so nothing is
 * written) is disconnected: the stream being piped into the response then fails and is cleaned up.
 */
export function disconnectWhenStalled(res: ServerResponse, seconds: number): void {
  res.setTimeout(seconds * 1000, () => {
    res.destroy(new Error(`the client read nothing for ${seconds} s`));
  });
}
