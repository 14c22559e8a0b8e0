/**
 * Who approved: the workflow run's review history (GET
 * /repos/{owner}/{repo}/actions/runs/{run_id}/approvals, "Get the review history for a workflow
 * run"), read through @actions/github with github-token, for the report and the summary. The
 * answer is trusted only in its documented shape (an array of {environments, state, user,
 * comment}), read up to a cap and within timeout-seconds; every value is a stranger's text
 * (a reviewer writes the comment) and is cut, redacted and escaped where it is shown. A failure
 * to read it is a warning: it never fails the step, and never delays what the step does to
 * Immuta, as the read starts at the beginning and is awaited only for the report.
 */
import { errorText } from '../action/error-text.js';
import { excerpt } from '../action/escape.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';

/** One review of one or more environments' deployments, as GitHub lists it. */
export interface Review {
  readonly login: string;
  /** approved, rejected or pending, as GitHub says. */
  readonly state: string;
  readonly comment: string;
  /** The environments the review was for, by name. */
  readonly environments: readonly string[];
}

/** What the report keeps of the review history. */
export interface ApprovalRecord {
  /** The request, e.g. GET /repos/acme/data-platform/actions/runs/4242/approvals. */
  readonly source: string;
  /**
   * When this step read it: GitHub's answer gives no time for a review, and holds the reviews
   * of every attempt and job of the run.
   */
  readonly readAt: string;
  /** The reviews, oldest first as GitHub lists them; undefined when they could not be read. */
  readonly reviews: readonly Review[] | undefined;
  /** Why they could not be read. */
  readonly error: string | undefined;
}

export interface ReviewHistoryOptions {
  readonly token: string;
  /** GITHUB_API_URL. */
  readonly apiUrl: string;
  /** owner/name. */
  readonly repository: string;
  readonly runId: string;
  readonly timeoutMs: number;
  readonly secrets: Pick<Secrets, 'redact'>;
  readonly log: { debug(message: string): void };
}

/** The review history of a run is small; a larger answer is not the API's. */
const ANSWER_LIMIT = 1024 * 1024;
const MAX_REVIEWS = 1000;
const API_VERSION = '2022-11-28';

type Toolkit = typeof import('./toolkit.js');
type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/** Reads the run's review history; never throws: a failure is said in `error`. */
export async function readReviewHistory(options: ReviewHistoryOptions): Promise<ApprovalRecord> {
  const [owner, repo] = options.repository.split('/') as [string, string];
  const source = `GET /repos/${options.repository}/actions/runs/${options.runId}/approvals`;
  const failed = (why: string): ApprovalRecord => ({
    source,
    readAt: new Date().toISOString(),
    reviews: undefined,
    error: excerpt(options.secrets.redact(why), 400)
  });
  let data: unknown;
  try {
    const started = performance.now();
    const toolkit: Toolkit = await import('./toolkit.js');
    options.log.debug(`Loaded @actions/github in ${Math.round(performance.now() - started)} ms`);
    const proxied = toolkit.defaults.request?.fetch as Fetch | undefined;
    if (proxied === undefined) throw new Error('@actions/github gave no fetch to send it with');
    const octokit = toolkit.getOctokit(options.token, {
      baseUrl: options.apiUrl.replace(/\/+$/, ''),
      userAgent: USER_AGENT,
      // Octokit's own log lines (a deprecation notice quoting a header) would echo a server's
      // text unescaped: it says nothing here.
      log: { debug() {}, info() {}, warn() {}, error() {} },
      request: {
        fetch: capped(proxied, ANSWER_LIMIT),
        signal: AbortSignal.timeout(options.timeoutMs),
        // The review history is GITHUB_API_URL's answer or none: fetch would follow a redirect to
        // another origin and read, without the token, whatever list that server chose. 'error'
        // (not 'manual', whose 3xx Octokit would read as a success, body and all) fails the read.
        redirect: 'error'
      }
    });
    ({ data } = await octokit.rest.actions.getReviewsForRun({
      owner,
      repo,
      run_id: Number(options.runId),
      headers: { 'x-github-api-version': API_VERSION }
    }));
  } catch (error) {
    return failed(whyNotRead(error, options));
  }
  const reviews = readReviews(data, options.secrets);
  if (typeof reviews === 'string') {
    return failed(
      `GitHub's answer is not the review history's documented shape (${reviews}); a proxy or a sign-on page may have answered in its place`
    );
  }
  return { source, readAt: new Date().toISOString(), reviews, error: undefined };
}

