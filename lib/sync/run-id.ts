import { isUuid } from '../contracts/uuid';

/**
 * COPY and DDL statements cannot take bind parameters, so a run id that ends up inside SQL text is
 * checked to be a UUID first (and lower-cased): nothing else can reach the statement.
 */
export function assertRunId(runId: string): string {
  if (!isUuid(runId)) throw new Error(`Not a run id: ${JSON.stringify(runId).slice(0, 60)}`);
  return runId.toLowerCase();
}

/** The run's staging partition. */
export function stagePartition(runId: string): string {
  return `stage_rows_${assertRunId(runId).replace(/-/g, '')}`;
}
