/**
 * Snowflake's SQL API v2 for step 3: one script statement a request, with the session-only
 * statements before it replayed in front of it (a multi-statement request, MULTI_STATEMENT_COUNT
 * their number), sent asynchronously under a request ID a later attempt can compute, then
 * followed by its statement handle to its end. An answer counts only in the shape the API
 * documents and only as proof of what it says: a 200 is "ran" only with the handle it follows and
 * the result of a statement (one per statement sent, for a multi-statement request).
 */
import { randomUUID } from 'node:crypto';
import type { HttpAnswer } from '../http/body.js';
import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { excerpt } from '../action/escape.js';
import type { SnowflakeSettings } from './settings.js';
import { snowflakeReplay, type ScriptStatement } from './statements.js';
import { SignInFailed, type WarehouseAuth } from './auth.js';
import {
  isRecord,
  pollDelay,
  sleep,
  text,
  Unanswered,
  WarehouseApi,
  type ApiRequest
} from './api.js';
import { failedStatementIn } from './snowflake-message.js';
import { isSnowflakeAccount, locatorRegion } from './same-warehouse.js';
import {
  WarehouseError,
  type Controls,
  type StatementEnd,
  type StatementRequest,
  type WarehouseAdapter
} from './types.js';

const STATEMENTS = '/api/v2/statements';
/** statementHandle is a UUID (the spec's format): it goes into URLs, so nothing else passes. */
const HANDLE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The SQL API's code for a statement that was cancelled. */
const CANCELLED = '000604';
/** A session check's own statement: what the session is, as Snowflake sees it. */
const WHO_AM_I = 'SELECT CURRENT_ROLE(), CURRENT_WAREHOUSE()';
/**
 * The pre-flight's: the session, and which account it is in. The region too: a locator names an
 * account only within its region.
 */
const WHO_AND_WHERE =
  'SELECT CURRENT_ROLE(), CURRENT_WAREHOUSE(), CURRENT_ACCOUNT(), CURRENT_ORGANIZATION_NAME(), CURRENT_ACCOUNT_NAME(), CURRENT_REGION()';

/** The statements one request sends, in order, the script's own last. */
interface Sent {
  readonly texts: readonly string[];
  /** Which of them are replayed session statements, by the script's numbering. */
  readonly replayed: readonly ScriptStatement[];
}

export class SnowflakeAdapter implements WarehouseAdapter {
  readonly platform = 'snowflake';
  private readonly api: WarehouseApi;

  constructor(
    private readonly settings: SnowflakeSettings,
    private readonly secrets: Secrets,
    caller: HttpCaller,
    private readonly auth: WarehouseAuth,
    /** The request ID of a statement's request, by its index and generation. */
    private readonly requestId: (index: number, generation: number) => string
  ) {
    this.api = new WarehouseApi(settings.host, 'Snowflake', caller, (t) => secrets.redact(t));
  }

  /**
   * The session the script gets: a warehouse in use, the role asked for, and the account of the
   * host Immuta names (`hostname`), as the account itself says.
   */
  async check(hostname: string | undefined): Promise<string> {
    const [
      role = null,
      warehouse = null,
      locator = null,
      organization = null,
      accountName = null,
      region = null
    ] = await this.whoAmI([WHO_AND_WHERE]);
    this.provenSession(role, warehouse, 'with');
    const identity = { locator, organization, accountName, region };
    const signedIn = [
      locator && `account ${excerpt(locator, 40)}`,
      organization && accountName && `${excerpt(`${organization}-${accountName}`, 80)}`
    ].filter(Boolean);
    if (hostname !== undefined && isSnowflakeAccount(hostname, identity)) {
      return `signed in to Snowflake ${signedIn.join(', also named ')}, the host's; the script's session runs as role ${excerpt(role ?? 'none', 80)} with warehouse ${excerpt(warehouse!, 80)}`;
    }
    throw new WarehouseError(
      `Snowflake says this session is in ${signedIn.length ? signedIn.join(', also named ') : 'an account it does not name'}, ${hostname === undefined ? "and Immuta's record of the host names no hostname to compare it with" : `which is not the account of the host Immuta names, ${excerpt(hostname, 120)}`}: a host's cleanup script never runs in another account. Check snowflake-account and snowflake-host: they must reach the host's own account (its URL's account name, or its locator in its region), or run the script there by hand (run-script: none).${this.regionNote(hostname, region)}`
    );
  }

