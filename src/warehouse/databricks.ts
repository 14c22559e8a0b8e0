/**
 * Databricks' Statement Execution API 2.0 for step 3: one statement a request, carrying the
 * catalog and schema the USE statements before it leave in effect, followed by its statement_id
 * to a terminal state. A statement can fail with HTTP 200 and state FAILED. A request is sent
 * again only when Databricks itself said it did not take it (429, or 503 in its own error shape):
 * one whose answer was lost, timed out at a gateway or came back in another shape may have been
 * taken, so it is in doubt, never sent twice. One taken is settled later by reading its
 * statement_id back, which Databricks answers for at least 12 hours after it ends.
 */
import type { HttpAnswer } from '../http/body.js';
import { SETTLED, type HttpCaller } from '../http/caller.js';
import { parseJson } from '../immuta/responses.js';
import { answerText } from '../http/body.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { excerpt } from '../action/escape.js';
import type { DatabricksSettings } from './settings.js';
import { bareHostname, isDatabricksWorkspace } from './same-warehouse.js';
import {
  databricksSession,
  databricksSessions,
  type DatabricksSession,
  type ScriptStatement
} from './statements.js';
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
import {
  WarehouseError,
  type Controls,
  type StatementEnd,
  type StatementRequest,
  type WarehouseAdapter
} from './types.js';

const STATEMENTS = '/api/2.0/sql/statements';
/** CLOSED: it succeeded and its result is gone already; finished, not failed. */
const SUCCEEDED = new Set(['SUCCEEDED', 'CLOSED']);
const RUNNING = new Set(['PENDING', 'RUNNING']);
const WHERE_AM_I = 'SELECT current_catalog(), current_schema()';

export class DatabricksAdapter implements WarehouseAdapter {
  readonly platform = 'databricks';

  constructor(
    private readonly settings: DatabricksSettings,
    private readonly secrets: Secrets,
    private readonly api: WarehouseApi,
    private readonly auth: WarehouseAuth
  ) {}

  static api(settings: DatabricksSettings, secrets: Secrets, caller: HttpCaller): WarehouseApi {
    return new WarehouseApi(settings.host, 'Databricks', caller, (t) => secrets.redact(t));
  }

  /**
   * The workspace is the host's (told before any request), then signs in and proves the
   * warehouse answers, with the catalog it runs in.
   */
  async check(hostname: string | undefined): Promise<string> {
    if (hostname === undefined || !isDatabricksWorkspace(hostname, this.settings.host)) {
      throw new WarehouseError(
        `databricks-host is ${excerpt(this.settings.host, 120)}, ${hostname === undefined ? "and Immuta's record of the host names no workspace to compare it with" : `but Immuta's record of the host names the workspace ${excerpt(hostname, 120)}`}: a host's cleanup script never runs in another workspace. Set databricks-host to the host's own workspace URL, or run the script there by hand (run-script: none).`
      );
    }
    const [catalog] = await this.whereAmI({ catalog: undefined, schema: undefined });
    return `signed in to Databricks workspace ${excerpt(bareHostname(this.settings.host), 120)}, the host's; SQL warehouse ${excerpt(this.settings.warehouseId, 80)} answers, in catalog ${excerpt(catalog ?? 'none', 80)}`;
  }

  /** Each catalog and schema the script's statements are sent with is the one they run in. */
  async checkScript(statements: readonly ScriptStatement[]): Promise<void> {
    for (const session of databricksSessions(statements)) {
      if (session.catalog === undefined && session.schema === undefined) continue;
      const [catalog, schema] = await this.whereAmI(session);
      const differs =
        (session.catalog !== undefined && !sameName(catalog, session.catalog)) ||
        (session.schema !== undefined && !sameName(schema, session.schema));
      if (differs) {
        throw new WarehouseError(
          `Databricks ran a statement sent with ${said(session)} in catalog ${catalog ?? 'none'}, schema ${schema ?? 'none'}: the script's USE statements would not take effect. Nothing was deleted.`
        );
      }
    }
  }

