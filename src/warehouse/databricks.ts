/**
 * The cleanup script on Databricks, through the Statement Execution API 2.0: one statement a
 * request, in order, each polled to its end. A statement can fail with HTTP 200 and state
 * FAILED: the run stops there and nothing after it runs. A statement request is sent again only
 * when Databricks itself said it did not take it (429, or 503 in its own error shape): one whose
 * answer was lost, timed out at a gateway (408, 502, 504) or came back in any other shape may have
 * been carried out, so it is reported unknown and the run stops, never run twice.
 */
import type { HttpAnswer } from '../http/body.js';
import { SETTLED, type HttpCaller } from '../http/caller.js';
import { parseJson } from '../immuta/responses.js';
import { answerText } from '../http/body.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { excerpt } from '../action/escape.js';
import { splitStatements } from './split.js';
import type { DatabricksSettings } from './settings.js';
import { isRecord, pollDelay, sleep, text, WarehouseApi, type ApiRequest } from './api.js';
import {
  resumedFrom,
  startIndex,
  WarehouseError,
  type RunOptions,
  type ScriptRun,
  type ScriptRunner,
  type StatementResult
} from './types.js';

const STATEMENTS = '/api/2.0/sql/statements';
/** CLOSED: it succeeded and its result is gone already; finished, not failed. */
const SUCCEEDED = new Set(['SUCCEEDED', 'CLOSED']);
const DONE = new Set([...SUCCEEDED, 'FAILED', 'CANCELED']);

/** A statement that ended the run; `outcome` is what became of it. */
class Stopped extends WarehouseError {
  constructor(
    message: string,
    readonly outcome: 'failed' | 'unknown'
  ) {
    super(message);
  }
}

export class DatabricksRunner implements ScriptRunner {
  readonly platform = 'databricks';
  private readonly api: WarehouseApi;
  private bearer: string | undefined;

  constructor(
    private readonly settings: DatabricksSettings,
    private readonly secrets: Secrets,
    caller: HttpCaller
  ) {
    this.api = new WarehouseApi(settings.host, 'Databricks', caller, (t) => secrets.redact(t));
  }

  async check(): Promise<void> {
    const run = await this.run('SELECT 1');
    if (run.status === 'ran') return;
    throw new WarehouseError(
      `Signing in to Databricks and running SELECT 1 on SQL warehouse ${this.settings.warehouseId} failed: ${run.error ?? 'no reason given'}`
    );
  }

  async run(script: string, options?: RunOptions): Promise<ScriptRun> {
    const statements = splitStatements(script);
    const startAt = startIndex(options, statements.length);
    const started = Date.now();
    const deadline = started + this.settings.timeoutMs;
    const results: StatementResult[] = resumedFrom(statements, startAt);
    const finish = (status: 'ran' | 'failed', error?: string): ScriptRun => ({
      platform: 'databricks',
      status,
      statements: results,
      statementsRun: results.filter((r) => r.outcome === 'ran').length,
      durationMs: Date.now() - started,
      error,
      note: undefined
    });
    let i = startAt;
    try {
      this.bearer ??= await this.signIn();
      for (; i < statements.length; i++) {
        const statement = statements[i]!;
        const began = Date.now();
        const { state, error } = await this.execute(statement, deadline);
        const durationMs = Date.now() - began;
        if (SUCCEEDED.has(state)) {
          results[i] = { text: statement, outcome: 'ran', durationMs, error: undefined };
          continue;
        }
        results[i] = { text: statement, outcome: 'failed', durationMs, error };
        return finish(
          'failed',
          `Statement ${i + 1} of ${statements.length} ${state === 'FAILED' ? 'failed' : `ended ${state}`} (${excerpt(statement, 120)}): ${error}`
        );
      }
      return finish('ran');
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      if (error instanceof Stopped && i < statements.length) {
        const statement = statements[i]!;
        results[i] = {
          text: statement,
          outcome: error.outcome,
          durationMs: undefined,
          error: error.message
        };
        return finish(
          'failed',
          `Statement ${i + 1} of ${statements.length} (${excerpt(statement, 120)}): ${error.message}`
        );
      }
      return finish('failed', error.message);
    }
  }

