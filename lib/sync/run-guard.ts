import type { Pool, PoolClient } from 'pg';
import { RetryableFailureType } from '../contracts/sync';
import { SyncRunsRepository } from '../db/repositories/sync-runs.repository';
import { DomainError } from '../errors/domain-error';
import { withHeartbeat } from '../temporal/heartbeat';

/**
 * Retryable on purpose: the attempt that gets it is either stale (Temporal has already moved on and
 * ignores its outcome) or lost its database session in a restart (and a retry is what it needs).
 */
export const ATTEMPT_SUPERSEDED = RetryableFailureType.AttemptSuperseded;

/** Checks, inside a writing transaction, that its attempt still holds the run's guard. */
export type Fence = (db: PoolClient) => Promise<void>;

/**
 * The one guard of a run's stage, plan and apply: a session advisory lock on the run (an attempt
 * whose heartbeat Temporal lost but which still runs makes its retry wait instead of interleaving)
 * plus a fencing token recorded on the run. Every write of a guarded step checks, in its own
 * transaction, that its token is current and its session still holds the lock (`fence`), so an
 * attempt that lost the lock (its session ended with a database restart) or an attempt older than
 * the last holder writes nothing.
 */
export class RunGuard {
  private constructor(
    readonly runId: string,
    /** The session holding the lock; apply runs its transaction on it. */
    readonly client: PoolClient,
    private readonly token: string,
    private readonly session: { pid: number; backendStart: string },
  ) {}

  static async acquire(pool: Pool, runId: string, attemptAt: Date): Promise<RunGuard> {
    const client = await pool.connect();
    try {
      const runs = new SyncRunsRepository(client);
      await withHeartbeat('waiting for another attempt of this run to finish', () => runs.lockRun(runId));
      const held = await runs.takeGuard(runId, attemptAt);
      if (!held) throw superseded(runId);
      return new RunGuard(runId, client, held.token, { pid: held.pid, backendStart: held.backendStart });
    } catch (err) {
      // Ending the session releases the lock, whatever state the client is in.
      client.release(err as Error);
      throw err;
    }
  }

  readonly fence: Fence = async (db) => {
    if (!(await new SyncRunsRepository(db).holdsGuard(this.runId, this.token, this.session))) {
      throw superseded(this.runId);
    }
  };

  async release(): Promise<void> {
    try {
      await new SyncRunsRepository(this.client).unlockRun(this.runId);
      this.client.release();
    } catch (err) {
      this.client.release(err as Error);
    }
  }
}

function superseded(runId: string): DomainError {
  return new DomainError(
    ATTEMPT_SUPERSEDED,
    `A newer attempt of this step took over run ${runId} (or the database restarted under this one); this attempt stopped without writing.`,
  );
}
