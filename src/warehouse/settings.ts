/**
 * The warehouse inputs, checked whole before any request: the platform's inputs complete and
 * consistent (exactly one way to sign in), the private key read (and decrypted), hosts https
 * unless allow-insecure-http, and for GitHub's OIDC token the job's permission to ask for one.
 * Nothing here touches the network.
 */
import { createPrivateKey, createPublicKey, createHash, type KeyObject } from 'node:crypto';
import {
  hasControlCharacter,
  InputError,
  Inputs,
  isSet,
  oneOf,
  optionalInteger,
  serviceUrl,
  type InputReader
} from '../action/input-readers.js';
import { unsendable } from '../action/secrets.js';

export const RUN_SCRIPT = ['none', 'snowflake', 'databricks'] as const;
export const SNOWFLAKE_TOKEN_TYPES = ['PROGRAMMATIC_ACCESS_TOKEN', 'OAUTH'] as const;
export const SNOWFLAKE_AUTHS = ['key-pair', 'token', 'oidc'] as const;
export const DATABRICKS_AUTHS = ['token', 'oauth', 'oidc'] as const;
export type Platform = Exclude<(typeof RUN_SCRIPT)[number], 'none'>;

/** The audience Snowflake expects of a workload identity token when the user names none. */
export const SNOWFLAKE_AUDIENCE = 'snowflakecomputing.com';

/** Signing in with GitHub's OIDC token: the audience to ask GitHub for. */
export interface OidcAuth {
  readonly kind: 'oidc';
  readonly audience: string;
}

/** What the runner's environment says about asking GitHub for an ID token. */
export interface OidcEnvironment {
  readonly ACTIONS_ID_TOKEN_REQUEST_URL?: string;
  readonly ACTIONS_ID_TOKEN_REQUEST_TOKEN?: string;
}

export interface SnowflakeSettings {
  readonly platform: 'snowflake';
  /** The account identifier as given, e.g. myorg-myaccount or xy12345.us-east-2.aws. */
  readonly account: string;
  /** snowflake-user; undefined with OIDC, where Snowflake finds the user from the token. */
  readonly user: string | undefined;
  /** Base URL, no trailing slash. */
  readonly host: string;
  readonly auth:
    | {
        readonly kind: 'key-pair';
        readonly user: string;
        readonly privateKey: KeyObject;
        readonly fingerprint: string;
      }
    | {
        readonly kind: 'token';
        readonly token: string;
        readonly tokenType: (typeof SNOWFLAKE_TOKEN_TYPES)[number];
      }
    | OidcAuth;
  readonly role: string | undefined;
  readonly warehouse: string | undefined;
  readonly timeoutMs: number;
}

export interface DatabricksSettings {
  readonly platform: 'databricks';
  /** Workspace URL, no trailing slash. */
  readonly host: string;
  readonly auth:
    | { readonly kind: 'token'; readonly token: string }
    | { readonly kind: 'oauth'; readonly clientId: string; readonly clientSecret: string }
    | (OidcAuth & { readonly clientId: string });
  readonly warehouseId: string;
  readonly timeoutMs: number;
}

export type WarehouseConfig = SnowflakeSettings | DatabricksSettings;

const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 600;
const MAX_SCRIPT_TIMEOUT_SECONDS = 3600;

const SNOWFLAKE_INPUTS = [
  Inputs.SnowflakeAccount,
  Inputs.SnowflakeAuth,
  Inputs.SnowflakeHost,
  Inputs.SnowflakeUser,
  Inputs.SnowflakePrivateKey,
  Inputs.SnowflakePrivateKeyPassphrase,
  Inputs.SnowflakeToken,
  Inputs.SnowflakeTokenType,
  Inputs.SnowflakeRole,
  Inputs.SnowflakeWarehouse
];
const DATABRICKS_INPUTS = [
  Inputs.DatabricksHost,
  Inputs.DatabricksAuth,
  Inputs.DatabricksToken,
  Inputs.DatabricksClientId,
  Inputs.DatabricksClientSecret,
  Inputs.DatabricksWarehouseId
];

/**
 * The warehouse step's settings, or undefined when run-script is none. `warn` is told about
 * inputs that are set but unused (the other platform's, or all of them with run-script none).
 */
