/**
 * GitHub's OIDC token for the job, as `@actions/core`'s `getIDToken` fetches it (from
 * ACTIONS_ID_TOKEN_REQUEST_URL, with the job's request token): asked for with a deadline, taken
 * only in the shape of a JWT whose claims can be read, masked the moment it is known, and held
 * in memory only. Its claims are not secret; `sub` and `aud` are what a Snowflake user's
 * WORKLOAD_IDENTITY or a Databricks federation policy must name, so a refusal shows them.
 */
import type { Secrets } from '../action/secrets.js';
import { errorText } from '../action/error-text.js';
import { excerpt } from '../action/escape.js';
import { WarehouseError } from './types.js';

/** The claims the action reads; the rest of GitHub's are left as they are. */
export interface IdTokenClaims {
  readonly iss: string | undefined;
  readonly sub: string | undefined;
  readonly aud: string | readonly string[] | undefined;
  /** Seconds since the epoch. */
  readonly exp: number;
}

export interface IdToken {
  readonly jwt: string;
  readonly claims: IdTokenClaims;
}

/** A JWT is three base64url parts; GitHub's are about 1 KiB, so 16 KiB is far past any. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_JWT_LENGTH = 16 * 1024;

export interface IdTokenOptions {
  readonly audience: string;
  readonly secrets: Secrets;
  /** How long one fetch may take (timeout-seconds). */
  readonly timeoutMs: number;
  /** The request token of the job, sent by the toolkit as Bearer: a secret too. */
  readonly requestToken: string | undefined;
  readonly get: (audience: string) => Promise<string>;
  readonly log: { info(message: string): void };
  readonly now?: () => number;
}

/** The job's ID tokens for one audience: a fresh one each time `fresh` is called. */
export class GitHubIdTokens {
  private latest: IdToken | undefined;
  private told = false;

  constructor(private readonly options: IdTokenOptions) {
    if (options.requestToken) options.secrets.add(options.requestToken);
  }

  get audience(): string {
    return this.options.audience;
  }

  /** The claims a refusal shows, of the token sent last: `sub "…", aud "…"`. */
  claimsSaid(): string {
    const claims = this.latest?.claims;
    if (claims === undefined) return `aud ${quoted(this.options.audience)} (asked for)`;
    const aud = Array.isArray(claims.aud) ? claims.aud.join(', ') : (claims.aud ?? 'none');
    return `sub ${quoted(claims.sub ?? 'none')}, aud ${quoted(String(aud))}, iss ${quoted(claims.iss ?? 'none')}`;
  }

  /** A new token from GitHub; throws a WarehouseError that says why none came. */
  async fresh(): Promise<IdToken> {
    const { audience, secrets, timeoutMs, get } = this.options;
    let jwt: string;
    let timer: NodeJS.Timeout | undefined;
    try {
      jwt = await Promise.race([
        get(audience),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs / 1000} s (timeout-seconds)`)),
            timeoutMs
          );
        })
      ]);
    } catch (error) {
      throw new WarehouseError(
        `GitHub gave no ID token for audience ${quoted(audience)}: ${excerpt(secrets.redact(errorText(error)), 300)}. The job needs \`permissions: id-token: write\`; if it has it, GitHub's token service failed, and a re-run asks again.`
      );
    } finally {
      clearTimeout(timer);
    }
    if (typeof jwt === 'string' && jwt.length >= 8) secrets.add(jwt);
    const token = readIdToken(jwt, this.now());
    if (typeof token === 'string') {
      throw new WarehouseError(
        `What GitHub's token service answered for audience ${quoted(audience)} is not an ID token: ${token}. A proxy may have answered in its place.`
      );
    }
    this.latest = token;
    if (!this.told) {
      this.told = true;
      this.options.log.info(
        `Got GitHub's ID token for this job: ${this.claimsSaid()}; it expires in ${token.claims.exp - Math.floor(this.now() / 1000)} s and is fetched again before it does.`
      );
    }
    return token;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** The token's claims, or why the value is not a JWT the action can use. */
export function readIdToken(value: unknown, nowMs: number): IdToken | string {
  if (typeof value !== 'string' || value.length > MAX_JWT_LENGTH || !JWT.test(value)) {
    return typeof value === 'string'
      ? `it is not a JWT (${value.length} characters)`
      : 'it holds no token';
  }
  let claims: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value.split('.')[1]!, 'base64url').toString());
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error();
    claims = parsed as Record<string, unknown>;
  } catch {
    return 'its claims cannot be read';
  }
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'it has no expiry (exp)';
  if (exp * 1000 <= nowMs) {
    return `it expired at ${new Date(exp * 1000).toISOString()}, before it arrived: check the runner's clock`;
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const aud = claims.aud;
  return {
    jwt: value,
    claims: {
      iss: text(claims.iss),
      sub: text(claims.sub),
      aud: Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : text(aud),
      exp
    }
  };
}

/** A claim quoted for a message: JSON's quotes and escapes, cut short. */
function quoted(value: string): string {
  return excerpt(JSON.stringify(value), 200);
}
