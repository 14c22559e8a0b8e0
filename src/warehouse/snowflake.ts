/**
 * The cleanup script on Snowflake, through the SQL API v2: sent as ONE multi-statement request
 * (USE ROLE and session statements only work that way), asynchronously, then polled to its end.
 * A resend after a lost answer carries the same requestId with retry=true, so Snowflake never
 * runs the script twice. An answer counts only in the SQL API's own shape: a proxy's or a
 * sign-on page's 200 is a failure whose outcome is unknown, never a run.
 */
import { randomUUID } from 'node:crypto';
import type { HttpAnswer } from '../http/body.js';
import type { HttpCaller } from '../http/caller.js';
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { splitScript } from './split.js';
import { mintJwt, JWT_LIFETIME_SECONDS } from './snowflake-jwt.js';
import type { SnowflakeSettings } from './settings.js';
import { isRecord, pollDelay, sleep, text, WarehouseApi, type ApiRequest } from './api.js';
import {
  planRequest,
  reportedOffset,
  statementAt,
  withoutEnvelope,
  type SnowflakeRequestPlan
} from './snowflake-plan.js';
import { excerpt } from '../action/escape.js';
import {
  resumedFrom,
  startIndex,
  WarehouseError,
  type RunOptions,
  type ScriptRun,
  type ScriptRunner,
  type StatementResult
} from './types.js';

const STATEMENTS = '/api/v2/statements';

/** A run that ended early; `outcome` is what became of the statements not known to have run. */
class Stopped extends WarehouseError {
  constructor(
    message: string,
    readonly outcome: 'not-run' | 'unknown'
  ) {
    super(message);
  }
}

type Fields = Omit<ScriptRun, 'platform' | 'durationMs' | 'note'>;