  /** For a host named by its locator, which is unique only within a region: both regions. */
  private regionNote(hostname: string | undefined, region: string | null): string {
    const named = hostname === undefined ? undefined : locatorRegion(hostname);
    if (named === undefined) return '';
    return ` An account locator names an account only within its region: the host's URL names ${named}, and Snowflake says this session is in region ${region ? excerpt(region, 60) : 'it does not name'}.`;
  }

  /** The script's session statements all run, and leave a warehouse in use. */
  async checkScript(statements: readonly ScriptStatement[]): Promise<void> {
    const session = statements.filter((s) => s.session).map((s) => s.text);
    if (session.length === 0) return;
    const [role = null, warehouse = null] = await this.whoAmI([...session, WHO_AM_I]);
    this.provenSession(role, warehouse, 'after the script’s session statements, with');
  }

  private provenSession(role: string | null, warehouse: string | null, when: string): void {
    if (!warehouse) {
      throw new WarehouseError(
        `Snowflake has no warehouse in use ${when} ${this.sessionSaid()}: a statement sent with the session statements before it is a multi-statement request, which needs one. Set snowflake-warehouse, or give the user a DEFAULT_WAREHOUSE it may use.`
      );
    }
    const asked = this.settings.role && roleAsSnowflakeNames(this.settings.role);
    if (when === 'with' && asked && role !== asked) {
      throw new WarehouseError(
        `Snowflake runs the session as role ${excerpt(role ?? 'none', 80)}, not snowflake-role ${excerpt(this.settings.role!, 80)}. Check that the user is granted that role.`
      );
    }
  }

  private sessionSaid(): string {
    return [
      this.settings.role ? `role ${this.settings.role}` : "the user's default role",
      this.settings.warehouse
        ? `warehouse ${this.settings.warehouse}`
        : "the user's default warehouse"
    ].join(' and ');
  }

  /**
   * Runs the statements as one request, waited for, and reads the role and warehouse the last
   * one (WHO_AM_I) returns; throws a WarehouseError that says what failed.
   */
  private async whoAmI(texts: readonly string[]): Promise<(string | null)[]> {
    const request = await this.statementRequest(
      texts,
      randomId(),
      false,
      false,
      Date.now() + this.settings.timeoutMs
    );
    let { answer, json } = await this.api.send(request.build, { retryable: retryableSubmit });
    const handle = text(json.statementHandle);
    const deadline = Date.now() + this.settings.timeoutMs;
    for (let poll = 0; answer.status === 202 && handle && HANDLE.test(handle); poll++) {
      if (Date.now() >= deadline) break;
      await sleep(pollDelay(poll));
      ({ answer, json } = await this.api.send(await this.get(`${STATEMENTS}/${handle}`)));
    }
    const first = request.build(1);
    if (answer.status !== 200) {
      const message = text(json.message);
      const at = message ? failedStatementIn(message, texts) : undefined;
      const said =
        at === undefined
          ? undefined
          : `Snowflake names statement ${at + 1} of the check, ${excerpt(this.secrets.redact(texts[at]!), 120)}.`;
      throw this.api.failure(
        first,
        answer,
        json,
        [said, this.hintFor(answer.status) ?? this.sessionHint()].filter(Boolean).join(' ')
      );
    }
    if (texts.length === 1) {
      if (!isResultOf(json, handle)) throw this.unexpected(first, answer, json);
      return rowOf(json);
    }
    const children = json.statementHandles;
    if (
      !isResultOf(json, handle, texts.length) ||
      !Array.isArray(children) ||
      !HANDLE.test(String(children.at(-1)))
    ) {
      throw this.unexpected(first, answer, json);
    }
    const last = String(children.at(-1));
    const read = await this.api.send(await this.get(`${STATEMENTS}/${last}`));
    if (read.answer.status !== 200 || !isResultOf(read.json, last)) {
      throw this.unexpected(first, read.answer, read.json);
    }
    return rowOf(read.json);
  }

