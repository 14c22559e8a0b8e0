/**
 * Who a warehouse request is from: the headers that say it, current when asked. Each way of
 * signing in is one `WarehouseAuth`; the adapters ask for the headers before every request and
 * know nothing of how they are made, so another way (an OIDC token from GitHub, exchanged or
 * sent as it is) is one more implementation here. A token that expires is renewed before it
 * does, in one place: `RenewingToken`.
 */
import type { Secrets } from '../action/secrets.js';
import { USER_AGENT } from '../action/version.js';
import { mintJwt, JWT_LIFETIME_SECONDS } from './snowflake-jwt.js';
import type { DatabricksSettings, SnowflakeSettings } from './settings.js';
import { text, WarehouseApi, type ApiRequest } from './api.js';
import { WarehouseError } from './types.js';

export interface WarehouseAuth {
  /** The headers that sign the next request; a token near its end is renewed first. */
  headers(): Promise<Record<string, string>>;
  /** What to check when the platform refuses them (401). */
  readonly refusedHint: string;
}

/**
 * A token from an endpoint, fetched when first needed and again before it expires: when less
 * than a fifth of its life, and at most five minutes, is left. Its lifetime is what the endpoint
 * said (expires_in), so a short-lived token is renewed as often as it needs.
 */
export class RenewingToken {
  private held: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly fetch: () => Promise<{ token: string; expiresInSeconds: number }>,
    private readonly now: () => number = Date.now
  ) {}

  async current(): Promise<string> {
    if (this.held && this.now() < this.held.renewAt) return this.held.token;
    this.pending ??= this.renew().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async renew(): Promise<string> {
    const asked = this.now();
    const { token, expiresInSeconds } = await this.fetch();
    const lifeMs = expiresInSeconds * 1000;
    const margin = Math.min(300_000, lifeMs / 5);
    this.held = { token, renewAt: asked + lifeMs - margin };
    return token;
  }
}

export function snowflakeAuth(settings: SnowflakeSettings, secrets: Secrets): WarehouseAuth {
  const auth = settings.auth;
  if (auth.kind === 'token') {
    return {
      headers: async () => ({
        authorization: `Bearer ${auth.token}`,
        'x-snowflake-authorization-token-type': auth.tokenType
      }),
      refusedHint:
        "Snowflake refused the token: it is wrong or expired, snowflake-token-type does not match it, or the user's network policy does not allow this runner."
    };
  }
  // A JWT lives under an hour: minted again well before, so a long run never sends a stale one.
  let jwt: { token: string; mintedAt: number } | undefined;
  return {
    headers: async () => {
      const now = Math.floor(Date.now() / 1000);
      if (!jwt || now - jwt.mintedAt > JWT_LIFETIME_SECONDS - 600) {
        const token = mintJwt({ ...settings, ...auth }, now);
        secrets.add(token);
        jwt = { token, mintedAt: now };
      }
      return {
        authorization: `Bearer ${jwt.token}`,
        'x-snowflake-authorization-token-type': 'KEYPAIR_JWT'
      };
    },
    refusedHint:
      "Snowflake refused the key-pair token: check that the user's RSA_PUBLIC_KEY is the public half of snowflake-private-key (ALTER USER … SET RSA_PUBLIC_KEY), and snowflake-account and snowflake-user."
  };
}

/** Databricks' OAuth tokens say how long they live; one hour when an answer leaves it out. */
const DEFAULT_TOKEN_SECONDS = 3600;

export function databricksAuth(
  settings: DatabricksSettings,
  secrets: Secrets,
  api: WarehouseApi
): WarehouseAuth {
  const auth = settings.auth;
  if (auth.kind === 'token') {
    return {
      headers: async () => ({ authorization: `Bearer ${auth.token}` }),
      refusedHint: 'Databricks refused databricks-token: it is wrong, expired or revoked.'
    };
  }
  const token = new RenewingToken(() => clientCredentials(auth, secrets, api));
  return {
    headers: async () => ({ authorization: `Bearer ${await token.current()}` }),
    refusedHint:
      'Databricks refused the OAuth token of the service principal: check that it is in this workspace and may use the warehouse.'
  };
}

/** OAuth M2M: the workspace's token endpoint, the principal's ID and secret as HTTP Basic. */
async function clientCredentials(
  auth: { clientId: string; clientSecret: string },
  secrets: Secrets,
  api: WarehouseApi
): Promise<{ token: string; expiresInSeconds: number }> {
  const basic = Buffer.from(
    `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`
  ).toString('base64');
  // The header's value is the credential in another form: a server may echo it back.
  secrets.add(basic);
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
  const { answer, json } = await api.send(request);
  const token = text(json.access_token);
  if (answer.status !== 200 || !token) {
    throw api.failure(
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
  secrets.add(token);
  const seconds = json.expires_in;
  const expiresInSeconds =
    typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0
      ? seconds
      : typeof seconds === 'string' && /^\d{1,9}$/.test(seconds) && Number(seconds) > 0
        ? Number(seconds)
        : DEFAULT_TOKEN_SECONDS;
  return { token, expiresInSeconds };
}
