/**
 * How the step ends, said every way at once: the outputs, one line in the log, the job summary,
 * and the failed state with its message when it failed.
 */
import { excerpt, markdownText } from '../action/escape.js';
import { log } from '../action/log.js';
import type { IfMissing, IfNoHosts } from '../action/inputs.js';
import type { BatchOutcome } from '../flow/batch.js';
import type { Outcome } from '../flow/outcome.js';
import { PLATFORM_NAMES } from '../warehouse/types.js';
import { batchSummary, headline as batchHeadline, MAY_HAVE_DELETED } from './batch-summary.js';
import { setBatchOutputs, setFailureOutputs, setHostOutputs, setNoHostOutputs } from './outputs.js';
import type { HostRecord } from './record.js';
import {
  failureMarkdown,
  headline,
  stoppedAt,
  summaryMarkdown,
  writeSummary,
  type Deletion,
  type Redactor
} from './summary.js';

/** One host's outcome: its outputs, its log line and its summary; failed when the script did. */
export async function report(
  outcome: Outcome,
  ifMissing: IfMissing,
  redact: Redactor,
  showScript = true
): Promise<void> {
  setHostOutputs(outcome);

  // A host an earlier attempt deleted is no missing host: the flow said so when it found it.
  if (outcome.absentBecause && outcome.deletedByAttempt === undefined) {
    if (ifMissing === 'warn') log.warning(`${outcome.absentBecause}.`);
    else log.info(`${outcome.absentBecause}.`);
  }
  log.info(headline(outcome, (key) => `'${key}'`));
  await writeSummary(summaryMarkdown(outcome, redact, showScript));
  if (outcome.scriptRun?.status === 'failed') log.error(scriptFailure(outcome));
}

/**
 * A failed script run: where it stopped, that the host is gone, and where the script is kept:
 * the artifact, which a re-run goes on from and which outlives the job, before the file.
 */
export function scriptFailure(outcome: Outcome): string {
  const run = outcome.scriptRun!;
  const name = PLATFORM_NAMES[run.platform];
  const { artifact, kept } = outcome;
  const stopped = stoppedAt(run);
  const doubt = stopped !== undefined && run.statements[stopped]!.outcome === 'in-doubt';
  const file = kept ? `the file ${kept.path} (on this runner only)` : undefined;
  const where = artifact
    ? `artifact '${artifact.artifactName}' (ID ${artifact.artifactId})${file ? ` and ${file}` : ''}`
    : (file ?? "the step's 'script' output");
  const from =
    stopped === undefined
      ? ''
      : doubt
        ? ` from statement ${stopped + 1} or ${stopped + 2} on (whether statement ${stopped + 1} ran is in doubt)`
        : ` from statement ${stopped + 1} on`;
  const next = artifact
    ? `Re-run failed jobs goes on${stopped === undefined ? '' : ` at statement ${stopped + 1}`}${doubt ? ` once ${name} says how it ended` : ''}; or run the rest by hand${from}.`
    : `Run the rest by hand${from}: without an artifact (upload-artifact: false) a re-run cannot go on.`;
  return `Running the cleanup script in ${name} failed: ${run.error ?? 'no reason given'} Host '${outcome.connectionKey}' is already deregistered in Immuta; its cleanup script is kept in ${where}. ${next}${run.note ? ` ${run.note}` : ''}`;
}

/**
 * A step that failed before its outcome was settled: the outputs, the message, the summary. The
 * `deleted` output is true only when the deletion is known; the summary says when it is unknown.
 */
export async function reportFailure(
  message: string,
  deleted: Deletion,
  oneHost: boolean
): Promise<void> {
  setFailureOutputs(deleted === true, oneHost);
  log.error(message);
  await writeSummary(failureMarkdown(message, deleted));
}

/** Sets the outputs, logs the outcome, writes the summary; the step fails when any host did. */
export async function reportBatch(
  outcome: BatchOutcome,
  redact: Redactor,
  showScripts = true
): Promise<void> {
  const { records } = outcome;
  await setBatchOutputs(outcome);

  log.info(batchHeadline(outcome));
  await writeSummary(await batchSummary(outcome, redact, showScripts));
  const failed = records.filter((r) => r.status === 'failed');
  if (outcome.refused !== undefined) {
    log.error(
      `${outcome.refused}: nothing was deleted.${outcome.changes.length > 0 ? ` ${outcome.changes.join(' ')}` : ''}${failed.length > 0 ? ` ${failures(failed)}` : ''} The report is at ${outcome.reportPath}.`
    );
  } else if (failed.length > 0) {
    const notStarted = records.filter((r) => r.status === 'not-started').length;
    log.error(
      `${failed.length} of ${records.length} host${records.length === 1 ? '' : 's'} failed. ${failures(failed)}${notStarted > 0 ? ` ${notStarted} not started (fail-fast).` : ''} The scripts are kept in ${outcome.folder}; the report is at ${outcome.reportPath}.`
    );
  }
}

function failures(failed: readonly HostRecord[]): string {
  const shown = failed
    .slice(0, 5)
    .map(
      (r) =>
        `'${r.connectionKey}': ${r.mayHaveDeleted ? `${MAY_HAVE_DELETED} ` : ''}${excerpt(r.error ?? 'failed', 300)}`
    );
  return `${shown.join(' ')}${failed.length > 5 ? ` And ${failed.length - 5} more, in the report.` : ''}`;
}

/**
 * connection-key named no host and if-no-hosts let the step succeed: nothing was sent and
 * nothing deleted, which the outputs (status no-hosts), the log and the summary say.
 */
export async function reportNoHosts(ifNoHosts: IfNoHosts): Promise<void> {
  setNoHostOutputs();
  const message = `connection-key names no host (it is empty, or every line is blank or a # comment), so nothing was sent to Immuta and nothing was deleted (if-no-hosts: ${ifNoHosts}).`;
  if (ifNoHosts === 'warn') log.warning(message);
  else log.info(message);
  await writeSummary(`## Immuta: no host to deregister\n\n${markdownText(message)}\n`);
}
