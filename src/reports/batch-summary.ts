/**
 * The job summary of a batch (or an applied plan), as Markdown, and its log line. It stays
 * under GitHub's 1 MiB limit for any number of hosts: counts first, a row per host, then the
 * scripts folded, read from their files one at a time until the budget is spent.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BatchOutcome } from '../flow/batch.js';
import type { HostRecord, HostStatus } from './record.js';
import { excerpt, htmlText, markdownCode, markdownText } from '../action/escape.js';
import { scriptBlock, type Redactor } from './summary.js';
import { batchCounts } from './outputs.js';

/** GitHub refuses a job summary over 1 MiB; this leaves room for the rest of the job's steps. */
export const SUMMARY_BUDGET = 900 * 1024;

const STATUS_WORDS: Record<HostStatus, string> = {
  deregistered: 'deregistered',
  'dry-run': 'dry run',
  'already-absent': 'already absent',
  failed: 'failed',
  kept: 'kept, not deleted',
  'not-started': 'not started'
};

/** A host's status in words: one an earlier attempt deleted, or this one may have, says so. */
function statusWords(r: HostRecord): string {
  if (r.deletedByAttempt !== undefined) return `deleted by attempt ${r.deletedByAttempt}`;
  return r.mayHaveDeleted ? 'failed, may be deleted' : STATUS_WORDS[r.status];
}

function tally(records: readonly HostRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(statusWords(r), (counts.get(statusWords(r)) ?? 0) + 1);
  return [...counts].map(([words, n]) => `${n} ${words}`).join(', ');
}

export function headline(outcome: BatchOutcome): string {
  const n = outcome.records.length;
  const what = `${n} host${n === 1 ? '' : 's'}: ${tally(outcome.records)}`;
  return outcome.refused ? `${what}. Nothing was deleted: ${outcome.refused}.` : `${what}.`;
}

/** The plan a dry run wrote and its SHA-256, which a reviewer approves and plan-sha256 holds. */
export function planLine(planPath: string, planSha256: string): string {
  return `Plan: ${markdownCode(path.basename(planPath))}, SHA-256 ${markdownCode(planSha256)} (the plan-sha256 output; give it to the apply as plan-sha256 so that only this file is applied).`;
}

/** The host, with its technology and hostname as Immuta recorded them. */
function hostCell(r: HostRecord): string {
  const details = [r.technology, r.hostname].filter((d) => d !== undefined);
  return `${markdownCode(excerpt(r.connectionKey, 200))}${details.length ? ` (${markdownText(excerpt(details.join(', '), 200))})` : ''}`;
}

/**
 * What a reviewer needs to know of a host beyond its status: the error, and for a host already
 * gone whether an earlier attempt of this run deleted it or nothing says so (a misspelt key?).
 */
function note(r: HostRecord, outcome: BatchOutcome): string {
  // Said first: the error's own "may have been deleted" can fall past the cut.
  if (r.mayHaveDeleted) return `${MAY_HAVE_DELETED} ${excerpt(r.error ?? '', 300)}`;
  if (r.error) return excerpt(r.error, 300);
  if (r.status !== 'already-absent') return '';
  if (r.deletedByAttempt !== undefined) {
    return `Attempt ${r.deletedByAttempt} of this workflow run deleted it${r.scriptFile ? ` and kept its script${outcome.artifact ? ' in the artifact' : ''}` : ''}.`;
  }
  return outcome.plan
    ? 'Gone from Immuta before this apply: an earlier apply, or someone by hand, deleted it.'
    : 'Immuta has no host with this key, and nothing says this run deleted it: if the key is misspelt, correct it.';
}

/** Why a host's delete failed yet the host may be gone, for its note and the step's error. */
export const MAY_HAVE_DELETED =
  'Immuta may have deleted it (its delete was sent, and what became of it could not be told): check it in Immuta.';

