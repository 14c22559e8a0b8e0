/**
 * The cleanup script on Snowflake, through the SQL API v2: sent unchanged as ONE multi-statement
 * request (USE ROLE and session statements only work that way), asynchronously, then polled to
 * its end. A resend after a lost answer carries the same requestId with retry=true, so Snowflake
 * never runs the script twice.
 */
import { randomUUID } from 'node:crypto';
import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { splitStatements } from './split.js';
import { mintJwt, JWT_LIFETIME_SECONDS } from './snowflake-jwt.js';
import type { SnowflakeSettings } from './settings.js';
import { pollDelay, sleep, text, WarehouseApi, type ApiRequest } from './api.js';
import { excerpt } from '../action/escape.js';
import {
  notRun,
  WarehouseError,
  type ScriptRun,
  type ScriptRunner,
  type StatementResult
} from './types.js';

const STATEMENTS = '/api/v2/statements';

export class SnowflakeRunner implements ScriptRunner {
  readonly platform = 'snowflake';
  private readonly api: WarehouseApi;
  private jwt: { token: string; mintedAt: number } | undefined;

  constructor(
    private readonly settings: SnowflakeSettings,
    private readonly secrets: Secrets,
    caller: HttpCaller
  ) {
    this.api = new WarehouseApi(settings.host, 'Snowflake', caller, (t) => secrets.redact(t));
  }

  async run(script: string): Promise<ScriptRun> {
    const statements = splitStatements(script);
    const started = Date.now();
    const deadline = started + this.settings.timeoutMs;
    const finish = (fields: Omit<ScriptRun, 'platform' | 'durationMs' | 'note'>): ScriptRun => ({
      platform: 'snowflake',
      durationMs: Date.now() - started,
      note: undefined,
      ...fields
    });
    try {
      let { request, answer, json } = await this.submit(script);
      let handle = text(json.statementHandle);
      for (let poll = 0; answer.status === 202; poll++) {
        const statusUrl = text(json.statementStatusUrl) ?? (handle && `${STATEMENTS}/${handle}`);
        if (!statusUrl || !statusUrl.startsWith('/')) {
          throw this.api.failure(request, answer, json, 'Its answer named no statement to follow.');
        }
        if (Date.now() >= deadline) {
          if (handle) await this.cancel(handle);
          throw new WarehouseError(
            `The script did not finish within script-timeout-seconds (${this.settings.timeoutMs / 1000} s); it was cancelled, and the statements that finished before stay done.`
          );
        }
        await sleep(Math.min(pollDelay(poll), Math.max(0, deadline - Date.now())));
        request = { method: 'GET', path: statusUrl, headers: this.headers() };
        ({ answer, json } = await this.api.send(request));
        handle = text(json.statementHandle) ?? handle;
      }
      if (answer.status === 200) {
        const handles = Array.isArray(json.statementHandles)
          ? json.statementHandles.length
          : undefined;
        return finish({
          status: 'ran',
          statements: statements.map((t) => ({
            text: t,
            outcome: 'ran',
            durationMs: undefined,
            error: undefined
          })),
          statementsRun: handles ?? statements.length,
          error: undefined
        });
      }
      if (answer.status === 422) return finish(this.failedAt(statements, json));
      throw this.api.failure(request, answer, json, this.hintFor(answer.status));
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      return finish({
        status: 'failed',
        statements: notRun(statements).map((s) => ({ ...s, outcome: 'unknown' as const })),
        statementsRun: undefined,
        error: error.message
      });
    }
  }