/** How the request goes: under which requestId, sent before by an earlier attempt, waited for. */
interface Sending {
  readonly requestId: string;
  readonly resent: boolean;
  readonly wait: boolean;
}

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

  async check(): Promise<void> {
    // Sent to be waited for: SELECT 1 ends at once, so one round trip answers it, where an
    // asynchronous request would need a poll after the first wait.
    const run = await this.runWith('SELECT 1', undefined, true);
    if (run.status === 'ran') return;
    const session = [
      this.settings.role ? `role ${this.settings.role}` : "the user's default role",
      this.settings.warehouse
        ? `warehouse ${this.settings.warehouse}`
        : "the user's default warehouse"
    ].join(' and ');
    const refused = run.statements[0]?.outcome === 'failed';
    throw new WarehouseError(
      `Signing in to Snowflake and running SELECT 1 with ${session} failed: ${run.error ?? 'no reason given'}${
        refused
          ? ' Check snowflake-role and snowflake-warehouse: the user must be granted the role, and a multi-statement request needs a warehouse it may use (snowflake-warehouse, or the user’s DEFAULT_WAREHOUSE).'
          : ''
      }`
    );
  }

  run(script: string, options?: RunOptions): Promise<ScriptRun> {
    return this.runWith(script, options, false);
  }

  /** `wait`: Snowflake answers when the statement ends (up to 45 s), else at once with a handle. */
  private async runWith(
    script: string,
    options: RunOptions | undefined,
    wait: boolean
  ): Promise<ScriptRun> {
    const pieces = splitScript(script);
    const statements = pieces.map((p) => p.text);
    const startAt = startIndex(options, pieces.length);
    const started = Date.now();
    const requestId = options?.requestId ?? randomUUID();
    const finish = (fields: Fields): ScriptRun => ({
      platform: 'snowflake',
      durationMs: Date.now() - started,
      note: undefined,
      requestId,
      ...fields
    });
    if (startAt > 0 && startAt >= pieces.length) {
      return finish({
        status: 'ran',
        statements: resumedFrom(statements, startAt),
        statementsRun: 0,
        error: undefined
      });
    }
    const plan = planRequest(script, pieces, startAt);
    try {
      return finish(
        await this.execute(plan, statements, startAt, {
          requestId,
          resent: options?.requestId !== undefined,
          wait
        })
      );
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      const outcome = error instanceof Stopped ? error.outcome : 'unknown';
      return finish({
        status: 'failed',
        statements: resumedFrom(statements, startAt).map((s, i) =>
          i < startAt ? s : { ...s, outcome }
        ),
        statementsRun: outcome === 'not-run' ? 0 : undefined,
        error: error.message
      });
    }
  }

  /** The request, followed to its end; throws for any end that is not the SQL API's answer. */
  private async execute(
    plan: SnowflakeRequestPlan,
    statements: readonly string[],
    startAt: number,
    sending: Sending
  ): Promise<Fields> {
    const deadline = Date.now() + this.settings.timeoutMs;
    let { request, answer, json } = await this.submit(plan.text, sending);
    if (answer.status === 202) {
      let handle = text(json.statementHandle);
      const statusUrl = text(json.statementStatusUrl) ?? (handle && `${STATEMENTS}/${handle}`);
      if (!statusUrl || !statusUrl.startsWith('/')) {
        throw new Stopped(
          `${this.unexpected(request, answer, json).message} It named no statement to follow, so whether the script runs is unknown.`,
          'unknown'
        );
      }
      handle ??= statusUrl.split('/').pop();
      try {
        for (let poll = 0; answer.status === 202; poll++) {
          if (Date.now() >= deadline) {
            throw new WarehouseError(
              `The script did not finish within script-timeout-seconds (${this.settings.timeoutMs / 1000} s).`
            );
          }
          await sleep(Math.min(pollDelay(poll), Math.max(0, deadline - Date.now())));
          request = { method: 'GET', path: statusUrl, headers: this.headers() };
          ({ answer, json } = await this.api.send(request));
          if (answer.status === 202 && !text(json.statementHandle) && json.code !== '333334') {
            throw this.unexpected(request, answer, json);
          }
        }
        if (answer.status !== 200 && answer.status !== 422) {
          throw this.api.failure(request, answer, json, this.hintFor(answer.status));
        }
        if (answer.status === 200 && !isResult(json)) throw this.unexpected(request, answer, json);
        if (answer.status === 422 && !isError(json)) throw this.unexpected(request, answer, json);
      } catch (error) {
        if (!(error instanceof WarehouseError) || !handle) throw error;
        // Once accepted, the script runs on unless it is told to stop.
        await this.cancel(handle);
        throw new Stopped(
          `${error.message} A cancel was sent, but the script may still be running in Snowflake (statement handle ${excerpt(handle, 60)}); the statements that finished stay done.`,
          'unknown'
        );
      }
    }
    if (answer.status === 200) {
      if (!isResult(json)) {
        throw new Stopped(
          `${this.unexpected(request, answer, json).message} Whether the script ran is unknown.`,
          'unknown'
        );
      }
      const results = resumedFrom(statements, startAt).map((s, i): StatementResult =>
        i < startAt ? s : { ...s, outcome: 'ran' }
      );
      return {
        status: 'ran',
        statements: results,
        statementsRun: statements.length - startAt,
        error: undefined
      };
    }
    if (answer.status === 422 && isError(json))
      return this.failedAt(plan, statements, startAt, json);
    // Snowflake's own refusal of the request (sign-in, rights, a bad request): nothing ran. Any
    // other answer (a gateway's, a timeout) says nothing about whether the script was accepted.
    const refused = isError(json) && answer.status < 500 && answer.status !== 408;
    const failure = this.api.failure(request, answer, json, this.hintFor(answer.status));
    throw new Stopped(
      refused ? failure.message : `${failure.message} Whether the script runs is unknown.`,
      refused ? 'not-run' : 'unknown'
    );
  }

  /**
   * The script as one request, with the same requestId on every try; `resent` when an earlier
   * attempt of the run sent it under this requestId already.
   */
  private async submit(statement: string, { requestId, resent, wait }: Sending) {
    const body = JSON.stringify({
      statement,
      timeout: Math.ceil(this.settings.timeoutMs / 1000),
      ...(this.settings.role ? { role: this.settings.role } : {}),
      ...(this.settings.warehouse ? { warehouse: this.settings.warehouse } : {}),
      parameters: { MULTI_STATEMENT_COUNT: '0' }
    });
    const build = (attempt: number): ApiRequest => ({
      method: 'POST',
      path: `${STATEMENTS}?requestId=${requestId}${wait ? '' : '&async=true'}${attempt > 1 || resent ? '&retry=true' : ''}`,
      headers: { ...this.headers(), 'content-type': 'application/json' },
      body
    });
    try {
      const sent = await this.api.send(build);
      return { request: build(1), ...sent };
    } catch (error) {
      if (!(error instanceof WarehouseError)) throw error;
      throw new Stopped(
        `${error.message} Snowflake may have accepted the script before the answer was lost, so whether it runs is unknown.`,
        'unknown'
      );
    }
  }

  /**
   * A 422: the request failed at one statement, found from the position Snowflake reports,
   * mapped through the statements' offsets in the text sent; those before it ran, those after
   * did not. Without a position, how far it got is unknown.
   */
  private failedAt(
    plan: SnowflakeRequestPlan,
    statements: readonly string[],
    startAt: number,
    json: Record<string, unknown>
  ): Fields {
    const raw = text(json.message) ?? '';
    const message = excerpt(this.secrets.redact(withoutEnvelope(raw)), 400);
    const code = text(json.code);
    const offset = reportedOffset(raw, plan.text);
    const at = offset === undefined ? undefined : statementAt(offset, plan.sent);
    const failed = at === undefined ? undefined : plan.sent[at]!;
    const ran = new Set(
      plan.sent
        .slice(0, at ?? 0)
        .filter((s) => !s.replay)
        .map((s) => s.index)
    );
    const results = resumedFrom(statements, startAt).map((s, i): StatementResult => {
      if (i < startAt) return failed?.index === i ? { ...s, error: message } : s;
      if (failed === undefined) return { ...s, outcome: 'unknown' };
      if (ran.has(i)) return { ...s, outcome: 'ran' };
      return failed.index === i ? { ...s, outcome: 'failed', error: message } : s;
    });
    const which =
      failed === undefined
        ? 'The script failed, and Snowflake did not say at which statement, so what ran before it is unknown'
        : `Statement ${failed.index + 1} of ${statements.length} failed${failed.replay ? ' (replayed for the session of a resumed run)' : ''} (${excerpt(statements[failed.index] ?? '', 120)})`;
    return {
      status: 'failed',
      statements: results,
      statementsRun: failed === undefined ? undefined : ran.size,
      error: `${which}: ${message}${code ? ` (${excerpt(code, 40)})` : ''}`
    };
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

  private async cancel(handle: string): Promise<void> {
    await this.api
      .send({
        method: 'POST',
        path: `${STATEMENTS}/${encodeURIComponent(handle)}/cancel`,
        headers: this.headers()
      })
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
    if (status === 404)
      return `${this.settings.host} has no Snowflake SQL API there: check snowflake-account (the identifier before .snowflakecomputing.com) and snowflake-host.`;
    return undefined;
  }
}

/** The SQL API's answer for a finished request. */
function isResult(json: Record<string, unknown>): boolean {
  return (
    json.code === '090001' ||
    (text(json.statementHandle) !== undefined &&
      (Array.isArray(json.statementHandles) || isRecord(json.resultSetMetaData)))
  );
}

/** The SQL API's error shape: a code and a message. */
function isError(json: Record<string, unknown>): boolean {
  return text(json.code) !== undefined && typeof json.message === 'string';
}
