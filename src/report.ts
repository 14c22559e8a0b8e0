import * as runner from './runner.js';
import { lineCount, type Outcome } from './outcome.js';
import { hasNoScript } from './immuta/responses.js';
import type { IfMissing } from './inputs.js';
import { errorText } from './error-text.js';
import { excerpt, markdownCode, markdownText } from './escape.js';
import { log } from './log.js';
import type { Secrets } from './secrets.js';
import { PLATFORM_NAMES, type ScriptRun } from './warehouse/types.js';

/** How much of the script the summary shows; the whole script is in the file and artifact. */
export const SUMMARY_SCRIPT_LIMIT = 64 * 1024;

/** What the summary needs of the run's secrets. */
export type Redactor = Pick<Secrets, 'redactHead'>;

const NO_SECRETS: Redactor = { redactHead: (head) => head };

export async function report(
  outcome: Outcome,
  ifMissing: IfMissing,
  redact: Redactor,
  showScript = true
): Promise<void> {
  runner.setOutput('deleted', String(outcome.deleted));
  runner.setOutput(
    'child-count',
    outcome.childCount === undefined ? '' : String(outcome.childCount)
  );
  const run = outcome.scriptRun;
  const failed = run?.status === 'failed';
  runner.setOutput('status', failed ? 'failed' : outcome.status);
  setScriptOutputs(run);

  if (outcome.status === 'already-absent' && outcome.absentBecause) {
    if (ifMissing === 'warn') log.warning(`${outcome.absentBecause}.`);
    else log.info(`${outcome.absentBecause}.`);
  }
  log.info(headline(outcome, (key) => `'${key}'`));
  await writeSummary(summaryMarkdown(outcome, redact, showScript));
  if (failed) runner.setFailed(scriptFailure(outcome));
}

/** Sets and reports the step's outputs; the script outputs say skipped without a run. */
export function setScriptOutputs(run: ScriptRun | undefined): void {
  runner.setOutput('script-status', run?.status ?? 'skipped');
  runner.setOutput(
    'statements-run',
    run === undefined ? '0' : run.statementsRun === undefined ? '' : String(run.statementsRun)
  );
}

/** A failed script run: where it stopped, and that the host is gone but the script is kept. */
export function scriptFailure(outcome: Outcome): string {
  const run = outcome.scriptRun!;
  const where = [
    outcome.kept ? `the file ${outcome.kept.path}` : undefined,
    outcome.kept?.artifactId !== undefined ? `artifact ID ${outcome.kept.artifactId}` : undefined,
    run.note
  ].filter(Boolean);
  const stopped = run.statements.findIndex((s) => s.outcome === 'failed');
  const from = stopped >= 0 ? `, from statement ${stopped + 1} on` : '';
  return `Running the cleanup script in ${PLATFORM_NAMES[run.platform]} failed: ${run.error ?? 'no reason given'} Host '${outcome.connectionKey}' is already deregistered in Immuta; the script is kept (${where.join('; ') || 'see the summary'}), ready to run by hand${from}.`;
}

/**
 * A failed step still says what it did: `status` is failed and `deleted` says whether this run
 * deleted the host before the failure, so `if: failure()` steps can read both.
 */
export async function reportFailure(message: string, deleted: boolean): Promise<void> {
  runner.setOutput('status', 'failed');
  runner.setOutput('deleted', String(deleted));
  runner.setOutput('child-count', '');
  setScriptOutputs(undefined);
  runner.setFailed(message);
  await writeSummary(failureMarkdown(message, deleted));
}

/** Appends to the job summary; one that cannot be written is a warning, never a failed step. */
export async function writeSummary(markdown: string): Promise<void> {
  try {
    await runner.appendSummary(markdown);
  } catch (error) {
    // The outcome is settled and the outputs set: a summary that cannot be written must not
    // turn that into a failed step.
    log.warning(`The job summary could not be written: ${errorText(error)}`);
  }
}

