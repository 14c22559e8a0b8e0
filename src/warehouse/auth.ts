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
import { SNOWFLAKE_AUDIENCE, type DatabricksSettings, type SnowflakeSettings } from './settings.js';
import { text, WarehouseApi, type ApiRequest } from './api.js';
import { WarehouseError } from './types.js';
import type { GitHubIdTokens } from './github-oidc.js';

export interface WarehouseAuth {
  /**
   * The headers that sign the next request; a token near its end is renewed first. Throws
   * SignInFailed when none can be made: the request was not sent.
   */
  headers(): Promise<Record<string, string>>;
  /** What to check when the platform refuses them (401). */
  readonly refusedHint: string;
}

/** No headers could be made (a token could not be had or renewed): nothing was sent. */
export class SignInFailed extends WarehouseError {
  constructor(message: string) {
    super(message);
    this.name = 'SignInFailed';
  }
}

/** Headers made by `make`, any failure to make them said as SignInFailed. */
async function signed(make: () => Promise<Record<string, string>>) {
  try {
    return await make();
  } catch (error) {
    if (error instanceof SignInFailed || !(error instanceof WarehouseError)) throw error;
    throw new SignInFailed(error.message);
  }
}

/** GitHub Actions' OIDC issuer. */
const ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

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

export function snowflakeAuth(
  settings: SnowflakeSettings,
  secrets: Secrets,
  idTokens?: GitHubIdTokens
): WarehouseAuth {
  const auth = settings.auth;
  if (auth.kind === 'oidc') {
    const tokens = needed(idTokens);
    // Workload identity federation: GitHub's token itself, in the form Snowflake's own REST
    // clients send it, with no token-type header (snowflakedb/snowflake-openflow-components,
    // SnowflakeManagedTokenAuthorizationProvider). Each request carries a current one.
    const token = new RenewingToken(() => idTokenFor(tokens));
    return {
      headers: () =>
        signed(async () => ({ authorization: `Bearer WIF.OIDC.${await token.current()}` })),
      get refusedHint() {
        return `Snowflake refused GitHub's ID token (${tokens.claimsSaid()}). The service user's WORKLOAD_IDENTITY must be TYPE = OIDC with ISSUER = '${ACTIONS_ISSUER}' and SUBJECT equal to that sub, and the token's aud must be in its OIDC_AUDIENCE_LIST (${SNOWFLAKE_AUDIENCE} when the list is not set); oidc-audience sets the aud asked for.`;
      }
    };
  }
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
        const token = mintJwt({ account: settings.account, ...auth }, now);
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
  api: WarehouseApi,
  idTokens?: GitHubIdTokens
): WarehouseAuth {
  const auth = settings.auth;
  if (auth.kind === 'oidc') {
    const tokens = needed(idTokens);
    const token = new RenewingToken(() => tokenExchange(auth.clientId, tokens, secrets, api));
    return {
      headers: () => signed(async () => ({ authorization: `Bearer ${await token.current()}` })),
      get refusedHint() {
        return `Databricks refused the token it gave for GitHub's ID token (${tokens.claimsSaid()}): check that service principal ${auth.clientId} is in this workspace and may use the warehouse.`;
      }
    };
  }
  if (auth.kind === 'token') {
    return {
      headers: async () => ({ authorization: `Bearer ${auth.token}` }),
      refusedHint: 'Databricks refused databricks-token: it is wrong, expired or revoked.'
    };
  }
  const token = new RenewingToken(() => clientCredentials(auth, secrets, api));
  return {
    headers: () => signed(async () => ({ authorization: `Bearer ${await token.current()}` })),
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
  const { token, json } = await workspaceToken(
    api,
    { authorization: `Basic ${basic}` },
    'grant_type=client_credentials&scope=all-apis',
    'Databricks refused the service principal: check databricks-client-id and databricks-client-secret, and that the principal is in this workspace.'
  );
  return {
    token: accessToken(token, secrets),
    expiresInSeconds: lifetime(json, DEFAULT_TOKEN_SECONDS)
  };
}

/**
 * A token from the workspace's token endpoint for the form `body`; a refusal (400, 401, 403) is
 * said with `refused`, any other answer without a token as what it is.
 */
async function workspaceToken(
  api: WarehouseApi,
  authorization: Record<string, string>,
  body: string,
  refused: string
): Promise<{ token: string; json: Record<string, unknown> }> {
  const request: ApiRequest = {
    method: 'POST',
    path: '/oidc/v1/token',
    headers: {
      ...authorization,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      'user-agent': USER_AGENT
    },
    body
  };
  const { answer, json } = await api.send(request);
  const token = text(json.access_token);
  if (answer.status !== 200 || !token) {
    throw api.failure(
      request,
      answer,
      json,
      [400, 401, 403].includes(answer.status)
        ? refused
        : answer.status === 404
          ? 'Check databricks-host: it must be the workspace URL.'
          : 'Its answer held no access_token.'
    );
  }
  return { token, json };
}

/** An access token from Databricks, masked before anything can show it. */
function accessToken(token: string, secrets: Secrets): string {
  if (token.length < 8 || /[^\x21-\x7e]/.test(token)) {
    throw new WarehouseError(
      'The OAuth token Databricks returned is not one the action can send or mask.'
    );
  }
  secrets.add(token);
  return token;
}

/** expires_in from a token answer, or `fallback` seconds when it says nothing usable. */
function lifetime(json: Record<string, unknown>, fallback: number): number {
  const seconds = json.expires_in;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0
    ? seconds
    : typeof seconds === 'string' && /^\d{1,9}$/.test(seconds) && Number(seconds) > 0
      ? Number(seconds)
      : fallback;
}

function needed(idTokens: GitHubIdTokens | undefined): GitHubIdTokens {
  if (idTokens === undefined) throw new Error("oidc needs the job's ID tokens");
  return idTokens;
}

/** A fresh ID token and how long it lives, as RenewingToken takes them. */
async function idTokenFor(
  tokens: GitHubIdTokens
): Promise<{ token: string; expiresInSeconds: number }> {
  const { jwt, claims } = await tokens.fresh();
  return { token: jwt, expiresInSeconds: claims.exp - Date.now() / 1000 };
}

/**
 * Databricks token federation (RFC 8693): a fresh GitHub ID token exchanged at the workspace's
 * token endpoint for the service principal whose federation policy matches it. The access token
 * lives as the answer says, never past the ID token it was given for.
 */
async function tokenExchange(
  clientId: string,
  tokens: GitHubIdTokens,
  secrets: Secrets,
  api: WarehouseApi
): Promise<{ token: string; expiresInSeconds: number }> {
  const { jwt, claims } = await tokens.fresh();
  const { token, json } = await workspaceToken(
    api,
    {},
    new URLSearchParams({
      client_id: clientId,
      subject_token: jwt,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      scope: 'all-apis'
    }).toString(),
    `Databricks refused GitHub's ID token for service principal ${clientId} (${tokens.claimsSaid()}). The principal's federation policy must name issuer ${ACTIONS_ISSUER}, subject equal to that sub, and that aud among its audiences (oidc-audience sets the aud asked for); databricks-client-id must be the principal's application ID.`
  );
  const idTokenLeft = claims.exp - Date.now() / 1000;
  return {
    token: accessToken(token, secrets),
    expiresInSeconds: Math.min(lifetime(json, idTokenLeft), idTokenLeft)
  };
}
