/**
 * The names of the inputs and the readers that check them: each reader names the input, what
 * was wrong and what is accepted, so a typo costs nothing and sends no request.
 */

/** Every input, named once, as the workflow spells it. */
export const Inputs = {
  ImmutaUrl: 'immuta-url',
  ApiKey: 'api-key',
  ConnectionKey: 'connection-key',
  IntegrationId: 'integration-id',
  AuthMethod: 'auth-method',
  DryRun: 'dry-run',
  IfMissing: 'if-missing',
  UploadArtifact: 'upload-artifact',
  ArtifactName: 'artifact-name',
  RetentionDays: 'retention-days',
  ScriptPath: 'script-path',
  TimeoutSeconds: 'timeout-seconds',
  MaxAttempts: 'max-attempts',
  CaCertificate: 'ca-certificate',
  AllowInsecureHttp: 'allow-insecure-http',
  RunScript: 'run-script',
  SnowflakeAccount: 'snowflake-account',
  SnowflakeHost: 'snowflake-host',
  SnowflakeUser: 'snowflake-user',
  SnowflakePrivateKey: 'snowflake-private-key',
  SnowflakePrivateKeyPassphrase: 'snowflake-private-key-passphrase',
  SnowflakeToken: 'snowflake-token',
  SnowflakeTokenType: 'snowflake-token-type',
  SnowflakeRole: 'snowflake-role',
  SnowflakeWarehouse: 'snowflake-warehouse',
  DatabricksHost: 'databricks-host',
  DatabricksToken: 'databricks-token',
  DatabricksClientId: 'databricks-client-id',
  DatabricksClientSecret: 'databricks-client-secret',
  DatabricksWarehouseId: 'databricks-warehouse-id',
  ScriptTimeoutSeconds: 'script-timeout-seconds',
  SummaryScript: 'summary-script',
  MaxParallel: 'max-parallel',
  FailFast: 'fail-fast',
  Plan: 'plan',
  PlanSha256: 'plan-sha256'
} as const;

/** Inputs that hold secrets: each is masked before anything is read or logged. */
export const SECRET_INPUTS: readonly string[] = [
  Inputs.ApiKey,
  Inputs.SnowflakePrivateKey,
  Inputs.SnowflakePrivateKeyPassphrase,
  Inputs.SnowflakeToken,
  Inputs.DatabricksToken,
  Inputs.DatabricksClientSecret
];

/** A bad input: its message names the input, what was wrong and what is accepted. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    detail: string
  ) {
    super(`Input '${input}' ${detail}`);
    this.name = 'InputError';
  }
}

export type InputReader = (name: string) => string;

export function hasControlCharacter(value: string): boolean {
  return /\p{Cc}/u.test(value);
}

export function required(read: InputReader, name: string): string {
  const value = read(name);
  if (!value) {
    throw new InputError(name, "is required but was empty. Set it in the step's `with:` block.");
  }
  return value;
}

export function boolean(read: InputReader, name: string, fallback: boolean): boolean {
  const value = read(name);
  if (value === '') return fallback;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new InputError(name, `must be true or false, but was ${JSON.stringify(value)}.`);
}

export function oneOf<T extends string>(
  read: InputReader,
  name: string,
  accepted: readonly T[],
  fallback: T
): T {
  const value = read(name);
  if (value === '') return fallback;
  const match = accepted.find((a) => a.toLowerCase() === value.toLowerCase());
  if (match === undefined) {
    throw new InputError(
      name,
      `must be one of ${accepted.join(', ')}, but was ${JSON.stringify(value)}.`
    );
  }
  return match;
}

export function optionalInteger(
  read: InputReader,
  name: string,
  min: number,
  max: number
): number | undefined {
  const value = read(name);
  if (value === '') return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? `a whole number of ${min} or more`
        : `a whole number from ${min} to ${max}`;
    throw new InputError(name, `must be ${range}, but was ${JSON.stringify(value)}.`);
  }
  return n;
}

/**
 * An http(s) URL for a service the action calls. Plain http only with allow-insecure-http, and
 * no credentials, query or fragment in it; returned without a trailing slash.
 */
export function serviceUrl(
  name: string,
  value: string,
  allowInsecureHttp: boolean,
  example: string
): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(
      name,
      `must be an absolute URL such as ${example}, but was ${JSON.stringify(value)}.`
    );
  }
  if (url.protocol === 'http:' && !allowInsecureHttp) {
    throw new InputError(
      name,
      `uses http://, which would send credentials unencrypted. Use https://, or set allow-insecure-http: true for a test or air-gapped lab.`
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputError(name, `must use https://, but uses ${url.protocol}//.`);
  }
  if (url.username || url.password) {
    throw new InputError(
      name,
      'must not carry a user name or password. Pass credentials in their own inputs.'
    );
  }
  if (url.search || url.hash) {
    throw new InputError(
      name,
      'must not carry a query (?) or fragment (#). Give the base URL, with its path prefix if it has one.'
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
