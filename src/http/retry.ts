/** When and how long to wait before trying a request again. Pure: time and chance are passed in. */

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  /** Cap on one wait, also on a Retry-After the server asks for, so a step never idles for long. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Omit<RetryPolicy, 'maxAttempts'> = {
  baseDelayMs: 1000,
  maxDelayMs: 60_000
};

const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);

/** Answers that say nothing about whether the request was carried out: a gateway gave up on it. */
const UNSETTLED_STATUSES: ReadonlySet<number> = new Set([408, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUSES.has(status);
}

/** Whether the server may have acted on a request although this answer does not say so. */
export function isUnsettledStatus(status: number): boolean {
  return UNSETTLED_STATUSES.has(status);
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Exponential backoff with jitter (each wait between half and all of base * 2^(attempt-1)), so
 * a matrix of jobs that failed together does not retry in lockstep; a Retry-After is honoured as
 * the least wait.
 */
export function delayBeforeRetry(
  attempt: number,
  policy: RetryPolicy,
  random: number,
  retryAfterMs?: number
): number {
  const exponential = policy.baseDelayMs * 2 ** (attempt - 1);
  const jittered = exponential * (0.5 + 0.5 * random);
  return Math.round(Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0)));
}