export function readWarehouse(
  read: InputReader,
  allowInsecureHttp: boolean,
  warn: (message: string) => void = () => undefined,
  env: OidcEnvironment = {}
): WarehouseConfig | undefined {
  const platform = oneOf(read, Inputs.RunScript, RUN_SCRIPT, 'none');
  const unused =
    platform === 'snowflake'
      ? DATABRICKS_INPUTS
      : platform === 'databricks'
        ? SNOWFLAKE_INPUTS
        : [...SNOWFLAKE_INPUTS, ...DATABRICKS_INPUTS, Inputs.OidcAudience];
  const ignored = unused.filter((name) => isSet(read, name));
  if (ignored.length > 0) {
    warn(
      `${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} set but not used with run-script: ${platform}.`
    );
  }
  if (platform === 'none') return undefined;
  const timeoutMs =
    (optionalInteger(read, Inputs.ScriptTimeoutSeconds, 1, MAX_SCRIPT_TIMEOUT_SECONDS) ??
      DEFAULT_SCRIPT_TIMEOUT_SECONDS) * 1000;
  const settings =
    platform === 'snowflake'
      ? readSnowflake(read, allowInsecureHttp, timeoutMs, warn)
      : readDatabricks(read, allowInsecureHttp, timeoutMs);
  if (settings.auth.kind === 'oidc') {
    oidcAllowed(platform, env);
  } else if (isSet(read, Inputs.OidcAudience)) {
    warn(
      `oidc-audience is set but not used: ${platform === 'snowflake' ? 'snowflake-auth' : 'databricks-auth'} is ${settings.auth.kind}, not oidc.`
    );
  }
  return settings;
}

/** The way to sign in a step names (key-pair, oidc…), or undefined to choose from the credentials given. */
function chosenAuth<T extends string>(
  read: InputReader,
  name: string,
  accepted: readonly T[]
): T | undefined {
  return read(name) === '' ? undefined : oneOf(read, name, accepted, accepted[0]!);
}

/**
 * A job may ask GitHub for an ID token only with `permissions: id-token: write`: without it the
 * runner sets neither variable, and the step would stop at the pre-flight check. Said now,
 * before any request, as bad input.
 */
function oidcAllowed(platform: Platform, env: OidcEnvironment): void {
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return;
  const input = platform === 'snowflake' ? Inputs.SnowflakeAuth : Inputs.DatabricksAuth;
  throw new InputError(
    input,
    'is oidc, but this job cannot ask GitHub for an ID token: ACTIONS_ID_TOKEN_REQUEST_URL is not set. Give the job `permissions: id-token: write` (with `contents: read` and `actions: read` beside it, as a job-level permissions block replaces the defaults). A run for a pull request from a fork gets no ID token, whatever the workflow asks. Nothing was sent.'
  );
}

/** oidc-audience, or the platform's default. */
function audience(read: InputReader, fallback: string): string {
  const given = read(Inputs.OidcAudience);
  if (given === '') return fallback;
  if (hasControlCharacter(given)) {
    throw new InputError(Inputs.OidcAudience, 'contains a control character. Give it on one line.');
  }
  return given;
}

/**
 * A way to sign in the step chose (`platform-auth: way`): the inputs of other ways are refused
 * beside it, and the one it needs must be given.
 */
function chosenWay(
  read: InputReader,
  way: { chosen: string; refused: readonly string[]; instead: string },
  needed?: { name: string; detail: string }
): void {
  for (const name of way.refused) {
    if (read(name) !== '') throw new InputError(name, `is set, but ${way.chosen}: ${way.instead}`);
  }
  if (needed && read(needed.name) === '') throw new InputError(needed.name, needed.detail);
}

const ONE_WAY = 'give exactly one way to sign in. Remove it, or choose';

