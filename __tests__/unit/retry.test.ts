import { describe, expect, it } from '@jest/globals';
import { delayBeforeRetry, isRetryableStatus, parseRetryAfter } from '../../src/http/retry.js';

const policy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };

describe('isRetryableStatus', () => {
  it('retries only throttling and gateway failures', () => {
    expect([429, 502, 503, 504].map(isRetryableStatus)).toEqual([true, true, true, true]);
    expect([200, 400, 401, 403, 404, 409, 500].map(isRetryableStatus)).toEqual(
      Array(7).fill(false)
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-26T10:00:00Z');
  it('reads delta-seconds', () => expect(parseRetryAfter('3', now)).toBe(3000));
  it('reads an HTTP date', () =>
    expect(parseRetryAfter('Thu, 26 Nov 2026 10:00:05 GMT', now)).toBe(5000));
  it('treats a past date as no wait', () =>
    expect(parseRetryAfter('Thu, 26 Nov 2026 09:00:00 GMT', now)).toBe(0));
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
  });
});

describe('delayBeforeRetry', () => {
  it('doubles with each attempt, jittered between half and all of it', () => {
    expect(delayBeforeRetry(1, policy, 0)).toBe(500);
    expect(delayBeforeRetry(1, policy, 1)).toBe(1000);
    expect(delayBeforeRetry(2, policy, 0)).toBe(1000);
    expect(delayBeforeRetry(3, policy, 1)).toBe(4000);
  });
  it('waits at least what Retry-After asks', () => {
    expect(delayBeforeRetry(1, policy, 0, 7000)).toBe(7000);
    expect(delayBeforeRetry(3, policy, 1, 10)).toBe(4000);
  });
  it('never waits longer than the cap', () => {
    expect(delayBeforeRetry(20, policy, 1)).toBe(60_000);
    expect(delayBeforeRetry(1, policy, 0, 3_600_000)).toBe(60_000);
  });
});