  private sessionHint(): string {
    return 'Check snowflake-role and snowflake-warehouse: the user must be granted the role, and a multi-statement request needs a warehouse it may use (snowflake-warehouse, or the user’s DEFAULT_WAREHOUSE).';
  }

  async execute(request: StatementRequest, controls: Controls): Promise<StatementEnd> {
    const { statement, script, generation } = request;
    const replayed = snowflakeReplay(script, statement.index);
    const texts = [...replayed.map((s) => s.text), statement.text];
    // A session statement alone would be a single-statement request, where USE and SET are not
    // supported: a SELECT after it makes the request a multi-statement one and proves the session.
    if (texts.length === 1 && statement.session) texts.push(WHO_AM_I);
    const sent: Sent = { texts, replayed };
    const id = this.requestId(statement.index, generation);
    const settling = request.settle !== undefined;
    if (controls.signal.aborted)
      return { outcome: 'not-run', error: 'The job was cancelled before it was sent.' };
    let submitted: { request: ApiRequest; answer: HttpAnswer; json: Record<string, unknown> };
    let built: { build: (attempt: number) => ApiRequest };
    try {
      built = await this.statementRequest(texts, id, true, settling, controls.deadline);
    } catch (error) {
      if (!(error instanceof SignInFailed)) throw error;
      return { outcome: 'not-run', error: error.message };
    }
    try {
      const { answer, json } = await this.api.send(built.build, {
        retryable: retryableSubmit,
        deadline: controls.deadline
      });
      submitted = { request: built.build(1), answer, json };
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      if (error instanceof Unanswered && !error.sent) {
        return { outcome: 'not-run', error: error.message };
      }
      return {
        outcome: 'in-doubt',
        error: `${error.message} Snowflake may have taken it; a re-run asks Snowflake about request ${id} (retry=true), which answers for it instead of running it again.`
      };
    }
    const { answer, json } = submitted;
    if (answer.status === 202) {
      const handle = text(json.statementHandle);
      if (!handle || !HANDLE.test(handle)) {
        return {
          outcome: 'in-doubt',
          error: `${this.unexpected(submitted.request, answer, json).message} It named no statement handle to follow, so whether it runs is unknown; a re-run asks Snowflake about request ${id}.`
        };
      }
      return this.follow(handle, sent, controls);
    }
    return this.ended(submitted.request, answer, json, sent, undefined, id);
  }

  /** Polls the statement to its end; on cancellation or timeout, cancels it and confirms. */
  private async follow(handle: string, sent: Sent, controls: Controls): Promise<StatementEnd> {
    const path = `${STATEMENTS}/${handle}`;
    for (let poll = 0; ; poll++) {
      const stop = stopReason(controls);
      if (stop) return this.cancel(handle, sent, stop);
      await sleep(
        Math.min(pollDelay(poll), Math.max(0, controls.deadline - Date.now())),
        controls.signal
      );
      if (stopReason(controls)) continue;
      let request: ApiRequest;
      let answer: HttpAnswer;
      let json: Record<string, unknown>;
      try {
        request = await this.get(path);
        ({ answer, json } = await this.api.send(request, {
          deadline: controls.deadline,
          signal: controls.signal
        }));
      } catch (error) {
        if (!(error instanceof WarehouseError)) throw error;
        if (error instanceof SignInFailed) return unsigned(handle, error);
        if (stopReason(controls)) continue;
        return this.cancel(handle, sent, error.message);
      }
      if (answer.status === 202 && isQueryStatus(json, handle)) continue;
      const end = this.ended(request, answer, json, sent, handle);
      if (end.outcome !== 'in-doubt') return end;
      // An answer that proves nothing: the statement may still run; it is told to stop.
      return this.cancel(handle, sent, end.error ?? 'Snowflake answered in another shape.');
    }
  }