function readSnowflake(
  read: InputReader,
  allowInsecureHttp: boolean,
  timeoutMs: number,
  warn: (message: string) => void
): SnowflakeSettings {
  const account = neededFor('snowflake', read, Inputs.SnowflakeAccount);
  const identifierOfHost = accountInHost(account);
  if (identifierOfHost !== undefined) {
    // The host is built from the identifier, and the JWT names it: a host name here would
    // reach <host>.snowflakecomputing.com and sign for the wrong account.
    throw new InputError(
      Inputs.SnowflakeAccount,
      `must be the account identifier, not a host name or URL: use ${JSON.stringify(identifierOfHost)} (the part before .snowflakecomputing.com). To reach Snowflake at another address, set snowflake-host.`
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(account)) {
    throw new InputError(
      Inputs.SnowflakeAccount,
      'must be the account identifier (such as myorg-myaccount, the part of the account URL before .snowflakecomputing.com), not a URL. To reach Snowflake at another address, set snowflake-host.'
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(account)) {
    throw new InputError(
      Inputs.SnowflakeAccount,
      `must be an account identifier such as myorg-myaccount or xy12345.us-east-2.aws, but was ${JSON.stringify(account)}.`
    );
  }
  const given = read(Inputs.SnowflakeHost);
  const host = serviceUrl(
    Inputs.SnowflakeHost,
    given || `https://${account.toLowerCase().replace(/_/g, '-')}.snowflakecomputing.com`,
    allowInsecureHttp,
    'https://myorg-myaccount.snowflakecomputing.com'
  );

  const method = chosenAuth(read, Inputs.SnowflakeAuth, SNOWFLAKE_AUTHS);
  if (method === 'oidc') {
    chosenWay(read, {
      chosen: 'snowflake-auth is oidc',
      refused: [
        Inputs.SnowflakePrivateKey,
        Inputs.SnowflakePrivateKeyPassphrase,
        Inputs.SnowflakeToken
      ],
      instead:
        "GitHub's ID token signs in instead. Remove it (and its secret), or choose snowflake-auth: key-pair or token."
    });
    const unused = [Inputs.SnowflakeUser, Inputs.SnowflakeTokenType].filter((n) => isSet(read, n));
    if (unused.length > 0) {
      warn(
        `${unused.join(' and ')} ${unused.length === 1 ? 'is' : 'are'} set but not used with snowflake-auth: oidc: Snowflake finds the user whose WORKLOAD_IDENTITY matches the token's issuer and subject.`
      );
    }
    return {
      platform: 'snowflake',
      account,
      user: undefined,
      host,
      auth: { kind: 'oidc', audience: audience(read, SNOWFLAKE_AUDIENCE) },
      role: identifier(read, Inputs.SnowflakeRole),
      warehouse: identifier(read, Inputs.SnowflakeWarehouse),
      timeoutMs
    };
  }
  const user = read(Inputs.SnowflakeUser);
  if (user === '') {
    throw new InputError(
      Inputs.SnowflakeUser,
      "is required with run-script: snowflake, unless snowflake-auth is oidc (keyless: Snowflake finds the user whose WORKLOAD_IDENTITY matches GitHub's ID token, and no user, key or token is given)."
    );
  }
  if (hasControlCharacter(user)) {
    throw new InputError(
      Inputs.SnowflakeUser,
      'contains a control character. Give the user name on one line.'
    );
  }
  const key = read(Inputs.SnowflakePrivateKey);
  const token = read(Inputs.SnowflakeToken);
  if (method === 'key-pair') {
    chosenWay(
      read,
      {
        chosen: 'snowflake-auth is key-pair',
        refused: [Inputs.SnowflakeToken],
        instead: `${ONE_WAY} snowflake-auth: token.`
      },
      {
        name: Inputs.SnowflakePrivateKey,
        detail:
          "is required with snowflake-auth: key-pair. Pass the PKCS#8 PEM of the user's key pair from a secret."
      }
    );
  }
  if (method === 'token') {
    chosenWay(
      read,
      {
        chosen: 'snowflake-auth is token',
        refused: [Inputs.SnowflakePrivateKey],
        instead: `${ONE_WAY} snowflake-auth: key-pair.`
      },
      {
        name: Inputs.SnowflakeToken,
        detail:
          'is required with snowflake-auth: token. Pass a programmatic access token or an OAuth token from a secret.'
      }
    );
  }
  if (key !== '' && token !== '') {
    throw new InputError(
      Inputs.SnowflakeToken,
      'is set together with snowflake-private-key. Give exactly one way to sign in: a private key (key-pair) or a token.'
    );
  }
  if (key === '' && token === '') {
    throw new InputError(
      Inputs.SnowflakePrivateKey,
      "is required with run-script: snowflake, unless snowflake-token is given or snowflake-auth is oidc. Pass the PKCS#8 PEM of the user's key pair from a secret, or sign in keylessly with GitHub's ID token (snowflake-auth: oidc)."
    );
  }
  const passphrase = read(Inputs.SnowflakePrivateKeyPassphrase);
  if (token !== '' && passphrase !== '') {
    throw new InputError(
      Inputs.SnowflakePrivateKeyPassphrase,
      'is set, but it goes with snowflake-private-key, and snowflake-token is given instead.'
    );
  }
  const auth: SnowflakeSettings['auth'] =
    key !== ''
      ? { ...keyPair(key, passphrase), user }
      : {
          kind: 'token',
          token: credential(Inputs.SnowflakeToken, token),
          tokenType: oneOf(
            read,
            Inputs.SnowflakeTokenType,
            SNOWFLAKE_TOKEN_TYPES,
            'PROGRAMMATIC_ACCESS_TOKEN'
          )
        };
  return {
    platform: 'snowflake',
    account,
    user,
    host,
    auth,
    role: identifier(read, Inputs.SnowflakeRole),
    warehouse: identifier(read, Inputs.SnowflakeWarehouse),
    timeoutMs
  };
}

function readDatabricks(
  read: InputReader,
  allowInsecureHttp: boolean,
  timeoutMs: number
): DatabricksSettings {
  const host = serviceUrl(
    Inputs.DatabricksHost,
    neededFor('databricks', read, Inputs.DatabricksHost),
    allowInsecureHttp,
    'https://dbc-1234.cloud.databricks.com'
  );
  const token = read(Inputs.DatabricksToken);
  const clientId = read(Inputs.DatabricksClientId);
  const clientSecret = read(Inputs.DatabricksClientSecret);
  const method = chosenAuth(read, Inputs.DatabricksAuth, DATABRICKS_AUTHS);
  let auth: DatabricksSettings['auth'];
  if (method === 'oidc') {
    chosenWay(
      read,
      {
        chosen: 'databricks-auth is oidc',
        refused: [Inputs.DatabricksToken, Inputs.DatabricksClientSecret],
        instead:
          "GitHub's ID token, exchanged for a Databricks token, signs in instead. Remove it (and its secret), or choose databricks-auth: token or oauth."
      },
      {
        name: Inputs.DatabricksClientId,
        detail:
          "is required with databricks-auth: oidc: give the service principal's application ID (a UUID), the principal whose federation policy names this repository and environment."
      }
    );
    auth = {
      kind: 'oidc',
      clientId: credential(Inputs.DatabricksClientId, clientId),
      // What the Databricks SDK's github-oidc auth asks GitHub for on a workspace: its token
      // endpoint (the host has no trailing slash here).
      audience: audience(read, `${host}/oidc/v1/token`)
    };
  } else {
    if (method === 'token') {
      chosenWay(
        read,
        {
          chosen: 'databricks-auth is token',
          refused: [Inputs.DatabricksClientId, Inputs.DatabricksClientSecret],
          instead: `${ONE_WAY} databricks-auth: oauth.`
        },
        {
          name: Inputs.DatabricksToken,
          detail:
            'is required with databricks-auth: token. Pass a personal access token from a secret.'
        }
      );
    }
    if (method === 'oauth') {
      // The client ID alone is told, below, that it needs its secret.
      chosenWay(
        read,
        {
          chosen: 'databricks-auth is oauth',
          refused: [Inputs.DatabricksToken],
          instead: `${ONE_WAY} databricks-auth: token.`
        },
        clientSecret === ''
          ? {
              name: Inputs.DatabricksClientId,
              detail:
                "is required with databricks-auth: oauth, with databricks-client-secret: the service principal's client ID and secret."
            }
          : undefined
      );
    }
    const oauth = clientId !== '' || clientSecret !== '';
    if (token !== '' && oauth) {
      throw new InputError(
        Inputs.DatabricksToken,
        "is set together with databricks-client-id or databricks-client-secret. Give exactly one way to sign in: a token, or a service principal's client ID and secret."
      );
    }
    if (token === '' && !oauth) {
      throw new InputError(
        Inputs.DatabricksToken,
        "is required with run-script: databricks, unless databricks-client-id and databricks-client-secret are given, or databricks-auth is oidc (the service principal's client ID, and GitHub's ID token instead of a secret)."
      );
    }
    if (oauth && (clientId === '' || clientSecret === '')) {
      const missing = clientId === '' ? Inputs.DatabricksClientId : Inputs.DatabricksClientSecret;
      throw new InputError(
        missing,
        `is required too: OAuth needs both the client ID and the client secret.${clientSecret === '' ? " To sign in without a secret, with GitHub's ID token and the principal's federation policy, set databricks-auth: oidc." : ''}`
      );
    }
    auth = oauth
      ? {
          kind: 'oauth',
          clientId: credential(Inputs.DatabricksClientId, clientId),
          clientSecret: credential(Inputs.DatabricksClientSecret, clientSecret)
        }
      : { kind: 'token', token: credential(Inputs.DatabricksToken, token) };
  }
  const given = neededFor('databricks', read, Inputs.DatabricksWarehouseId);
  // The ID, or the warehouse's HTTP path (/sql/1.0/warehouses/<id>) the UI shows, and nothing
  // else: a cluster's path or one that climbs out of it is not taken apart for a last segment.
  const warehouseId =
    /^[A-Za-z0-9-]+$/.exec(given)?.[0] ??
    /^\/?sql\/1\.0\/warehouses\/([A-Za-z0-9-]+)\/?$/.exec(given)?.[1];
  if (warehouseId === undefined) {
    throw new InputError(
      Inputs.DatabricksWarehouseId,
      `must be a SQL warehouse ID or its HTTP path (/sql/1.0/warehouses/<id>), but was ${JSON.stringify(given)}.`
    );
  }
  return { platform: 'databricks', host, auth, warehouseId, timeoutMs };
}

/**
 * The account identifier inside a value that is a Snowflake host name or URL
 * (myorg-acct.snowflakecomputing.com, https://…/), or undefined when the value is not one.
 */
export function accountInHost(value: string): string | undefined {
  const host = value
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/[/?#].*$/, '')
    .replace(/:\d+$/, '');
  const m = /^(.+?)\.snowflakecomputing\.(?:com|cn)\.?$/i.exec(host);
  return m ? m[1]! : undefined;
}

function neededFor(platform: Platform, read: InputReader, name: string): string {
  const value = read(name);
  if (value === '') {
    throw new InputError(name, `is required with run-script: ${platform}.`);
  }
  return value;
}

function credential(name: string, value: string): string {
  const bad = unsendable(value);
  if (bad !== undefined) throw new InputError(name, `${bad}. Store it in the secret on one line.`);
  return value;
}

/** A role or warehouse name: sent as given, so the user's defaults apply when it is empty. */
function identifier(read: InputReader, name: string): string | undefined {
  const value = read(name);
  if (value === '') return undefined;
  if (hasControlCharacter(value)) {
    throw new InputError(name, 'contains a control character. Give the name on one line.');
  }
  return value;
}

/** The private key, read and decrypted now, and its public key's fingerprint for the JWT. */
function keyPair(
  pem: string,
  passphrase: string
): { kind: 'key-pair'; privateKey: KeyObject; fingerprint: string } {
  if (looksLikeFilePath(pem)) {
    // Snowflake CLI's --private-key-file takes a path; this input takes the key itself.
    throw new InputError(
      Inputs.SnowflakePrivateKey,
      "looks like a file path, not a key: it takes the key's PEM text itself (-----BEGIN PRIVATE KEY----- …), not the path of a file holding it. Store the key's text in a secret and pass that, as snowflake-private-key: ${{ secrets.SNOWFLAKE_PRIVATE_KEY }}."
    );
  }
  if (!/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(pem)) {
    throw new InputError(
      Inputs.SnowflakePrivateKey,
      'must be a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE KEY-----). Convert an older key with openssl pkcs8 -topk8.'
    );
  }
  const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
  if (encrypted && passphrase === '') {
    throw new InputError(
      Inputs.SnowflakePrivateKeyPassphrase,
      'is required: snowflake-private-key is encrypted.'
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: pem,
      format: 'pem',
      passphrase: encrypted ? passphrase : undefined
    });
  } catch {
    throw new InputError(
      Inputs.SnowflakePrivateKey,
      encrypted
        ? 'could not be decrypted with snowflake-private-key-passphrase. Check the passphrase and the key.'
        : 'could not be read as a PEM private key. Check that the secret holds the whole key, line breaks included.'
    );
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new InputError(
      Inputs.SnowflakePrivateKey,
      `is a ${privateKey.asymmetricKeyType ?? 'non-RSA'} key; Snowflake key-pair authentication takes an RSA key.`
    );
  }
  const der = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const fingerprint = `SHA256:${createHash('sha256').update(der).digest('base64')}`;
  return { kind: 'key-pair', privateKey, fingerprint };
}

/**
 * Whether a value is a path rather than a key: one line, no PEM armour, and a path's start
 * (/, ~/, ./, C:\\, $VAR) or a key file's extension. A key's bare base64 starts with M.
 */
function looksLikeFilePath(value: string): boolean {
  if (/[\r\n]|-----/.test(value)) return false;
  return (
    /^(~|\.{1,2})?[\\/]|^[A-Za-z]:[\\/]|^\$/.test(value) ||
    /\.(p8|pk8|pem|key|der|p12|pfx)$/i.test(value)
  );
}
