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

/** One host's outputs: deleted, child-count, status and the script's. */
export function setHostOutputs(outcome: Outcome): void {
  runner.setOutput('deleted', String(outcome.deleted));
  runner.setOutput(
    'child-count',
    outcome.childCount === undefined ? '' : String(outcome.childCount)
  );
  const run = outcome.scriptRun;
  runner.setOutput('status', run?.status === 'failed' ? 'failed' : outcome.status);
  setScriptOutputs(run);
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
export function setFailureOutputs(deleted: boolean): void {
  runner.setOutput('status', 'failed');
  runner.setOutput('deleted', String(deleted));
  runner.setOutput('child-count', '');
  setScriptOutputs(undefined);
}

/** No host given (if-no-hosts: warn or ignore): nothing deleted, no script. */
export function setNoHostOutputs(): void {
  runner.setOutput('status', 'no-hosts');
  runner.setOutput('deleted', 'false');
  runner.setOutput('child-count', '');
  setScriptOutputs(undefined);
}

/** The batch's overall status: every host's when they agree, else partial or failed. */
export function batchStatus(outcome: BatchOutcome): string {
  if (outcome.refused !== undefined) return 'failed';
  const statuses = new Set(outcome.records.map((r) => r.status));
  if (statuses.size === 1) {
    const [only] = statuses;
    if (only === 'deregistered' || only === 'dry-run' || only === 'already-absent') return only;
    if (only === 'failed' || only === 'not-started') return 'failed';
  }
  return outcome.records.some((r) => r.deleted) || !statuses.has('failed') ? 'partial' : 'failed';
}

/** A batch's outputs: the hosts' status and totals, and the one host's own when there is one. */
export async function setBatchOutputs(outcome: BatchOutcome): Promise<void> {
  const { records } = outcome;
  const single = records.length === 1 ? records[0] : undefined;
  runner.setOutput('status', batchStatus(outcome));
  runner.setOutput('deleted', String(records.every((r) => r.deleted)));
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
