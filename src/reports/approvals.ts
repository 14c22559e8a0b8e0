/**
 * Who approved, in the job summary and the log: the run's review history as the report keeps
 * it, every value escaped for where it is shown (a reviewer's comment is anyone's text).
 */
import { markdownCode, markdownText } from '../action/escape.js';
import type { ApprovalRecord } from '../approvals/review-history.js';

/** How many reviews the summary lists; the report has them all. */
const SUMMARY_REVIEWS = 50;

/** The summary's section on who approved. */
export function approvalsMarkdown(record: ApprovalRecord, runId: string): string {
  const lines = [`### Who approved: the review history of workflow run ${markdownText(runId)}`, ''];
  if (record.reviews === undefined) {
    lines.push(
      `It could not be read (${markdownText(record.error ?? 'no reason given')}), so this summary and the report do not say who approved. The step went on.`,
      ''
    );
    return lines.join('\n');
  }
  if (record.reviews.length === 0) {
    lines.push(
      'GitHub lists no review for this run: no job of it waited for the required reviewers of an environment.',
      ''
    );
    return lines.join('\n');
  }
  lines.push(
    `As GitHub listed it at ${markdownCode(record.readAt)}, for every job and attempt of the run (GitHub does not say when each review was given):`,
    '',
    '| environment | reviewer | state | comment |',
    '|---|---|---|---|'
  );
  for (const review of record.reviews.slice(0, SUMMARY_REVIEWS)) {
    const environments = review.environments.map(markdownCode).join(', ') || 'none named';
    const comment = review.comment === '' ? '' : markdownText(review.comment);
    lines.push(
      `| ${environments} | ${markdownCode(review.login)} | ${markdownText(review.state)} | ${comment} |`
    );
  }
  if (record.reviews.length > SUMMARY_REVIEWS) {
    lines.push('', `${record.reviews.length - SUMMARY_REVIEWS} more reviews are in the report.`);
  }
  lines.push('');
  return lines.join('\n');
}

/** One line for the log: who approved which environment. */
export function approvalsLine(record: ApprovalRecord): string {
  const reviews = record.reviews ?? [];
  if (reviews.length === 0) return 'The review history of this workflow run lists no review.';
  const said = reviews
    .slice(0, 10)
    .map((r) => `${r.environments.join(', ') || 'no environment'}: ${r.state} by ${r.login}`)
    .join('; ');
  return `The review history of this workflow run: ${said}${reviews.length > 10 ? `; and ${reviews.length - 10} more (the report has them)` : ''}.`;
}
