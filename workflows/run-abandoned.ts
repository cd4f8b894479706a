/** What a run row says when its district workflow lost it (type RunAbandoned), by how it was found. */
export function abandonedMessage(found: 'running' | 'queued' | 'run-gone'): string {
  switch (found) {
    case 'running':
      return "This run's district workflow was terminated or timed out while the run was in flight, and the run's own workflow is no longer running either: it will not continue. Whatever it recorded above stands. Sync Now starts a new run.";
    case 'queued':
      return "This run's district workflow was terminated or timed out before the run started: it will never start. Sync Now starts a new run.";
    case 'run-gone':
      return "This run's workflow ended without recording an outcome (terminated or timed out, e.g. in the Temporal UI). Whatever it recorded above stands. Sync Now starts a new run.";
  }
}