  /** What a final answer (200, 422, 408 or another) says of the request. */
  private ended(
    request: ApiRequest,
    answer: HttpAnswer,
    json: Record<string, unknown>,
    sent: Sent,
    handle: string | undefined,
    id?: string
  ): StatementEnd {
    if (answer.status === 200) {
      if (isResultOf(json, handle ?? text(json.statementHandle), sent.texts.length)) {
        return { outcome: 'ran' };
      }
      return {
        outcome: 'in-doubt',
        error: `${this.unexpected(request, answer, json).message} A 200 without the result of ${sent.texts.length === 1 ? 'the statement' : `each of the ${sent.texts.length} statements sent`} proves nothing, so whether it ran is unknown.`
      };
    }
    // A failure counts only for the request followed: another handle's says nothing of it.
    if (answer.status === 422 && isFailure(json, handle)) {
      const own = excerpt(this.secrets.redact(text(json.message) ?? ''), 400);
      const code = text(json.code);
      const error = `${own}${code ? ` (${excerpt(code, 40)})` : ''}${namedIn(text(json.message) ?? '', sent, this.secrets)}`;
      return { outcome: code === CANCELLED ? 'cancelled' : 'failed', error };
    }
    if (answer.status === 408 && isQueryStatus(json, handle ?? text(json.statementHandle))) {
      return {
        outcome: 'cancelled',
        error: `Snowflake cancelled it at its timeout: it did not finish within script-timeout-seconds (${this.settings.timeoutMs / 1000} s).`
      };
    }
    const failure = this.api.failure(request, answer, json, this.hintFor(answer.status));
    // Snowflake's own refusal of the request (sign-in, rights, a bad request, "slow down"): it
    // did not take it. Any other answer (a gateway's, a page) does not say whether it did.
    if (handle === undefined && isError(json) && answer.status < 500 && answer.status !== 408) {
      return { outcome: 'failed', error: failure.message };
    }
    return {
      outcome: 'in-doubt',
      error: `${failure.message} That answer does not say whether Snowflake ran it${id ? `; a re-run asks Snowflake about request ${id}` : ''}.`
    };
  }

  /** Cancels the statement on Snowflake, then looks once at how it ended. */
  private async cancel(handle: string, sent: Sent, why: string): Promise<StatementEnd> {
    const path = `${STATEMENTS}/${handle}`;
    let look: ApiRequest;
    let headers: Record<string, string>;
    try {
      look = await this.get(path);
      headers = await this.headers();
    } catch (error) {
      if (!(error instanceof SignInFailed)) throw error;
      return { outcome: 'in-doubt', error: `${why} ${unsigned(handle, error).error}` };
    }
    return this.api.cancel(
      { cancel: { method: 'POST', path: `${path}/cancel`, headers }, look },
      (answer, json) =>
        answer.status === 202 ? undefined : this.ended(look, answer, json, sent, handle),
      `statement handle ${handle}`,
      why
    );
  }

  whereToCheck(): string {
    return 'the query history in Snowflake (QUERY_HISTORY)';
  }

  /** A statement request, built again for each try: a resend carries retry=true. */
  private async statementRequest(
    texts: readonly string[],
    id: string,
    async: boolean,
    resent: boolean,
    deadline: number
  ): Promise<{ build: (attempt: number) => ApiRequest }> {
    const headers = { ...(await this.headers()), 'content-type': 'application/json' };
    const body = JSON.stringify({
      statement: texts.join(';\n'),
      // Snowflake cancels the statement itself at the time the script has left.
      timeout: Math.max(1, Math.ceil((deadline - Date.now()) / 1000)),
      ...(this.settings.role ? { role: this.settings.role } : {}),
      ...(this.settings.warehouse ? { warehouse: this.settings.warehouse } : {}),
      parameters: { MULTI_STATEMENT_COUNT: String(texts.length) }
    });
    return {
      build: (attempt) => ({
        method: 'POST',
        path: `${STATEMENTS}?requestId=${id}${async ? '&async=true' : ''}${attempt > 1 || resent ? '&retry=true' : ''}`,
        headers,
        body
      })
    };
  }

  private async get(path: string): Promise<ApiRequest> {
    return { method: 'GET', path, headers: await this.headers() };
  }

  private async headers(): Promise<Record<string, string>> {
    return { ...(await this.auth.headers()), accept: 'application/json', 'user-agent': USER_AGENT };
  }