/** What the user does next, from what became of the hosts. */
function batchNextStep(outcome: BatchOutcome): string {
  if (outcome.refused !== undefined) {
    return 'Nothing was deleted: fix what the heading says, then run again.';
  }
  const { failed } = batchCounts(outcome.records);
  const where = outcome.artifact
    ? `from artifact ${markdownCode(outcome.artifact.artifactName)}`
    : `from the folder ${markdownCode(outcome.folder)} (gone once a hosted runner's job ends) or this summary`;
  const withScripts = outcome.records.filter(
    (r) => r.scriptFile && (r.deleted || r.deletedByAttempt !== undefined)
  );
  // A host whose delete's outcome is unknown may be gone: its script may be needed now.
  const inDoubt = outcome.records.filter((r) => r.mayHaveDeleted);
  const doubtScripts = inDoubt.filter((r) => r.scriptFile);
  const run = `in its platform as a privileged user (Snowflake: a user with ACCOUNTADMIN; Databricks: a metastore admin), ${where}, if that was not done yet.`;
  const scripts = [
    withScripts.length === 0
      ? doubtScripts.length === 0
        ? 'No deleted host has a cleanup script to run.'
        : ''
      : `Run the cleanup script of ${withScripts.length === 1 ? `the deleted host (${markdownCode(withScripts[0]!.connectionKey)})` : `each of the ${withScripts.length} deleted hosts`} ${run}`,
    doubtScripts.length === 0
      ? ''
      : `${withScripts.length === 0 ? 'Run' : 'Then run'} the cleanup script of ${hostList(doubtScripts)} once Immuta shows ${doubtScripts.length === 1 ? 'it' : 'them'} gone, ${run}`
  ]
    .filter(Boolean)
    .join(' ');
  if (outcome.dryRun) {
    return outcome.planPath
      ? 'Dry run: nothing was deleted. To delete these hosts, apply the plan: the plan file as `plan`, and its SHA-256 above as `plan-sha256`. Then run each cleanup script.'
      : 'Dry run: nothing was deleted. Run again with `dry-run: false` to delete these hosts; then run each cleanup script.';
  }
  const notDeleted = failed - inDoubt.length;
  if (failed === 0) return scripts;
  const rerun = outcome.artifact
    ? 'use **Re-run failed jobs**: the hosts this attempt deleted count as deleted (the artifact holds their record), and the rest are deleted then'
    : 'run again: with upload-artifact: false a re-run cannot tell the hosts this attempt deleted from missing ones, so under if-missing: error it fails on them';
  const doubt =
    inDoubt.length === 0
      ? ''
      : `Whether ${hostList(inDoubt)} ${inDoubt.length === 1 ? 'was' : 'were'} deleted is unknown: ${inDoubt.length === 1 ? 'its delete was' : 'their deletes were'} sent, and what became of ${inDoubt.length === 1 ? 'it' : 'them'} could not be told. Check in Immuta${notDeleted === 0 ? `; for a host still there, ${rerun}` : ''}.`;
  const failures =
    notDeleted === 0
      ? ''
      : `${notDeleted} host${notDeleted === 1 ? ' was' : 's were'} not deleted: fix what the notes name, then ${rerun}.`;
  return [failures, doubt, scripts].filter(Boolean).join(' ');
}

/** Hosts named in a sentence: every key up to five, then how many more. */
function hostList(records: readonly HostRecord[]): string {
  const keys = records.slice(0, 5).map((r) => markdownCode(excerpt(r.connectionKey, 200)));
  const more = records.length > 5 ? ` and ${records.length - 5} more (in the table)` : '';
  return records.length === 1 ? `host ${keys[0]}` : `hosts ${keys.join(', ')}${more}`;
}

/** The summary, built to the budget: whatever does not fit is named, never cut mid-row. */
export async function batchSummary(
  outcome: BatchOutcome,
  redact: Redactor,
  showScripts = true
): Promise<string> {
  const parts: string[] = [`## Immuta: ${markdownText(headline(outcome))}`, ''];
  let size = Buffer.byteLength(parts.join('\n'));
  const add = (text: string): boolean => {
    const bytes = Buffer.byteLength(text) + 1;
    if (size + bytes > SUMMARY_BUDGET) return false;
    parts.push(text);
    size += bytes;
    return true;
  };
  if (outcome.planPath !== undefined && outcome.planSha256 !== undefined) {
    add(planLine(outcome.planPath, outcome.planSha256));
    add('');
  }
  if (outcome.changes.length > 0) {
    add('Not as planned, so nothing was deleted:');
    add('');
    for (const change of outcome.changes) add(`- ${markdownText(change)}`);
    add('');
  }
  add('### Next step');
  add('');
  add(batchNextStep(outcome));
  add('');
  add('| host | integration | status | child objects | note |');
  add('|---|---|---|---|---|');
  let rows = 0;
  for (const r of outcome.records) {
    const row = `| ${hostCell(r)} | ${r.integrationId ?? ''} | ${statusWords(r)} | ${r.childCount ?? ''} | ${markdownText(note(r, outcome))} |`;
    if (!add(row)) break;
    rows++;
  }
  if (rows < outcome.records.length) {
    add('');
    add(
      `${outcome.records.length - rows} more hosts are not listed here, to keep the summary under GitHub's limit; the report (${markdownCode(outcome.reportPath)}) has every one.`
    );
    return parts.join('\n') + '\n';
  }
  const withScripts = outcome.records.filter((r) => r.scriptFile);
  if (withScripts.length === 0 || !showScripts) return parts.join('\n') + '\n';
  add('');
  add(
    `### Cleanup scripts (in ${markdownCode(outcome.folder)}${outcome.artifact ? ` and artifact ${outcome.artifact.artifactId}` : ''})`
  );
  let shown = 0;
  for (const r of withScripts) {
    const script = await fs
      .readFile(path.join(outcome.folder, r.scriptFile!), 'utf8')
      .catch(() => undefined);
    if (script === undefined) continue;
    if (
      !add(`\n${scriptBlock(script, redact, htmlText(excerpt(r.connectionKey, 200)), 16 * 1024)}`)
    ) {
      break;
    }
    shown++;
  }
  if (shown < withScripts.length) {
    add('');
    add(
      `${withScripts.length - shown} more scripts are not shown here, to keep the summary under GitHub's limit; they are in the folder${outcome.artifact ? ' and the artifact' : ''}.`
    );
  }
  return parts.join('\n') + '\n';
}