  /** Runs WHERE_AM_I with the session's fields and reads its one row. */
  private async whereAmI(session: DatabricksSession): Promise<[string | null, string | null]> {
    const deadline = Date.now() + this.settings.timeoutMs;
    const request = await this.statementRequest(WHERE_AM_I, session, '10s', 4096);
    const { answer, json } = await this.api.send(request, { deadline });
    const fail = (a: HttpAnswer, j: Record<string, unknown>, r: ApiRequest = request) =>
      this.api.failure(r, a, j, this.hintFor(a.status));
    if (answer.status !== 200) throw fail(answer, json);
    const id = text(json.statement_id);
    let current = json;
    for (let poll = 0; id && RUNNING.has(String(stateOf(current))); poll++) {
      if (Date.now() >= deadline) break;
      await sleep(pollDelay(poll));
      const check = await this.get(`${STATEMENTS}/${encodeURIComponent(id)}`);
      const read = await this.api.send(check, { deadline });
      if (read.answer.status !== 200) throw fail(read.answer, read.json, check);
      current = read.json;
    }
    const state = stateOf(current);
    if (!id || text(current.statement_id) !== id || state === undefined) {
      throw this.unexpected(request, answer, json);
    }
    if (!SUCCEEDED.has(state)) {
      throw new WarehouseError(
        `${WHERE_AM_I}, sent with ${said(session)} to SQL warehouse ${this.settings.warehouseId}, ended ${state}: ${errorOf(current, this.secrets) ?? 'no message'}`
      );
    }
    const result = isRecord(current.result) ? current.result : {};
    const rows = Array.isArray(result.data_array) ? result.data_array : [];
    const row = Array.isArray(rows[0]) ? rows[0] : [];
    const cell = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
    if (cell(row[0]) === null) {
      throw new WarehouseError(
        `Databricks answered ${WHERE_AM_I} on SQL warehouse ${this.settings.warehouseId} without the catalog it runs in: its answer proves nothing.`
      );
    }
    return [cell(row[0]), cell(row[1])];
  }

  async execute(request: StatementRequest, controls: Controls): Promise<StatementEnd> {
    const { statement, script } = request;
    if (request.settle !== undefined) {
      // Without its statement_id a request in doubt cannot be asked about, and is never resent.
      if (request.settle.statementId === undefined) {
        return { outcome: 'in-doubt', error: 'Its statement_id was never known.' };
      }
      return this.follow(request.settle.statementId, controls, undefined, true);
    }
    if (controls.signal.aborted) {
      return { outcome: 'not-run', error: 'The job was cancelled before it was sent.' };
    }
    let built: ApiRequest;
    try {
      built = await this.statementRequest(
        statement.text,
        databricksSession(script, statement.index),
        '0s',
        1024
      );
    } catch (error) {
      if (!(error instanceof SignInFailed)) throw error;
      return { outcome: 'not-run', error: error.message };
    }
    let refused: HttpAnswer | undefined;
    let answer: HttpAnswer;
    let json: Record<string, unknown>;
    try {
      ({ answer, json } = await this.api.send(built, {
        resendLost: false,
        retryable: (status) => status === 429 || status === 503,
        deadline: controls.deadline,
        // Only Databricks' own "not now" means it did not take the statement.
        beforeResend: async (previous) => {
          refused = previous;
          return previous === undefined || !isDatabricksError(previous);
        }
      }));
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      if (error instanceof Unanswered && !error.sent) {
        return { outcome: 'not-run', error: error.message };
      }
      return {
        outcome: 'in-doubt',
        error: `${error.message} Databricks may have taken the statement before the answer was lost, and without its statement_id no one can ask it.`
      };
    }
    if (answer === SETTLED) answer = refused!;
    json = answer === refused ? jsonOf(answer) : json;
    if (answer.status !== 200) {
      const failure = this.api.failure(built, answer, json, this.hintFor(answer.status));
      // Databricks' own refusal (a bad request, credentials, rights, "not now") means it did not
      // take the statement; its own 500 may come after it started.
      const refusedByDatabricks =
        isDatabricksError(answer) &&
        ((answer.status < 500 && answer.status !== 408) || answer.status === 503);
      if (refusedByDatabricks) {
        const wait =
          answer.status === 429 && answer.retryAfter
            ? ` It asked to wait ${excerpt(answer.retryAfter, 40)} s (Retry-After), past the time script-timeout-seconds leaves.`
            : '';
        return { outcome: 'failed', error: `${failure.message}${wait}` };
      }
      return {
        outcome: 'in-doubt',
        error: `${failure.message} That answer does not say whether Databricks took the statement, and without its statement_id no one can ask it.`
      };
    }
    const id = text(json.statement_id);
    if (!id || !/^[A-Za-z0-9-]{1,100}$/.test(id) || stateOf(json) === undefined) {
      return {
        outcome: 'in-doubt',
        error: `${this.unexpected(built, answer, json).message} Whether Databricks took the statement is unknown.`
      };
    }
    await controls.onAccepted(id);
    return this.follow(id, controls, json);
  }

