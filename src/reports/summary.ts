/**
 * The job summary of one host's run, as Markdown: what happened, what to do next, what step 3
 * did, and the script folded. Pure but for writeSummary, so every outcome is tested without a
 * runner.
 */
import * as runner from '../action/runner.js';
import { lineCount, type Outcome } from '../flow/outcome.js';
import { hasNoScript } from '../immuta/responses.js';
import { errorText } from '../action/error-text.js';
import { excerpt, markdownCode, markdownText } from '../action/escape.js';
import { log } from '../action/log.js';
import type { Secrets } from '../action/secrets.js';
import type { KeptArtifact } from '../flow/keep-script.js';
import { hostStatus } from './outputs.js';
import { PLATFORM_NAMES, type ScriptRun } from '../warehouse/types.js';

/** How much of the script the summary shows; the whole script is in the file and artifact. */
export const SUMMARY_SCRIPT_LIMIT = 64 * 1024;

/** What the summary needs of the run's secrets. */
export type Redactor = Pick<Secrets, 'redactHead'>;

const NO_SECRETS: Redactor = { redactHead: (head) => head };

/** Set once a block could not be written: later blocks would fail alike, and say so again. */
let summaryLost = false;

/** Appends to the job summary; one that cannot be written is a warning, never a failed step. */
export async function writeSummary(markdown: string): Promise<void> {
  if (summaryLost) return;
  try {
    await runner.appendSummary(markdown);
  } catch (error) {
    summaryLost = true;
    // The outcome is settled and the outputs set: a summary that cannot be written must not
    // turn that into a failed step.
    log.warning(`The job summary could not be written: ${errorText(error)}`);
  }
}

/**
 * What a failed step did to the host: deleted, not deleted, or unknown (a delete was sent and
 * nothing settles what became of it).
 */
export type Deletion = boolean | 'unknown';

export function failureMarkdown(message: string, deleted: Deletion): string {
  return [
    '## Immuta: the step failed',
    '',
    markdownText(message),
    '',
    deleted === 'unknown'
      ? // "Not deleted" would keep the reader from a cleanup script the host may need now.
        "Whether this step deleted the host is **unknown**: its delete was sent, and what became of it could not be told. Check the host in Immuta: if it is gone, this step's delete removed it, and its cleanup script, if it has one, still has to run (the message above says where it is kept); if it is still there, run the step again."
      : deleted
        ? 'The host **was deleted** in Immuta before the failure.'
        : 'This step did not delete the host.',
    ''
  ].join('\n');
}

/**
 * One sentence on what happened; `quote` renders the connection key for where it is shown. A
 * script that did not finish is said with the host, never after a headline that reads as done.
 */
export function headline(outcome: Outcome, quote: (key: string) => string): string {
  const key = quote(outcome.connectionKey);
  const run = outcome.scriptRun;
  const unfinished =
    run?.status === 'failed' ? `its cleanup script did not finish in ${stopPlace(run)}` : undefined;
  switch (outcome.status) {
    case 'deregistered':
      if (unfinished !== undefined) return `Deregistered host ${key}, but ${unfinished}.`;
      return outcome.childCount === undefined
        ? `Deregistered host ${key}; Immuta did not say how many child objects went with it.`
        : `Deregistered host ${key} and its ${outcome.childCount} child object${outcome.childCount === 1 ? '' : 's'}.`;
    case 'dry-run':
      return `Dry run: host ${key} was not deleted.`;
    case 'already-absent':
      if (outcome.deletedByAttempt !== undefined) {
        return `Host ${key} was deleted by attempt ${outcome.deletedByAttempt} of this workflow run${unfinished ? `, but ${unfinished}` : '; nothing was deleted now'}.`;
      }
      return `Host ${key} was already gone from Immuta; nothing was deleted${unfinished ? `, and ${unfinished}` : ''}.`;
  }
}

/** Where a script run stopped: Snowflake (at statement 3 of 6). */
function stopPlace(run: ScriptRun): string {
  const at = stoppedAt(run);
  const name = PLATFORM_NAMES[run.platform];
  return at === undefined
    ? name
    : `${name} (it stopped at statement ${at + 1} of ${run.statements.length})`;
}