  /** The script as one request, with the same requestId on every attempt. */
  private async submit(script: string) {
    const requestId = randomUUID();
    const body = JSON.stringify({
      statement: script,
      timeout: Math.ceil(this.settings.timeoutMs / 1000),
      ...(this.settings.role ? { role: this.settings.role } : {}),
      ...(this.settings.warehouse ? { warehouse: this.settings.warehouse } : {}),
      parameters: { MULTI_STATEMENT_COUNT: '0' }
    });
    const build = (attempt: number): ApiRequest => ({
      method: 'POST',
      path: `${STATEMENTS}?requestId=${requestId}&async=true${attempt > 1 ? '&retry=true' : ''}`,
      headers: { ...this.headers(), 'content-type': 'application/json' },
      body
    });
    const sent = await this.api.send(build);
    return { request: build(1), ...sent };
  }

  /** A 422: the script failed at one statement; those before it ran, those after did not. */
  private failedAt(
    statements: readonly string[],
    json: Record<string, unknown>
  ): Omit<ScriptRun, 'platform' | 'durationMs' | 'note'> {
    const message = this.secrets.redact(text(json.message) ?? 'no message');
    const code = text(json.code);
    const position = failingPosition(message, statements.length);
    const results: StatementResult[] = statements.map((t, i) => {
      if (position === undefined)
        return { text: t, outcome: 'unknown', durationMs: undefined, error: undefined };
      const n = i + 1;
      return n < position
        ? { text: t, outcome: 'ran', durationMs: undefined, error: undefined }
        : n === position
          ? { text: t, outcome: 'failed', durationMs: undefined, error: message }
          : { text: t, outcome: 'not-run', durationMs: undefined, error: undefined };
    });
    const which =
      position === undefined
        ? 'The script failed'
        : `Statement ${position} of ${statements.length} failed (${excerpt(statements[position - 1] ?? '', 120)})`;
    return {
      status: 'failed',
      statements: results,
      statementsRun: position === undefined ? undefined : position - 1,
      error: `${which}: ${message}${code ? ` (${code})` : ''}`
    };
  }

  private async cancel(handle: string): Promise<void> {
    await this.api
      .send({ method: 'POST', path: `${STATEMENTS}/${handle}/cancel`, headers: this.headers() })
      .catch(() => undefined);
  }

  private headers(): Record<string, string> {
    const auth = this.settings.auth;
    return {
      authorization: `Bearer ${auth.kind === 'token' ? auth.token : this.token()}`,
      'x-snowflake-authorization-token-type':
        auth.kind === 'token' ? auth.tokenType : 'KEYPAIR_JWT',
      accept: 'application/json',
      'user-agent': USER_AGENT
    };
  }

  /** A JWT, minted again well before it expires, so a long poll never sends a stale one. */
  private token(): string {
    const auth = this.settings.auth;
    if (auth.kind !== 'key-pair') throw new Error('no key pair');
    const now = Math.floor(Date.now() / 1000);
    if (!this.jwt || now - this.jwt.mintedAt > JWT_LIFETIME_SECONDS - 600) {
      const token = mintJwt({ ...this.settings, ...auth }, now);
      this.secrets.add(token);
      this.jwt = { token, mintedAt: now };
    }
    return this.jwt.token;
  }

  private hintFor(status: number): string | undefined {
    if (status === 401) {
      return this.settings.auth.kind === 'key-pair'
        ? "Snowflake refused the key-pair token: check that the user's RSA_PUBLIC_KEY is the public half of snowflake-private-key (ALTER USER … SET RSA_PUBLIC_KEY), and snowflake-account and snowflake-user."
        : "Snowflake refused the token: it is wrong or expired, snowflake-token-type does not match it, or the user's network policy does not allow this runner.";
    }
    if (status === 403)
      return 'The user may not run this: check its role and privileges (the script needs ACCOUNTADMIN or equivalent).';
    return undefined;
  }
}

/**
 * Which statement failed (1-based), from Snowflake's message for a multi-statement failure,
 * which names the statement by its position; undefined when the message does not.
 */
export function failingPosition(message: string, count: number): number | undefined {
  const m = /\bstatement\s*(?:#|number\s*)?(\d+)\b/i.exec(message);
  const n = m ? Number(m[1]) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= count ? n : undefined;
}
