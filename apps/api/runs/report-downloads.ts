import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { Env } from '../../../lib/config/env';
import { ExportSlotsRepository } from '../../../lib/db/repositories/export-slots.repository';
import { ArtifactStore } from '../../../lib/storage/artifact-store';
import { RunReports } from '../../../lib/sync/run-reports';
import { ENV, EXPORTS_POOL } from '../api.tokens';
import type { Credential } from '../common/bearer-token';
import { TooManyRequestsException } from '../common/too-many-requests.exception';

/** What a caller refused a slot is told to wait: downloads of a normal report take seconds. */
const SLOT_RETRY_AFTER_SECONDS = 10;

interface Lease {
  reports: RunReports;
  /** Gives the slot and the connection back; a connection whose COPY broke is closed instead. */
  end(failure: Error | undefined): Promise<void>;
}

/**
 * Report downloads (errors.csv, plan.csv) stream from their own small pool (API_EXPORT_CONNECTIONS),
 * so slow readers can never take the connections requests and authentication need. Each credential
 * may have API_EXPORTS_PER_CREDENTIAL downloads in progress (more answer 429), so one district cannot
 * take the whole export pool either, and a client that stops reading for
 * API_EXPORT_SEND_TIMEOUT_SECONDS is disconnected, which ends its COPY and frees its connection.
 */
@Injectable()
export class ReportDownloads {
  private readonly logger = new Logger(ReportDownloads.name);
  private readonly artifacts: ArtifactStore;

  constructor(
    @Inject(EXPORTS_POOL) private readonly pool: Pool,
    @Inject(ENV) private readonly env: Readonly<Env>,
  ) {
    this.artifacts = new ArtifactStore(path.join(env.DATA_DIR, 'artifacts'));
  }

  get sendTimeoutSeconds(): number {
    return this.env.API_EXPORT_SEND_TIMEOUT_SECONDS;
  }

  /**
   * Takes a slot, then calls `start` (status and headers) and streams what `write` writes. A refusal
   * (429, 503) comes before `start`, so it is an ordinary JSON error.
   */
  async send(
    credential: Credential,
    res: ServerResponse,
    start: () => void,
    write: (reports: RunReports) => Promise<void>,
  ): Promise<void> {
    const lease = await this.lease(credential);
    let failure: Error | undefined;
    try {
      start();
      disconnectWhenStalled(res, this.env.API_EXPORT_SEND_TIMEOUT_SECONDS);
      await write(lease.reports);
      if (!res.writableEnded) res.end();
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      // The client went away or stopped reading: nothing left to answer.
      if (res.destroyed) {
        this.logger.warn(`report download ended early: ${failure.message}`);
        return;
      }
      throw err;
    } finally {
      await lease.end(failure);
    }
  }

  private async lease(credential: Credential): Promise<Lease> {
    const holder = credential.kind === 'operator' ? 'operator' : `key:${credential.keyId}`;
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
      for (let i = 0; i < this.env.API_EXPORTS_PER_CREDENTIAL && slot < 0; i++)
        if (await slots.tryTake(holder, i)) slot = i;
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    if (slot < 0) {
      client.release();
      throw new TooManyRequestsException(
        `This credential already has ${this.env.API_EXPORTS_PER_CREDENTIAL} report downloads in progress, ` +
          `the most allowed at once (API_EXPORTS_PER_CREDENTIAL). Let one finish, then try again in ${SLOT_RETRY_AFTER_SECONDS} seconds.`,
        SLOT_RETRY_AFTER_SECONDS,
      );
    }
    let copyFailure: Error | undefined;
    // RunReports asks its pool for a connection per report: it gets the one holding the slot.
    const lent = {
      query: client.query.bind(client),
      release: (err?: Error | boolean) => {
        if (err instanceof Error) copyFailure = err;
      },
    };
    const onePool = { connect: () => Promise.resolve(lent), query: client.query.bind(client) };
    return {
      reports: new RunReports(onePool as unknown as Pool, this.artifacts),
      end: async (failure) => {
        const broken = failure ?? copyFailure;
        // A COPY cut short leaves the connection mid-protocol: close it (its locks go with it).
        if (broken) return client.release(broken);
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
