/**
 * The step's outputs, as a later step reads them: what became of the host (or of every host of
 * a batch) and of the script. Set on success and on failure alike.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as runner from '../action/runner.js';
import type { BatchOutcome } from '../flow/batch.js';
import { fitsInOutput } from '../flow/keep-script.js';
import type { Outcome } from '../flow/outcome.js';
import type { ScriptRun } from '../warehouse/types.js';
import type { HostRecord } from './record.js';

/** One host's status output: failed when its script failed, whatever became of the host. */
export function hostStatus(outcome: Pick<Outcome, 'status' | 'scriptRun'>): string {
  return outcome.scriptRun?.status === 'failed' ? 'failed' : outcome.status;
}

/** One host's outputs: deleted, child-count, status, the counts and the script's. */
export function setHostOutputs(outcome: Outcome): void {
  runner.setOutput('deleted', String(outcome.deleted));
  runner.setOutput(
    'child-count',
    outcome.childCount === undefined ? '' : String(outcome.childCount)
  );
  const status = hostStatus(outcome);
  runner.setOutput('status', status);
  setCounts({
    deleted: outcome.deleted ? 1 : 0,
    absent: outcome.status === 'already-absent' ? 1 : 0,
    failed: status === 'failed' ? 1 : 0
  });
  setScriptOutputs(outcome.scriptRun);
}

/** How many hosts this step deleted, found already gone, and left because of an error. */
interface Counts {
  readonly deleted: number;
  readonly absent: number;
  readonly failed: number;
}

/** The counts, when known: a step that failed before it could count leaves them unset (''). */
function setCounts(counts: Counts | undefined): void {
  if (counts === undefined) return;
  runner.setOutput('deleted-count', String(counts.deleted));
  runner.setOutput('absent-count', String(counts.absent));
  runner.setOutput('failed-count', String(counts.failed));
}

/** A batch's counts, from its records: a host not started was left by an error too. */
export function batchCounts(records: readonly HostRecord[]): Counts {
  const count = (test: (r: HostRecord) => boolean) => records.filter(test).length;
  return {
    deleted: count((r) => r.deleted),
    absent: count((r) => r.status === 'already-absent'),
    failed: count((r) => !r.deleted && (r.status === 'failed' || r.status === 'not-started'))
  };
}

/** Sets and reports the step's outputs; the script outputs say skipped without a run. */
export function setScriptOutputs(run: ScriptRun | undefined): void {
  runner.setOutput('script-status', run?.status ?? 'skipped');
  runner.setOutput('statements-run', String(run?.statementsRun ?? 0));
}

/**
 * A failed step still says what it did: `status` is failed and `deleted` says whether this run
 * deleted the host before the failure, so `if: failure()` steps can read both.
 */
export function setFailureOutputs(deleted: boolean, oneHost: boolean): void {
  runner.setOutput('status', 'failed');
  runner.setOutput('deleted', String(deleted));
  runner.setOutput('child-count', '');
  // Only one host's run that failed knows its counts; a batch's settles into its own outcome.
  setCounts(oneHost ? { deleted: deleted ? 1 : 0, absent: 0, failed: 1 } : undefined);
  setScriptOutputs(undefined);
}

/** No host given (if-no-hosts: warn or ignore): nothing deleted, no script. */
export function setNoHostOutputs(): void {
  runner.setOutput('status', 'no-hosts');
  runner.setOutput('deleted', 'false');
  runner.setOutput('child-count', '');
  setCounts({ deleted: 0, absent: 0, failed: 0 });
  setScriptOutputs(undefined);
}

/**
 * The batch's outcome, to branch on: failed when any host was left by an error and none was
 * deleted, partial when some were deleted and some left (the step fails either way);
 * already-absent when every host was gone before the step; dry-run for a dry run; deregistered
 * when every host is gone and this step deleted the rest.
 */
export function batchStatus(outcome: BatchOutcome): string {
  const { deleted, failed } = batchCounts(outcome.records);
  if (outcome.refused !== undefined || failed > 0) return deleted > 0 ? 'partial' : 'failed';
  if (outcome.records.every((r) => r.status === 'already-absent')) return 'already-absent';
  return outcome.dryRun ? 'dry-run' : 'deregistered';
}

/** A batch's outputs: the hosts' status and totals, and the one host's own when there is one. */
export async function setBatchOutputs(outcome: BatchOutcome): Promise<void> {
  const { records } = outcome;
  const single = records.length === 1 ? records[0] : undefined;
  runner.setOutput('status', batchStatus(outcome));
  runner.setOutput('deleted', String(records.some((r) => r.deleted)));
  setCounts(batchCounts(records));
  const counts = records.filter((r) => r.deleted).map((r) => r.childCount);
  runner.setOutput(
    'child-count',
    counts.length > 0 && counts.every((c) => c !== undefined)
      ? String(counts.reduce((a, b) => a! + b!, 0))
      : ''
  );
  runner.setOutput(
    'integration-id',
    single?.integrationId === undefined ? '' : String(single.integrationId)
  );
  runner.setOutput(
    'script-path',
    single?.scriptFile ? path.join(outcome.folder, single.scriptFile) : outcome.folder
  );
  runner.setOutput(
    'script',
    single?.scriptFile ? await scriptOutput(outcome.folder, single.scriptFile) : ''
  );
  runner.setOutput('report-path', outcome.reportPath);
  runner.setOutput('plan-path', outcome.planPath ?? '');
  runner.setOutput('plan-sha256', outcome.planSha256 ?? '');
  setScriptOutputs(undefined);
}

async function scriptOutput(folder: string, file: string): Promise<string> {
  const script = await fs.readFile(path.join(folder, file), 'utf8');
  return fitsInOutput(script) ? script : '';
}
