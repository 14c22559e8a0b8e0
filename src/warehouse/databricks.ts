/**
 * The cleanup script on Databricks, through the Statement Execution API 2.0: one statement a
 * request, in order, each polled to its end. A statement can fail with HTTP 200 and state
 * FAILED: the run stops there and nothing after it runs. A statement request whose answer was
 * lost is not sent again, because Databricks could run it twice.
 */
import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { excerpt } from '../action/escape.js';
import { splitStatements } from './split.js';
import type { DatabricksSettings } from './settings.js';
import { isRecord, pollDelay, sleep, text, WarehouseApi, type ApiRequest } from './api.js';
import {
  WarehouseError,
  type ScriptRun,
  type ScriptRunner,
  type StatementResult
} from './types.js';

const STATEMENTS = '/api/2.0/sql/statements';
const DONE = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'CLOSED']);

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

  async run(script: string): Promise<ScriptRun> {
    const statements = splitStatements(script);
    const started = Date.now();
    const deadline = started + this.settings.timeoutMs;
    const results: StatementResult[] = statements.map((t) => ({
      text: t,
      outcome: 'not-run',
      durationMs: undefined,
      error: undefined
    }));
    const finish = (status: 'ran' | 'failed', error?: string): ScriptRun => ({
      platform: 'databricks',
      status,
      statements: results,
      statementsRun: results.filter((r) => r.outcome === 'ran').length,
      durationMs: Date.now() - started,
      error,
      note: undefined
    });
    try {
      this.bearer ??= await this.signIn();
      for (const [i, statement] of statements.entries()) {
        const began = Date.now();
        const { state, error } = await this.execute(statement, deadline);
        const durationMs = Date.now() - began;
        if (state === 'SUCCEEDED') {
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
        on_wait_timeout: 'CONTINUE'
      })
    };
    let { answer, json } = await this.api.send(request, { resendLost: false });
    if (answer.status !== 200)
      throw this.api.failure(request, answer, json, this.hintFor(answer.status));
    const id = text(json.statement_id);
    if (!id) throw this.api.failure(request, answer, json, 'Its answer named no statement_id.');
    let status = isRecord(json.status) ? json.status : {};
    for (let poll = 0; !DONE.has(String(status.state)); poll++) {
      if (Date.now() >= deadline) {
        await this.api
          .send({ method: 'POST', path: `${STATEMENTS}/${id}/cancel`, headers: this.headers() })
          .catch(() => undefined);
        throw new WarehouseError(
          `The script did not finish within script-timeout-seconds (${this.settings.timeoutMs / 1000} s): the statement running then was cancelled (${excerpt(statement, 120)}); those before it stay done.`
        );
      }
      await sleep(Math.min(pollDelay(poll), Math.max(0, deadline - Date.now())));
      const check: ApiRequest = {
        method: 'GET',
        path: `${STATEMENTS}/${id}`,
        headers: this.headers()
      };
      ({ answer, json } = await this.api.send(check));
      if (answer.status !== 200)
        throw this.api.failure(check, answer, json, this.hintFor(answer.status));
      status = isRecord(json.status) ? json.status : {};
    }
    const failure = isRecord(status.error) ? status.error : {};
    const said = text(failure.message);
    const code = text(failure.error_code);
    const error =
      status.state === 'SUCCEEDED'
        ? undefined
        : `${said ? excerpt(this.secrets.redact(said), 400) : 'no message'}${code ? ` (${code})` : ''}`;
    return { state: String(status.state), error };
  }

  /** The bearer: the token as given, or one from the workspace's OAuth endpoint (M2M). */
  private async signIn(): Promise<string> {
    const auth = this.settings.auth;
    if (auth.kind === 'token') return auth.token;
    const basic = Buffer.from(
      `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`
    ).toString('base64');
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
