/**
 * One request, tried again when that may help: the retry policy, the capped reading of the
 * answer, the timeout over the whole exchange, and the log lines, for every service the action
 * talks to (Immuta, Snowflake, Databricks). What a failure means is for the caller to say.
 */
import { readCapped, type HttpAnswer } from './body.js';
import { classifyFailure } from './failures.js';
import {
  DEFAULT_RETRY_POLICY,
  delayBeforeRetry,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy
} from './retry.js';
import type { Transport } from './transport.js';

export interface Exchange {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: URL;
  /** The request as the log shows it: method and path, never a query or a credential. */
  readonly shown: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  /** The most a successful answer may hold; a longer one is cut there and marked truncated. */
  readonly limit: number;
}

/** How much of an error answer is read: its first kilobytes say all there is to say. */
export const ERROR_READ_LIMIT = 64 * 1024;

/** No answer that can be used came: why, and after how many attempts. */
export class ExchangeFailed extends Error {
  constructor(
    /**
     * local: this side failed (not retried); untrusted: the certificate was refused;
     * no-response: the network; deadline: the call's deadline passed before anything was sent.
     */
    readonly kind: 'local' | 'untrusted' | 'no-response' | 'deadline',
    readonly reason: string,
    readonly attempts: number,
    /** The https:// proxy's TLS failed (its certificate, say), not the target's. */
    readonly proxy = false
  ) {
    super(reason);
    this.name = 'ExchangeFailed';
  }
}

export interface CallerOptions {
  readonly transport: Transport;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly log: { debug(message: string): void; info(message: string): void };
  /** Cuts secrets out of a cause before it is passed on. */
  readonly redact: (text: string) => string;
}

export interface SendOptions {
  readonly attempts?: number;
  /**
   * Told the previous answer (undefined when none came) before a resend; true settles the call
   * without sending it again, and `send` then resolves with `SETTLED`.
   */
  readonly beforeResend?: (previous: HttpAnswer | undefined) => Promise<boolean>;
  /** False for a request that must not be repeated once it may have been carried out. */
  readonly resendLost?: boolean;
  /** Which answers are tried again, when a service's differ from the usual ones. */
  readonly retryable?: (status: number) => boolean;
  /** Bound on one exchange, when this request's differs from the caller's. */
  readonly timeoutMs?: number;
  /**
   * When the whole call must be over (ms since the epoch): no exchange runs past it and no wait
   * before a retry ends past it, whatever a Retry-After asks. When the next try could not start
   * before it, the call ends with the last answer (or, with none, as no response).
   */
  readonly deadline?: number;
  /**
   * Ends the call when aborted (the runner cancelled the job): the exchange in flight is given up
   * as unanswered, and no other try starts. Only for a request that changes nothing (a poll).
   */
  readonly signal?: AbortSignal;
}

/** What `send` resolves with when `beforeResend` settled the call. */
export const SETTLED: HttpAnswer = Object.freeze({
  status: 0,
  contentType: undefined,
  contentEncoding: undefined,
  retryAfter: undefined,
  bytes: Buffer.alloc(0),
  truncated: false
});

export class HttpCaller {
  readonly policy: RetryPolicy;
  /**
   * When a 429 asks the service to be left alone, every request waits, not only the one that got
   * it: the batch's workers share this caller, and a rate limit is the service's, not a request's.
   */
  private pausedUntil = 0;

