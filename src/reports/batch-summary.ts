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

function tally(records: readonly HostRecord[]): string {
  const counts = new Map<HostStatus, number>();
  for (const r of records) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${STATUS_WORDS[status]}`).join(', ');
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
  add('| host | integration | status | child objects | note |');
  add('|---|---|---|---|---|');
  let rows = 0;
  for (const r of outcome.records) {
    const note = r.error ? markdownText(excerpt(r.error, 300)) : '';
    const row = `| ${markdownCode(excerpt(r.connectionKey, 200))} | ${r.integrationId ?? ''} | ${STATUS_WORDS[r.status]} | ${r.childCount ?? ''} | ${note} |`;
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
