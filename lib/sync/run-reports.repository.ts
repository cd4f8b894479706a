import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Severity } from '../csv/roster-record';
import { assertRunId } from './run-id';

export interface ErrorCount {
  code: string;
  severity: Severity;
  count: number;
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
 * The SQL behind a run's reports, over run_errors and run_plan. CSVs stream from Postgres (COPY TO)
 * straight to `out`: memory stays flat for a million rows.
 */
export class RunReportsRepository {
  constructor(private readonly pool: Pool) {}

  /** Findings per code and severity, the most severe and most frequent first. */
  async errorCounts(runId: string): Promise<ErrorCount[]> {
    const { rows } = await this.pool.query<ErrorCount>(
      `SELECT code, severity, count(*)::int AS count FROM run_errors WHERE run_id = $1
       GROUP BY code, severity ORDER BY ${SEVERITY_ORDER}, count(*) DESC, code`,
      [assertRunId(runId)],
    );
    return rows;
  }

  /**
   * Columns: row, column, value, code, message — file-level findings first, then by row. With `via`,
   * the COPY runs on that connection, which stays the caller's (broken if this rejects).
   */
  async copyErrorsCsv(runId: string, out: Writable, via?: PoolClient): Promise<void> {
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
  async copyPlanCsv(runId: string, out: Writable, via?: PoolClient): Promise<void> {
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