  /** One statement, from its request to a terminal state. */
  private async execute(
    statement: string,
    deadline: number
  ): Promise<{ state: string; error: string | undefined }> {
    const request: ApiRequest = {
      method: 'POST',
      path: STATEMENTS,
      headers: { ...this.headers(), 'content-type': 'application/json' },
      body: JSON.stringify({
        statement,
        warehouse_id: this.settings.warehouseId,
        wait_timeout: '0s',
        on_wait_timeout: 'CONTINUE',
        // The cleanup's results are not read: a large one must never stand between the
        // statement's end and the answer that says so.
        disposition: 'INLINE',
        format: 'JSON_ARRAY',
        row_limit: 1,
        byte_limit: 1024
      })
    };
    let refused: HttpAnswer | undefined;
    let answer: HttpAnswer;
    let json: Record<string, unknown>;
    try {
      ({ answer, json } = await this.api.send(request, {
        resendLost: false,
        retryable: (status) => status === 429 || status === 503,
        // Only Databricks' own "not now" means it did not take the statement.
        beforeResend: async (previous) => {
          refused = previous;
          return previous === undefined || !isDatabricksError(previous);
        }
      }));
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      throw new Stopped(
        `${error.message} Databricks may have started the statement before the answer was lost, so it was not sent again and the run stops here; whether it ran is unknown.`,
        'unknown'
      );
    }
    if (answer === SETTLED) answer = refused!;
    json = answer === refused ? jsonOf(answer) : json;
    if (answer.status !== 200) {
      const failure = this.api.failure(request, answer, json, this.hintFor(answer.status));
      // Databricks' own refusal (a bad request, credentials, rights, "not now") means it did not
      // take the statement; its own 500 may come after it started.
      const refusedByDatabricks =
        isDatabricksError(answer) &&
        ((answer.status < 500 && answer.status !== 408) || answer.status === 503);
      if (refusedByDatabricks) throw new Stopped(failure.message, 'failed');
      throw new Stopped(
        `${failure.message} That answer does not say whether Databricks took the statement, so it was not sent again and the run stops here; whether it ran is unknown.`,
        'unknown'
      );
    }
    const id = text(json.statement_id);
    let status = isRecord(json.status) ? json.status : undefined;
    if (!id || typeof status?.state !== 'string') {
      throw new Stopped(
        `${this.unexpected(request, answer, json).message} Whether Databricks took the statement is unknown, so the run stops here.`,
        'unknown'
      );
    }
    try {
      for (let poll = 0; !DONE.has(String(status.state)); poll++) {
        if (Date.now() >= deadline) {
          throw new WarehouseError(
            `The script did not finish within script-timeout-seconds (${this.settings.timeoutMs / 1000} s).`
          );
        }
        await sleep(Math.min(pollDelay(poll), Math.max(0, deadline - Date.now())));
        const check: ApiRequest = {
          method: 'GET',
          path: `${STATEMENTS}/${encodeURIComponent(id)}`,
          headers: this.headers()
        };
        ({ answer, json } = await this.api.send(check));
        if (answer.status !== 200)
          throw this.api.failure(check, answer, json, this.hintFor(answer.status));
        status = isRecord(json.status) ? json.status : undefined;
        if (typeof status?.state !== 'string') throw this.unexpected(check, answer, json);
      }
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      // Accepted, it runs on unless told to stop.
      await this.api
        .send({
          method: 'POST',
          path: `${STATEMENTS}/${encodeURIComponent(id)}/cancel`,
          headers: this.headers()
        })
        .catch(() => undefined);
      throw new Stopped(
        `${error.message} A cancel was sent, but the statement may still be running in Databricks (statement_id ${excerpt(id, 60)}); those before it stay done.`,
        'unknown'
      );
    }
    const failure = isRecord(status.error) ? status.error : {};
    const said = text(failure.message);
    const code = text(failure.error_code);
    const error = SUCCEEDED.has(String(status.state))
      ? undefined
      : `${said ? excerpt(this.secrets.redact(said), 400) : 'no message'}${code ? ` (${excerpt(code, 60)})` : ''}`;
    return { state: String(status.state), error };
  }

  /** The bearer: the token as given, or one from the workspace's OAuth endpoint (M2M). */
  private async signIn(): Promise<string> {
    const auth = this.settings.auth;
    if (auth.kind === 'token') return auth.token;
    const basic = Buffer.from(
      `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`
    ).toString('base64');
    // The header's value is the credential in another form: a server may echo it back.
    this.secrets.add(basic);
    const request: ApiRequest = {
      method: 'POST',
      path: '/oidc/v1/token',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'user-agent': USER_AGENT
      },
      body: 'grant_type=client_credentials&scope=all-apis'
    };
    const { answer, json } = await this.api.send(request);
    const token = text(json.access_token);
    if (answer.status !== 200 || !token) {
      throw this.api.failure(
        request,
        answer,
        json,
        answer.status === 401 || answer.status === 400
          ? 'Databricks refused the service principal: check databricks-client-id and databricks-client-secret, and that the principal is in this workspace.'
          : answer.status === 404
            ? 'Check databricks-host: it must be the workspace URL.'
            : 'Its answer held no access_token.'
      );
    }
    if (token.length < 8 || /\p{Cc}/u.test(token)) {
      throw new WarehouseError(
        'The OAuth token Databricks returned is not one the action can send or mask.'
      );
    }
    this.secrets.add(token);
    return token;
  }

  /** An answer that is not Databricks' own, said with what came back. */
  private unexpected(request: ApiRequest, answer: HttpAnswer, json: Record<string, unknown>) {
    return this.api.failure(
      request,
      answer,
      json,
      `That is not the Statement Execution API's answer (content type ${excerpt(answer.contentType ?? 'none', 60)}): a proxy or a gateway may have answered.`
    );
  }

  private headers(): Record<string, string> {
    return {
      authorization: `Bearer ${this.bearer ?? ''}`,
      accept: 'application/json',
      'user-agent': USER_AGENT
    };
  }

  private hintFor(status: number): string | undefined {
    if (status === 401 || status === 403) {
      return 'Databricks refused the credentials or their permissions: check the token or service principal, and that it may use the SQL warehouse.';
    }
    if (status === 404) return 'Check databricks-host and databricks-warehouse-id.';
    return undefined;
  }
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
