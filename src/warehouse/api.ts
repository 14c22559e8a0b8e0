/**
 * JSON over the run's HTTP caller for a warehouse's REST API, and its failures said for the
 * reader: the platform, the request, the status, the platform's own message and what to do.
 */
import { answerText, type HttpAnswer } from '../http/body.js';
import { ExchangeFailed, type HttpCaller, type SendOptions } from '../http/caller.js';
import { excerpt } from '../action/escape.js';
import { parseJson } from '../immuta/responses.js';
import { WarehouseError, type StatementEnd } from './types.js';

/**
 * How long a cancel and the look that confirms it may take together. The runner sends SIGTERM
 * 7.5 s after its SIGINT and kills the step 2.5 s later; the record after the cancel needs time
 * too. No Retry-After the platform sends (a 503 asking for a minute) stretches it.
 */
const CANCEL_BOUND_MS = 3500;
/** Of that, the cancel request's share (its tries and the wait between them)… */
const CANCEL_REQUEST_MS = 2500;
/** …and the least the look gets, however long the cancel took. */
const CANCEL_LOOK_MS = 1000;

export interface ApiRequest {
  readonly method: 'GET' | 'POST';
  /** Path below the host, query included. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** A warehouse answer's JSON is small: results are not read. */
const ANSWER_LIMIT = 1024 * 1024;

export class WarehouseApi {
  constructor(
    private readonly host: string,
    readonly name: string,
    private readonly caller: HttpCaller,
    private readonly redact: (text: string) => string
  ) {}

  /** Sends the request (or the one built for each attempt) and reads its JSON body. */
  async send(
    build: ApiRequest | ((attempt: number) => ApiRequest),
    options: SendOptions = {}
  ): Promise<{ answer: HttpAnswer; json: Record<string, unknown> }> {
    const first = typeof build === 'function' ? build(1) : build;
    try {
      const answer = await this.caller.send((attempt) => {
        const request = typeof build === 'function' ? build(attempt) : build;
        return {
          method: request.method,
          url: new URL(this.host + request.path),
          shown: request.path.split('?')[0]!,
          headers: request.headers,
          body: request.body,
          limit: ANSWER_LIMIT
        };
      }, options);
      const parsed = answer.truncated ? undefined : parseJson(answerText(answer));
      const json = isRecord(parsed) ? parsed : {};
      return { answer, json };
    } catch (error) {
      if (!(error instanceof ExchangeFailed)) throw error;
      if (error.kind === 'deadline') {
        throw new Unanswered(
          `${first.method} ${first.path.split('?')[0]} was not sent: script-timeout-seconds ran out first.`,
          false
        );
      }
      const how =
        error.kind === 'local'
          ? `could not be completed: ${error.reason}`
          : `got no response (${error.reason})`;
      const hint =
        error.kind === 'untrusted'
          ? ` ${error.proxy ? "The proxy's" : `${this.name}'s`} TLS certificate is not trusted; if a private CA issued it, pass that CA in ca-certificate.`
          : error.kind === 'no-response'
            ? ` Check that the runner can reach ${this.host} (proxy, firewall), or raise timeout-seconds.`
            : '';
      throw new Unanswered(`${first.method} ${first.path.split('?')[0]} ${how}.${hint}`, true);
    }
  }

  /**
   * Cancels a statement the platform took, then looks once at how it ended: `endOf` reads that
   * look's answer (undefined while it runs, or when the answer proves nothing). Never throws.
   * `id` names the statement for the reader, as the platform does (a handle, a statement_id).
   */
  async cancel(
    requests: { cancel: ApiRequest; look: ApiRequest },
    endOf: (answer: HttpAnswer, json: Record<string, unknown>) => StatementEnd | undefined,
    id: string,
    why: string
  ): Promise<StatementEnd> {
    const started = Date.now();
    const confirmed = await this.send(requests.cancel, {
      attempts: 2,
      deadline: started + CANCEL_REQUEST_MS
    })
      .then((r) => r.answer.status === 200)
      .catch(() => false);
    const look = await this.send(requests.look, {
      attempts: 1,
      deadline: Math.max(started + CANCEL_BOUND_MS, Date.now() + CANCEL_LOOK_MS)
    }).catch(() => undefined);
    const end = look && endOf(look.answer, look.json);
    const said = confirmed
      ? `A cancel was sent to ${this.name}`
      : `A cancel was sent to ${this.name}, which did not confirm it`;
    if (end && end.outcome !== 'in-doubt') {
      const how =
        end.outcome === 'ran'
          ? 'having run'
          : end.outcome === 'cancelled'
            ? 'cancelled'
            : `failed: ${end.error}`;
      return { ...end, error: `${why} ${said}; it ended ${how} (${id}).` };
    }
    return {
      outcome: 'in-doubt',
      ...(end?.statementId ? { statementId: end.statementId } : {}),
      error: `${why} ${said}, but the statement may still be running (${id}); a re-run asks ${this.name} how it ended.`
    };
  }

  /** A failed answer, said: status, the platform's message (secrets cut out) and a hint. */
  failure(request: ApiRequest, answer: HttpAnswer, json: Record<string, unknown>, hint?: string) {
    const said = text(json.message) ?? text(json.error_description) ?? text(json.error);
    const code = text(json.code) ?? text(json.error_code);
    const parts = [`${request.method} ${request.path.split('?')[0]} answered ${answer.status}.`];
    if (said) {
      parts.push(
        `${this.name} said: ${excerpt(this.redact(said), 400)}${code ? ` (${excerpt(code, 40)})` : ''}.`
      );
    } else if (answer.bytes.length > 0) {
      parts.push(
        `The answer starts “${excerpt(this.redact(answerText(answer)).slice(0, 400), 120)}”.`
      );
    }
    if (hint) parts.push(hint);
    return new WarehouseError(parts.join(' '));
  }
}

/** A request that got no answer; `sent` is false only when it never left (its time ran out). */
export class Unanswered extends WarehouseError {
  constructor(
    message: string,
    readonly sent: boolean
  ) {
    super(message);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Waits `ms`, or less when the signal aborts first. */
export { pause as sleep } from '../http/caller.js';

/** The wait before the n-th poll (from 0): fast at first, for short scripts, then every 2 s. */
export function pollDelay(poll: number): number {
  return Math.min(2000, 100 * 2 ** poll);
}