/** The reviews in an answer, or what is wrong with it. Values are redacted and cut. */
export function readReviews(data: unknown, secrets: Pick<Secrets, 'redact'>): Review[] | string {
  if (!Array.isArray(data)) {
    return typeof data === 'string'
      ? `text, not JSON: “${excerpt(secrets.redact(data), 80)}”`
      : 'not a list';
  }
  if (data.length > MAX_REVIEWS) return `${data.length} reviews, more than any run has`;
  const shown = (value: string, max: number) => excerpt(secrets.redact(value), max);
  const reviews: Review[] = [];
  for (const [i, entry] of data.entries()) {
    const review = isRecord(entry) ? entry : {};
    const user = isRecord(review.user) ? review.user : {};
    const environments = Array.isArray(review.environments) ? review.environments : undefined;
    if (
      typeof user.login !== 'string' ||
      typeof review.state !== 'string' ||
      environments === undefined ||
      !environments.every((e) => isRecord(e) && typeof e.name === 'string') ||
      (review.comment !== undefined &&
        review.comment !== null &&
        typeof review.comment !== 'string')
    ) {
      return `review ${i + 1} lacks a reviewer's login, a state or its environments`;
    }
    reviews.push({
      login: shown(user.login, 100),
      state: shown(review.state, 40),
      comment: shown(typeof review.comment === 'string' ? review.comment : '', 1000),
      environments: environments.map((e) => shown((e as { name: string }).name, 255))
    });
  }
  return reviews;
}

/** Why the read failed, said for the reader with what to do. */
function whyNotRead(error: unknown, options: ReviewHistoryOptions): string {
  const status = (error as { status?: unknown }).status;
  const said = errorText(error);
  if ((error as Error).name === 'AbortError' || /aborted|timeout/i.test(said)) {
    return `GitHub did not answer within ${options.timeoutMs / 1000} s (timeout-seconds)`;
  }
  if ((error as { cause?: unknown }).cause instanceof Error && /redirect/i.test(said)) {
    return `${options.apiUrl} answered with a redirect (${said}): the review history is read from GITHUB_API_URL itself, never from where a redirect points`;
  }
  switch (status) {
    case 401:
      return `GitHub refused github-token (401: ${said})`;
    case 403:
      return `github-token may not read this run's review history (403: ${said}); give the job \`permissions: actions: read\`, or pass a token that may`;
    case 404:
      return `GitHub answered 404 (${said}): github-token cannot see workflow run ${options.runId} of ${options.repository}, as a token without \`actions: read\` on a private repository cannot`;
  }
  return typeof status === 'number' && status !== 500
    ? `GitHub answered ${status} (${said})`
    : `the request to ${options.apiUrl} failed (${said})`;
}

/**
 * `fetch`, with the answer read whole but no further than `limit` bytes: Octokit reads whatever
 * comes, and a body that never ends would hold the step until timeout-seconds.
 */
function capped(fetch: Fetch, limit: number): Fetch {
  return async (url, init) => {
    const response = await fetch(url, init);
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > limit) {
          await response.body.cancel().catch(() => undefined);
          throw new Error(`its answer is larger than ${limit / 1024} KiB`);
        }
        chunks.push(chunk);
      }
    }
    const empty = [101, 204, 205, 304].includes(response.status);
    return new Response(empty ? null : Buffer.concat(chunks), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers
    });
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