/** The job summary, as Markdown. Pure, so every shape of outcome is tested without a runner. */
/** `showScript` false (summary-script: false) leaves the script's text out: the summary outlives the artifact. */
export function summaryMarkdown(
  outcome: Outcome,
  redact: Redactor = NO_SECRETS,
  showScript = true
): string {
  const rows: [string, string][] = [
    ['Host', hostCell(outcome)],
    [
      'Integration',
      outcome.integrationId === undefined ? 'unknown' : String(outcome.integrationId)
    ],
    ['Status', `\`${hostStatus(outcome)}\``],
    ['Deleted', deletedCell(outcome)]
  ];
  if (outcome.objectState !== undefined) {
    rows.push(['State in Immuta', markdownText(outcome.objectState)]);
  }
  if (outcome.kept) rows.push(['Script file', markdownCode(outcome.kept.path)]);
  if (outcome.artifact) rows.push(['Artifact', artifactCell(outcome.artifact)]);

  const parts = [
    `## Immuta: ${headline(outcome, markdownCode)}`,
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
    '',
    '### Next step',
    '',
    nextStep(outcome)
  ];
  if (outcome.scriptRun !== undefined) {
    parts.push('', scriptRunMarkdown(outcome.scriptRun, redact, showScript));
  }
  if (outcome.script !== undefined && showScript) {
    parts.push('', scriptBlock(outcome.script, redact));
  }
  return parts.join('\n') + '\n';
}

/**
 * What the user does after this step. It follows what became of Immuta's third step: nothing
 * left when the script ran, the rest of it when it failed, the whole of it by hand otherwise.
 */
export function nextStep(
  outcome: Pick<
    Outcome,
    'status' | 'technology' | 'script' | 'kept' | 'artifact' | 'scriptRun' | 'deletedByAttempt'
  >
): string {
  const run = outcome.scriptRun;
  if (run !== undefined && run.status !== 'skipped') return afterScriptRun(outcome, run);
  if (outcome.deletedByAttempt !== undefined && outcome.script !== undefined) {
    const run = byHand(outcome);
    return `Attempt ${outcome.deletedByAttempt} of this workflow run deleted the host. If its cleanup script has not run yet, ${run[0]!.toLowerCase()}${run.slice(1)}`;
  }
  if (outcome.status === 'already-absent' && outcome.script === undefined) {
    return outcome.deletedByAttempt !== undefined
      ? `Nothing left to do: attempt ${outcome.deletedByAttempt} of this workflow run deleted the host, which has no cleanup script.`
      : 'Nothing was deleted, and nothing says this workflow run deleted the host: if the key is misspelt, correct it. If an earlier run deleted the host, run the cleanup script that run kept (its artifact or file), if that was not done yet.';
  }
  if (outcome.script === undefined) {
    return hasNoScript(outcome.technology)
      ? 'AWS Lake Formation hosts have no cleanup script: nothing more to run.'
      : 'Immuta gave no cleanup script for this host.';
  }
  if (outcome.status === 'dry-run') {
    const then =
      run === undefined
        ? `then: ${byHand(outcome)}`
        : `the step then runs the cleanup script in ${PLATFORM_NAMES[run.platform]} itself (run-script), as listed below.`;
    return `Dry run: nothing was deleted${run === undefined ? '' : ' and nothing ran'}. Run again with \`dry-run: false\` to delete the host; ${then}`;
  }
  return byHand(outcome);
}