export function failureMarkdown(message: string, deleted: boolean): string {
  return [
    '## Immuta: the step failed',
    '',
    markdownText(message),
    '',
    deleted
      ? 'The host **was deleted** in Immuta before the failure.'
      : 'This step did not delete the host.',
    ''
  ].join('\n');
}

/** One sentence on what happened; `quote` renders the connection key for where it is shown. */
export function headline(outcome: Outcome, quote: (key: string) => string): string {
  const key = quote(outcome.connectionKey);
  switch (outcome.status) {
    case 'deregistered':
      return outcome.childCount === undefined
        ? `Deregistered host ${key}; Immuta did not say how many child objects went with it.`
        : `Deregistered host ${key} and its ${outcome.childCount} child object${outcome.childCount === 1 ? '' : 's'}.`;
    case 'dry-run':
      return `Dry run: host ${key} was not deleted.`;
    case 'already-absent':
      return `Host ${key} was already gone from Immuta; nothing was deleted.`;
  }
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
    ['Status', `\`${outcome.status}\``],
    ['Deleted', deletedCell(outcome)]
  ];
  if (outcome.objectState !== undefined) {
    rows.push(['State in Immuta', markdownText(outcome.objectState)]);
  }
  if (outcome.kept) {
    rows.push(['Script file', markdownCode(outcome.kept.path)]);
    if (outcome.kept.artifactId !== undefined) {
      rows.push([
        'Artifact',
        outcome.kept.artifactUrl
          ? `[${outcome.kept.artifactId}](${outcome.kept.artifactUrl})`
          : String(outcome.kept.artifactId)
      ]);
    }
  }

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

/** What the user does after this step: Immuta's third step, run by a privileged user. */
export function nextStep(
  outcome: Pick<Outcome, 'status' | 'technology' | 'script' | 'kept'>
): string {
  if (outcome.status === 'already-absent' && outcome.script === undefined) {
    return 'Nothing was deleted. If an earlier run deleted the host, run the cleanup script that run kept (its artifact or file), if that was not done yet.';
  }
  if (outcome.script === undefined) {
    return hasNoScript(outcome.technology)
      ? 'AWS Lake Formation hosts have no cleanup script: nothing more to run.'
      : 'Immuta gave no cleanup script for this host.';
  }
  const where = outcome.kept ? ` (saved at ${markdownCode(outcome.kept.path)})` : '';
  const run = /databricks/i.test(outcome.technology ?? '')
    ? `Run the cleanup script${where} in Databricks as a metastore admin, in a SQL warehouse or notebook, to remove what Immuta created there.`
    : /snowflake/i.test(outcome.technology ?? '')
      ? `Run the cleanup script${where} in Snowflake as a user with ACCOUNTADMIN, for example in a later step with \`snow sql -x -f "$SCRIPT_PATH" --enable-templating NONE\`, SCRIPT_PATH being this step's script-path output, to remove what Immuta created there.`
      : `Run the cleanup script${where} in the data platform as a privileged user, to remove what Immuta created there.`;
  return outcome.status === 'dry-run'
    ? `Dry run: nothing was deleted. Run again with \`dry-run: false\` to delete the host; then: ${run}`
    : run;
}

function hostCell(outcome: Outcome): string {
  const details = [outcome.technology, outcome.hostname].filter((d) => d !== undefined);
  return `${markdownCode(outcome.connectionKey)}${details.length ? ` (${markdownText(details.join(', '))})` : ''}`;
}

function deletedCell(outcome: Outcome): string {
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
  'ran-before': 'ran before',
  failed: '**failed**',
  'not-run': 'not run',
  unknown: 'unknown'
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
        : `### Cleanup script in ${name}: not run`;
  const lines = [heading, ''];
  if (run.note) lines.push(markdownText(run.note), '');
  if (run.status === 'failed') {
    lines.push(
      `${markdownText(run.error ?? 'No reason was given.')} The host is already deregistered in Immuta: run the rest of the script by hand as a privileged user.`,
      ''
    );
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

/** How many statements the summary lists, and how much of each. */
const SUMMARY_STATEMENTS = 200;
