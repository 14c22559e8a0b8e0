import * as core from '@actions/core';
import type { Outcome } from './deregister.js';
import { hasNoScript } from './immuta/responses.js';
import type { IfMissing } from './inputs.js';
import { errorText } from './error-text.js';

/** How much of the script the summary shows; the whole script is in the file and artifact. */
export const SUMMARY_SCRIPT_LIMIT = 64 * 1024;

/** Sets the outcome's outputs, logs it and writes the job summary. */
export async function report(outcome: Outcome, ifMissing: IfMissing): Promise<void> {
  core.setOutput('deleted', String(outcome.deleted));
  core.setOutput('child-count', outcome.childCount === undefined ? '' : String(outcome.childCount));
  core.setOutput('status', outcome.status);

  const line = headline(outcome);
  if (outcome.status === 'already-absent' && outcome.absentBecause) {
    if (ifMissing === 'warn') core.warning(`${outcome.absentBecause}.`);
    else core.info(`${outcome.absentBecause}.`);
  }
  core.info(line);
  try {
    await core.summary.addRaw(summaryMarkdown(outcome), true).write();
  } catch (error) {
    // The host is already deleted and the outputs set: a summary that cannot be written must
    // not turn that into a failed step.
    core.warning(`The job summary could not be written: ${errorText(error)}`);
  }
}

export function headline(outcome: Outcome): string {
  const key = `'${outcome.connectionKey}'`;
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
export function summaryMarkdown(outcome: Outcome): string {
  const rows: [string, string][] = [
    ['Host', hostCell(outcome)],
    [
      'Integration',
      outcome.integrationId === undefined ? 'unknown' : String(outcome.integrationId)
    ],
    ['Status', `\`${outcome.status}\``],
    ['Deleted', deletedCell(outcome)]
  ];
  if (outcome.objectState !== undefined) rows.push(['State in Immuta', cell(outcome.objectState)]);
  if (outcome.kept) {
    rows.push(['Script file', code(outcome.kept.path)]);
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
    `## Immuta: ${headline(outcome)}`,
    '',
    '| | |',
    '|---|---|',
    ...rows.map(([name, value]) => `| ${name} | ${value} |`),
    '',
    '### Next step',
    '',
    nextStep(outcome)
  ];
  if (outcome.script !== undefined) parts.push('', scriptBlock(outcome.script));
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
  const where = outcome.kept ? ` (saved at ${code(outcome.kept.path)})` : '';
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
  return `${code(outcome.connectionKey)}${details.length ? ` (${cell(details.join(', '))})` : ''}`;
}

function deletedCell(outcome: Outcome): string {
  if (!outcome.deleted) return 'no';
  return outcome.childCount === undefined
    ? 'yes (child count unknown)'
    : `yes, with ${outcome.childCount} child object${outcome.childCount === 1 ? '' : 's'}`;
}

/** Lines as a person counts them: a final line break does not start another. */
export function lineCount(script: string): number {
  return script.replace(/\r?\n$/, '').split('\n').length;
}

function scriptBlock(script: string): string {
  const lines = lineCount(script);
  const shown =
    script.length > SUMMARY_SCRIPT_LIMIT
      ? `${script.slice(0, SUMMARY_SCRIPT_LIMIT)}\n-- … truncated: ${script.length - SUMMARY_SCRIPT_LIMIT} more characters are in the file and the artifact`
      : script;
  // A fence longer than any backtick run in the script, so the script cannot close it.
  const longest = Math.max(2, ...[...shown.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return [
    `<details><summary>Cleanup script (${lines} line${lines === 1 ? '' : 's'})</summary>`,
    '',
    `${fence}sql`,
    shown.replace(/\n$/, ''),
    fence,
    '',
    '</details>'
  ].join('\n');
}

/** Text for a table cell: pipes would end the cell, line breaks the row. */
function cell(value: string): string {
  return value.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

function code(value: string): string {
  const longest = Math.max(0, ...[...value.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${cell(value)}${pad}${ticks}`;
}