  /**
   * Follows the statement to a terminal state; on cancellation or timeout, cancels it and looks
   * once at how it ended. `first` is the answer that took it, when this attempt sent it.
   */
  private async follow(
    id: string,
    controls: Controls,
    first: Record<string, unknown> | undefined,
    settling = false
  ): Promise<StatementEnd> {
    const path = `${STATEMENTS}/${encodeURIComponent(id)}`;
    let current = first;
    for (let poll = 0; ; poll++) {
      if (current !== undefined) {
        const end = this.endOf(id, current);
        if (end !== undefined) return end;
      }
      const stop = stopReason(controls);
      if (stop) return this.cancel(id, stop);
      if (current !== undefined) {
        await sleep(
          Math.min(pollDelay(poll), Math.max(0, controls.deadline - Date.now())),
          controls.signal
        );
        if (stopReason(controls)) continue;
      }
      let check: ApiRequest;
      try {
        check = await this.get(path);
        const { answer, json } = await this.api.send(check, {
          deadline: controls.deadline,
          signal: controls.signal
        });
        if (answer.status === 200 && text(json.statement_id) === id && stateOf(json)) {
          current = json;
          continue;
        }
        if (settling && answer.status === 404 && isDatabricksError(answer)) {
          return {
            outcome: 'in-doubt',
            statementId: id,
            error: `Databricks no longer knows statement_id ${id} (it forgets a finished statement after 12 hours), so it cannot say whether the statement ran.`
          };
        }
        const failure = this.api.failure(check, answer, json, this.hintFor(answer.status));
        if (settling) return { outcome: 'in-doubt', statementId: id, error: failure.message };
        return this.cancel(id, failure.message);
      } catch (error) {
        if (!(error instanceof WarehouseError)) throw error;
        if (error instanceof SignInFailed) return unsigned(id, error);
        if (stopReason(controls)) continue;
        if (settling) return { outcome: 'in-doubt', statementId: id, error: error.message };
        return this.cancel(id, error.message);
      }
    }
  }

  /** A terminal state said as an outcome; undefined while it runs. */
  private endOf(id: string, json: Record<string, unknown>): StatementEnd | undefined {
    const state = stateOf(json);
    if (state === undefined || RUNNING.has(state)) return undefined;
    if (SUCCEEDED.has(state)) return { outcome: 'ran', statementId: id };
    const error = `${errorOf(json, this.secrets) ?? 'no message'}`;
    if (state === 'CANCELED')
      return { outcome: 'cancelled', statementId: id, error: `It ended CANCELED: ${error}` };
    if (state === 'FAILED') return { outcome: 'failed', statementId: id, error };
    return {
      outcome: 'in-doubt',
      statementId: id,
      error: `Databricks answered with the state ${excerpt(state, 40)}, which is not one it documents.`
    };
  }

  /** Cancels the statement on Databricks, then looks once at how it ended. */
  private async cancel(id: string, why: string): Promise<StatementEnd> {
    const path = `${STATEMENTS}/${encodeURIComponent(id)}`;
    let requests: { cancel: ApiRequest; look: ApiRequest };
    try {
      requests = {
        cancel: { method: 'POST', path: `${path}/cancel`, headers: await this.headers() },
        look: await this.get(path)
      };
    } catch (error) {
      if (!(error instanceof SignInFailed)) throw error;
      return { ...unsigned(id, error), error: `${why} ${unsigned(id, error).error}` };
    }
    const end = await this.api.cancel(
      requests,
      (answer, json) =>
        answer.status === 200 && text(json.statement_id) === id ? this.endOf(id, json) : undefined,
      `statement_id ${id}`,
      why
    );
    return { ...end, statementId: id };
  }