/** The next step once the action ran the script (or tried to). */
function afterScriptRun(outcome: Pick<Outcome, 'kept' | 'artifact'>, run: ScriptRun): string {
  const name = PLATFORM_NAMES[run.platform];
  if (run.status === 'ran') {
    return `Nothing left to do: the host is deregistered and the cleanup script ran in ${name}.`;
  }
  if (run.status === 'already-ran') {
    return `Nothing left to do: the host is deregistered, and an earlier attempt of this workflow run ran its cleanup script in ${name} (below).`;
  }
  const { artifact } = outcome;
  const stopped = stoppedAt(run);
  const doubt = stopped !== undefined && run.statements[stopped]!.outcome === 'in-doubt';
  const fix = doubt ? '' : 'fix what the error below names, then ';
  const ran =
    stopped === undefined
      ? ''
      : `, ${doubt ? `from statement ${stopped + 1} or ${stopped + 2} on (check in ${name} whether statement ${stopped + 1} ran)` : `from statement ${stopped + 1} on`} (${stopped === 0 ? 'none ran' : stopped === 1 ? 'statement 1 ran' : `statements 1 to ${stopped} ran`})`;
  const opening =
    stopped === undefined
      ? `The host is deregistered, but the cleanup script did not finish in ${name}`
      : `The host is deregistered, but the cleanup script stopped in ${name} at statement ${stopped + 1}${doubt ? ', which may or may not have run (see the error below)' : ''}`;
  if (artifact === undefined) {
    // Nothing a re-run could go on from: the script's record and text went with the runner.
    const where = `shown below and in this step's \`script\` output${outcome.kept ? ` (the file ${markdownCode(outcome.kept.path)} is gone once a hosted runner's job ends)` : ''}`;
    return `${opening}: ${fix}run the rest of the script by hand in ${name} as a privileged user${ran}; it is ${where}. Without an artifact (upload-artifact: false) a re-run cannot go on.`;
  }
  // The artifact outlives the job and a re-run reads it; a hosted runner's files do not.
  const goesOn = doubt
    ? `asks ${name} how statement ${stopped! + 1} ended, then goes on from there`
    : stopped === undefined
      ? 'goes on where it stopped'
      : `goes on at statement ${stopped + 1}`;
  return `${opening}: ${fix}use **Re-run failed jobs**: the re-run finds the host gone, takes the script from artifact ${markdownCode(artifact.artifactName)} and ${goesOn}. Or run the rest of the script by hand in ${name} as a privileged user${ran}, from artifact ${markdownCode(artifact.artifactName)}.`;
}

/** Immuta's third step by hand, for the host's platform. */
function byHand(outcome: Pick<Outcome, 'technology' | 'kept' | 'artifact'>): string {
  const saved = [
    outcome.kept ? `saved at ${markdownCode(outcome.kept.path)}` : undefined,
    outcome.artifact ? `in artifact ${markdownCode(outcome.artifact.artifactName)}` : undefined
  ].filter((w) => w !== undefined);
  const where = saved.length > 0 ? ` (${saved.join(' and ')})` : '';
  return /databricks/i.test(outcome.technology ?? '')
    ? `Run the cleanup script${where} in Databricks as a metastore admin, in a SQL warehouse or notebook, to remove what Immuta created there.`
    : /snowflake/i.test(outcome.technology ?? '')
      ? `Run the cleanup script${where} in Snowflake as a user with ACCOUNTADMIN, for example in a later step with \`snow sql -x -f "$SCRIPT_PATH" --enable-templating NONE\`, SCRIPT_PATH being this step's script-path output, to remove what Immuta created there.`
      : `Run the cleanup script${where} in the data platform as a privileged user, to remove what Immuta created there.`;
}

/** The artifact, linked to the run's page when the run is known. */
function artifactCell({ artifactId, artifactUrl, artifactName }: KeptArtifact): string {
  const id = artifactUrl ? `[${artifactId}](${artifactUrl})` : String(artifactId);
  return `${markdownCode(artifactName)} (ID ${id})`;
}

function hostCell(outcome: Outcome): string {
  const details = [outcome.technology, outcome.hostname].filter((d) => d !== undefined);
  return `${markdownCode(outcome.connectionKey)}${details.length ? ` (${markdownText(details.join(', '))})` : ''}`;
}

function deletedCell(outcome: Outcome): string {
  if (outcome.deletedByAttempt !== undefined) {
    return `not now: attempt ${outcome.deletedByAttempt} of this workflow run deleted it`;
  }
  if (!outcome.deleted) return 'no';
  return outcome.childCount === undefined
    ? 'yes (child count unknown)'
    : `yes, with ${outcome.childCount} child object${outcome.childCount === 1 ? '' : 's'}`;
}

/**
 * The script folded under `title` (already safe as HTML), or its head when it is over `limit`,
 * as Immuta sent it but for any secret a hostile server put in it. Only the shown part is
 * redacted; `redactHead` drops the end of a cut head, where a secret could have been split.
 */
export function scriptBlock(
  script: string,
  redact: Redactor,
  title = 'Cleanup script',
  limit = SUMMARY_SCRIPT_LIMIT
): string {
  const lines = lineCount(script);
  const whole = script.length <= limit;
  const head = redact.redactHead(script.slice(0, limit), whole);
  const shown = whole
    ? head
    : `${head}\n-- … truncated: ${script.length - head.length} more characters are in the file and the artifact`;
  // A fence longer than any backtick run in the script, so the script cannot close it.
  const longest = Math.max(2, ...[...shown.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return [
    `<details><summary>${title} (${lines} line${lines === 1 ? '' : 's'})</summary>`,
    '',
    `${fence}sql`,
    shown.replace(/\n$/, ''),
    fence,
    '',
    '</details>'
  ].join('\n');
}

const OUTCOME_TEXT: Record<ScriptRun['statements'][number]['outcome'], string> = {
  ran: 'ran',
  'ran-before': 'ran in an earlier attempt',
  failed: '**failed**',
  cancelled: '**cancelled**',
  'not-run': 'not run',
  'in-doubt': '**in doubt**'
};

/** Step 3 in the summary: each statement, what became of it, and where a failure stopped. */
export function scriptRunMarkdown(
  run: ScriptRun,
  redact: Redactor = NO_SECRETS,
  showScript = true
): string {
  const name = PLATFORM_NAMES[run.platform];
  const heading =
    run.status === 'ran'
      ? `### Cleanup script in ${name}: ran (${run.statementsRun ?? run.statements.length} statements, ${(run.durationMs / 1000).toFixed(1)} s)`
      : run.status === 'failed'
        ? `### Cleanup script in ${name}: failed`
        : run.status === 'already-ran'
          ? `### Cleanup script in ${name}: already ran`
          : `### Cleanup script in ${name}: not run`;
  const lines = [heading, ''];
  if (run.note) lines.push(markdownText(run.note), '');
  if (run.status === 'failed') {
    // The error quotes the statement, and the platform's message may name its users and roles:
    // with summary-script false they stay in the log, as the script stays in the file.
    const failedAt = stoppedAt(run);
    const why = showScript
      ? markdownText(run.error ?? 'No reason was given.')
      : `${failedAt !== undefined ? `Statement ${failedAt + 1} of ${run.statements.length} did not run to its end.` : 'The script stopped.'} What it was and the platform's message are in the step's log (summary-script is false).`;
    lines.push(`${why} The host is already deregistered in Immuta: see the next step above.`, '');
  }
  const shown = run.statements.slice(0, SUMMARY_STATEMENTS);
  if (shown.length > 0) {
    lines.push('| # | statement | result | duration |', '|---|---|---|---|');
    shown.forEach((s, i) => {
      const duration = s.durationMs === undefined ? '' : `${(s.durationMs / 1000).toFixed(1)} s`;
      const text = showScript ? markdownCode(excerpt(redact.redactHead(s.text, true), 100)) : '';
      lines.push(`| ${i + 1} | ${text} | ${OUTCOME_TEXT[s.outcome]} | ${duration} |`);
    });
    if (run.statements.length > shown.length) {
      lines.push(
        '',
        `${run.statements.length - shown.length} more statements are not listed here.`
      );
    }
  }
  return lines.join('\n');
}

/** The first statement that did not run, in a run that stopped; undefined when none did. */
export function stoppedAt(run: ScriptRun): number | undefined {
  const at = run.statements.findIndex((s) => s.outcome !== 'ran' && s.outcome !== 'ran-before');
  return at === -1 ? undefined : at;
}

/** How many statements the summary lists, and how much of each. */
const SUMMARY_STATEMENTS = 200;
