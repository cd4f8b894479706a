import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { ERROR_CODES } from '../csv/error-codes';
import type { Severity } from '../csv/roster-record';
import { SyncRunsRepository } from '../db/repositories/sync-runs.repository';
import type { ArtifactStore } from '../storage/artifact-store';
import { assertRunId } from './run-id';

export interface ErrorSummaryEntry {
  code: string;
  severity: Severity;
  count: number;
  title: string;
  fix: string;
}

/**
 * A cell a spreadsheet would run as a formula (= + - @, or a leading tab / CR) gets a leading quote:
 * the reports contain values typed by anyone in the district's source system.
 */
function neutral(expr: string): string {
  return `CASE WHEN ${expr} ~ '^[=+@\\t\\r-]' THEN '''' || ${expr} ELSE ${expr} END`;
}

const SEVERITY_ORDER = "CASE severity WHEN 'fatal' THEN 0 WHEN 'error' THEN 1 ELSE 2 END";

/**
 * What a run's history page serves: the error summary, the errors and the plan as CSV, and the
 * original file. CSVs stream from Postgres (COPY TO) straight to the response: memory stays flat
 * for a million rows, and they outlive the run's staging data.
 */
export class RunReports {
  private readonly byCode = new Map(ERROR_CODES.map((e) => [e.code, e]));

  constructor(
    private readonly pool: Pool,
    private readonly artifacts: ArtifactStore,
  ) {}

  async errorSummary(runId: string): Promise<ErrorSummaryEntry[]> {
    const { rows } = await this.pool.query<{ code: string; severity: Severity; count: number }>(
      `SELECT code, severity, count(*)::int AS count FROM run_errors WHERE run_id = $1
       GROUP BY code, severity ORDER BY ${SEVERITY_ORDER}, count(*) DESC, code`,
      [assertRunId(runId)],
    );
    return rows.map((r) => {
      const entry = this.byCode.get(r.code);
      return {
        code: r.code,
        severity: r.severity,
        count: r.count,
        title: entry?.title ?? r.code,
        fix: entry?.fix ?? '',
      };
    });
  }

  /**
   * Columns: row, column, value, code, message — file-level findings first, then by row. With `via`,
   * the COPY runs on that connection, which stays the caller's (broken if this rejects).
   */
  async writeErrorsCsv(runId: string, out: Writable, via?: PoolClient): Promise<void> {
    const id = assertRunId(runId);
    await this.copyOut(
      `SELECT row_number AS "row", ${neutral('column_name')} AS "column", ${neutral('value')} AS value,
              code, ${neutral('message')} AS message
       FROM run_errors WHERE run_id = '${id}'
       ORDER BY row_number NULLS FIRST, ${SEVERITY_ORDER}, code`,
      out,
      via,
    );
  }

  /** Columns: action, user_id, row, key, email, first_name, last_name, changed_fields; `via` as above. */
  async writePlanCsv(runId: string, out: Writable, via?: PoolClient): Promise<void> {
    const id = assertRunId(runId);
    await this.copyOut(
      `SELECT action, user_id, row_number AS "row", ${neutral('key')} AS key, ${neutral('email')} AS email,
              ${neutral('first_name')} AS first_name, ${neutral('last_name')} AS last_name,
              NULLIF(array_to_string(changed, ' '), '') AS changed_fields
       FROM run_plan WHERE run_id = '${id}'
       ORDER BY CASE action WHEN 'create' THEN 0 WHEN 'update' THEN 1 WHEN 'reactivate' THEN 2 ELSE 3 END,
                row_number NULLS LAST, email`,
      out,
      via,
    );
  }

  /** The run's file byte for byte, as the district sent it; undefined when the run has none. */
  /**
   * The run's original file; 'not-fetched' when the run ended before it had one, 'gone' when it had
   * one that is no longer in the store (removed from DATA_DIR since).
   */
  async openOriginal(
    runId: string,
  ): Promise<{ name: string; size: number; stream: Readable } | 'not-fetched' | 'gone'> {
    const run = await new SyncRunsRepository(this.pool).get(assertRunId(runId));
    if (!run?.file_ref) return 'not-fetched';
    let size: number;
    try {
      size = (await fs.promises.stat(this.artifacts.resolve(run.file_ref))).size;
    } catch {
      return 'gone';
    }
    return {
      name: run.file_name ?? path.posix.basename(run.file_ref),
      size,
      stream: this.artifacts.open(run.file_ref),
    };
  }

  private async copyOut(select: string, out: Writable, via?: PoolClient): Promise<void> {
    const copy = (client: PoolClient) =>
      pipeline(client.query(copyTo(`COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER)`)), out);
    if (via) return await copy(via);
    const client = await this.pool.connect();
    let failed: Error | undefined;
    try {
      await copy(client);
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      // A connection whose COPY was cut short (client went away) is not reused.
      client.release(failed);
    }
  }
}