  whereToCheck(statementId: string | undefined): string {
    return statementId
      ? `the query history of SQL warehouse ${this.settings.warehouseId} (statement_id ${statementId})`
      : `the query history of SQL warehouse ${this.settings.warehouseId}`;
  }

  private async statementRequest(
    statement: string,
    session: DatabricksSession,
    waitTimeout: string,
    byteLimit: number
  ): Promise<ApiRequest> {
    return {
      method: 'POST',
      path: STATEMENTS,
      headers: { ...(await this.headers()), 'content-type': 'application/json' },
      body: JSON.stringify({
        statement,
        warehouse_id: this.settings.warehouseId,
        ...(session.catalog !== undefined ? { catalog: session.catalog } : {}),
        ...(session.schema !== undefined ? { schema: session.schema } : {}),
        wait_timeout: waitTimeout,
        on_wait_timeout: 'CONTINUE',
        // The cleanup's results are not read: a large one must never stand between the
        // statement's end and the answer that says so.
        disposition: 'INLINE',
        format: 'JSON_ARRAY',
        row_limit: 1,
        byte_limit: byteLimit
      })
    };
  }

  private async get(path: string): Promise<ApiRequest> {
    return { method: 'GET', path, headers: await this.headers() };
  }

  private async headers(): Promise<Record<string, string>> {
    return { ...(await this.auth.headers()), accept: 'application/json', 'user-agent': USER_AGENT };
  }

  /** An answer that is not Databricks' own, said with what came back. */
  private unexpected(request: ApiRequest, answer: HttpAnswer, json: Record<string, unknown>) {
    return this.api.failure(
      request,
      answer,
      json,
      `That is not the Statement Execution API's answer (content type ${excerpt(answer.contentType ?? 'none', 60)}): a proxy or a sign-on page may have answered; check databricks-host and the proxy settings.`
    );
  }

  private hintFor(status: number): string | undefined {
    if (status === 401) return this.auth.refusedHint;
    if (status === 403)
      return 'The principal may not use this warehouse: it needs CAN USE on the SQL warehouse.';
    if (status === 404) return 'Check databricks-host and databricks-warehouse-id.';
    return undefined;
  }
}

/** A statement Databricks took, which no request can follow or cancel without a token. */
function unsigned(id: string, error: SignInFailed): StatementEnd {
  return {
    outcome: 'in-doubt',
    statementId: id,
    error: `No request about it could be signed (${error.message}), so it may have run or still be running (statement_id ${id}); a re-run asks Databricks how it ended.`
  };
}

function stopReason(controls: Controls): string | undefined {
  if (controls.signal.aborted) return 'The job was cancelled.';
  if (Date.now() >= controls.deadline) return 'It did not finish within script-timeout-seconds.';
  return undefined;
}

function stateOf(json: Record<string, unknown>): string | undefined {
  const status = isRecord(json.status) ? json.status : undefined;
  return typeof status?.state === 'string' ? status.state : undefined;
}

function errorOf(json: Record<string, unknown>, secrets: Secrets): string | undefined {
  const status = isRecord(json.status) ? json.status : {};
  const failure = isRecord(status.error) ? status.error : {};
  const said = text(failure.message);
  const code = text(failure.error_code);
  if (!said && !code) return undefined;
  return `${said ? excerpt(secrets.redact(said), 400) : 'no message'}${code ? ` (${excerpt(code, 60)})` : ''}`;
}

function said(session: DatabricksSession): string {
  const parts = [
    session.catalog !== undefined ? `catalog ${session.catalog}` : undefined,
    session.schema !== undefined ? `schema ${session.schema}` : undefined
  ].filter(Boolean);
  return parts.join(' and ') || 'no catalog or schema';
}

/** Databricks folds unquoted names to lower case: a name is the same whatever its case. */
function sameName(actual: string | null, expected: string): boolean {
  return actual !== null && actual.toLowerCase() === expected.toLowerCase();
}

function jsonOf(answer: HttpAnswer): Record<string, unknown> {
  const parsed = answer.truncated ? undefined : parseJson(answerText(answer));
  return isRecord(parsed) ? parsed : {};
}

/** Databricks' own error shape: {error_code, message}. A gateway's page is not it. */
function isDatabricksError(answer: HttpAnswer): boolean {
  const json = jsonOf(answer);
  return text(json.error_code) !== undefined && typeof json.message === 'string';
}