  constructor(private readonly options: CallerOptions) {
    this.policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: options.maxAttempts };
  }

  /** Sends the exchange (or the one built for each attempt), trying again while that may help. */
  async send(
    build: Exchange | ((attempt: number) => Exchange),
    options: SendOptions = {}
  ): Promise<HttpAnswer> {
    const maxAttempts = options.attempts ?? this.policy.maxAttempts;
    let previous: HttpAnswer | undefined;
    /** Why the last try got no answer, when it got none. */
    let lost: string | undefined;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && options.beforeResend && (await options.beforeResend(previous))) {
        return SETTLED;
      }
      for (
        let wait = this.pausedUntil - Date.now();
        wait > 0;
        wait = this.pausedUntil - Date.now()
      ) {
        if (options.deadline !== undefined && this.pausedUntil >= options.deadline) {
          return outOfTime(attempt, previous, lost);
        }
        await pause(wait, options.signal);
      }
      if (options.signal?.aborted) return outOfTime(attempt, previous, lost);
      const exchange = typeof build === 'function' ? build(attempt) : build;
      const shown = `${exchange.method} ${exchange.shown}`;
      const started = Date.now();
      let reason: string;
      let timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
      if (options.deadline !== undefined) {
        timeoutMs = Math.min(timeoutMs, options.deadline - started);
        if (timeoutMs <= 0) return outOfTime(attempt, previous, lost);
      }
      previous = lost = undefined;
      try {
        previous = await this.once(exchange, timeoutMs, options.signal);
        reason = `answered ${previous.status}`;
        this.options.log.debug(
          `${shown} -> ${previous.status} (attempt ${attempt}/${maxAttempts}, ${Date.now() - started} ms)`
        );
        const retryable = options.retryable ?? isRetryableStatus;
        if (!retryable(previous.status) || attempt >= maxAttempts) return previous;
      } catch (error) {
        if (!(error instanceof ExchangeFailed)) throw error;
        if (error.kind !== 'no-response') throw error;
        lost = error.reason;
        reason = `got no response (${error.reason})`;
        this.options.log.debug(
          `${shown} -> no response: ${error.reason} (attempt ${attempt}/${maxAttempts}, ${Date.now() - started} ms)`
        );
        if (attempt >= maxAttempts || options.resendLost === false) {
          throw new ExchangeFailed('no-response', error.reason, attempt, error.proxy);
        }
      }
      const retryAfterMs = parseRetryAfter(previous?.retryAfter, Date.now());
      const delay = delayBeforeRetry(attempt, this.policy, Math.random(), retryAfterMs);
      if (options.deadline !== undefined && Date.now() + delay >= options.deadline) {
        // The wait would end past the deadline: this answer is the last.
        this.options.log.info(
          `${shown} ${reason}; not tried again: the wait (${(delay / 1000).toFixed(1)} s) would end past the time this call has.`
        );
        return outOfTime(attempt + 1, previous, lost);
      }
      if (previous?.status === 429) {
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
      }
      this.options.log.info(
        `${shown} ${reason}; trying again in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${maxAttempts}).`
      );
      await pause(delay, options.signal);
    }
  }

  /** One exchange; the timeout covers it whole, the body included. */
  private async once(
    exchange: Exchange,
    timeoutMs: number,
    cancel: AbortSignal | undefined
  ): Promise<HttpAnswer> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
    try {
      const response = await this.options.transport.request(exchange.url, {
        method: exchange.method,
        headers: exchange.headers,
        body: exchange.body,
        signal
      });
      const status = response.statusCode ?? 0;
      const ok = status >= 200 && status <= 299;
      const { bytes, truncated } = await readCapped(
        response,
        ok ? exchange.limit : ERROR_READ_LIMIT
      );
      return {
        status,
        contentType: single(response.headers['content-type']),
        contentEncoding: single(response.headers['content-encoding']),
        retryAfter: single(response.headers['retry-after']),
        bytes,
        truncated
      };
    } catch (error) {
      if (timeout.aborted) {
        throw new ExchangeFailed('no-response', `timed out after ${timeoutMs / 1000} s`, 1);
      }
      if (cancel?.aborted) {
        throw new ExchangeFailed('no-response', 'given up on: the job was cancelled', 1);
      }
      const failure = classifyFailure(error);
      if (failure.kind === 'local') {
        throw new ExchangeFailed('local', this.options.redact(failure.cause), 1);
      }
      throw new ExchangeFailed(
        failure.untrusted ? 'untrusted' : 'no-response',
        failure.cause,
        1,
        failure.proxy
      );
    }
  }
}

/**
 * A call whose deadline came before the try `attempt`: the last answer, if one came; else, when
 * an earlier try got none, no response (it may have been carried out); else nothing was sent.
 */
function outOfTime(attempt: number, previous: HttpAnswer | undefined, lost?: string): HttpAnswer {
  if (previous !== undefined) return previous;
  if (attempt > 1) {
    throw new ExchangeFailed(
      'no-response',
      lost ?? 'no answer came in the time the call had',
      attempt - 1
    );
  }
  throw new ExchangeFailed('deadline', 'the time the call had ran out before it was sent', 0);
}

/** Waits `ms`, or less when the signal aborts first. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
