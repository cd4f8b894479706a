// The workflows the worker registers (bundled from dist/workflows/index.js).
export { districtSyncWorkflow } from './district-sync.workflow';
export { syncRunWorkflow } from './sync-run.workflow';
export { mailSweepWorkflow } from './mail-sweep.workflow';