  /** An answer that is not the SQL API's, said with what came back. */
  private unexpected(request: ApiRequest, answer: HttpAnswer, json: Record<string, unknown>) {
    return this.api.failure(
      request,
      answer,
      json,
      `That is not the Snowflake SQL API's answer (content type ${excerpt(answer.contentType ?? 'none', 60)}): a proxy or a sign-on page may have answered; check snowflake-host and the proxy settings.`
    );
  }

  private hintFor(status: number): string | undefined {
    if (status === 401) return this.auth.refusedHint;
    if (status === 403)
      return 'The user may not run this: check its role and privileges (the script needs ACCOUNTADMIN or equivalent).';
    if (status === 404)
      return `${this.settings.host} has no Snowflake SQL API there: check snowflake-account (the identifier before .snowflakecomputing.com) and snowflake-host.`;
    return undefined;
  }
}

/** Which statement of the request Snowflake's message names, said for the reader, if any. */
function namedIn(message: string, sent: Sent, secrets: Secrets): string {
  const at = failedStatementIn(message, sent.texts);
  if (at === undefined || sent.replayed.length === 0) return '';
  return at < sent.replayed.length
    ? ` Snowflake names the session statement replayed in front of it, statement ${sent.replayed[at]!.index + 1} (${excerpt(secrets.redact(sent.texts[at]!), 120)}): it failed there, before the statement itself ran.`
    : ' Snowflake names the statement itself, after the session statements replayed in front of it.';
}

/** The SQL API's answers to a submit that mean "not now": the same request ID goes again. */
function retryableSubmit(status: number): boolean {
  return status === 429 || status === 503 || status === 504;
}

/** A statement Snowflake took, which no request can follow or cancel without a token. */
function unsigned(handle: string, error: SignInFailed): StatementEnd {
  return {
    outcome: 'in-doubt',
    error: `No request about it could be signed (${error.message}), so it may have run or still be running (statement handle ${handle}); a re-run asks Snowflake how it ended.`
  };
}

function stopReason(controls: Controls): string | undefined {
  if (controls.signal.aborted) return 'The job was cancelled.';
  if (Date.now() >= controls.deadline) return 'It did not finish within script-timeout-seconds.';
  return undefined;
}

/** QueryStatus for this handle: still running (202) or timed out (408). */
function isQueryStatus(json: Record<string, unknown>, handle: string | undefined): boolean {
  return handle !== undefined && text(json.statementHandle) === handle;
}

/**
 * A ResultSet for the handle followed: its metadata and data, and for a multi-statement request
 * one child handle per statement sent. Anything less proves nothing ran.
 */
function isResultOf(
  json: Record<string, unknown>,
  handle: string | undefined,
  statements = 1
): boolean {
  if (handle === undefined || text(json.statementHandle) !== handle) return false;
  if (!isRecord(json.resultSetMetaData) || !Array.isArray(json.data)) return false;
  if (statements === 1) return true;
  const children = json.statementHandles;
  return (
    Array.isArray(children) &&
    children.length === statements &&
    children.every((c) => typeof c === 'string' && HANDLE.test(c))
  );
}

/** QueryFailureStatus: a message and the handle of the statement that failed (the one followed). */
function isFailure(json: Record<string, unknown>, handle: string | undefined): boolean {
  const failed = text(json.statementHandle);
  return (
    typeof json.message === 'string' &&
    failed !== undefined &&
    (handle === undefined || failed === handle)
  );
}

/** The SQL API's error shape: a code and a message. */
function isError(json: Record<string, unknown>): boolean {
  return text(json.code) !== undefined && typeof json.message === 'string';
}

/** The first row's two columns, as a ResultSet gives them (strings, or null). */
/** The first row's cells, each a non-empty string or null. */
function rowOf(json: Record<string, unknown>): (string | null)[] {
  const row: unknown[] =
    Array.isArray(json.data) && Array.isArray(json.data[0]) ? json.data[0] : [];
  return row.map((v) => (typeof v === 'string' && v !== '' ? v : null));
}

/** snowflake-role as CURRENT_ROLE() names it: unquoted names upper-cased, quoted ones as written. */
function roleAsSnowflakeNames(role: string): string {
  const quoted = /^"((?:[^"]|"")+)"$/.exec(role);
  return quoted ? quoted[1]!.replace(/""/g, '"') : role.toUpperCase();
}

function randomId(): string {
  return randomUUID();
}
