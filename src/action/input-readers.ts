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
  IfNoHosts: 'if-no-hosts',
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
  SnowflakeAuth: 'snowflake-auth',
  SnowflakeHost: 'snowflake-host',
  SnowflakeUser: 'snowflake-user',
  SnowflakePrivateKey: 'snowflake-private-key',
  SnowflakePrivateKeyPassphrase: 'snowflake-private-key-passphrase',
  SnowflakeToken: 'snowflake-token',
  SnowflakeTokenType: 'snowflake-token-type',
  SnowflakeRole: 'snowflake-role',
  SnowflakeWarehouse: 'snowflake-warehouse',
  DatabricksHost: 'databricks-host',
  DatabricksAuth: 'databricks-auth',
  DatabricksToken: 'databricks-token',
  DatabricksClientId: 'databricks-client-id',
  DatabricksClientSecret: 'databricks-client-secret',
  DatabricksWarehouseId: 'databricks-warehouse-id',
  OidcAudience: 'oidc-audience',
  ScriptTimeoutSeconds: 'script-timeout-seconds',
  SummaryScript: 'summary-script',
  MaxParallel: 'max-parallel',
  FailFast: 'fail-fast',
  Plan: 'plan',
  PlanSha256: 'plan-sha256',
  GithubToken: 'github-token'
} as const;

/**
 * What the runner passes for each input the step leaves out: action.yml's defaults, held
 * against it by a test. The two required inputs have none.
 */
export const Defaults: Readonly<Partial<Record<(typeof Inputs)[keyof typeof Inputs], string>>> = {
  [Inputs.ConnectionKey]: '',
  [Inputs.IntegrationId]: '',
  [Inputs.AuthMethod]: 'api-key',
  [Inputs.DryRun]: 'false',
  [Inputs.IfMissing]: 'error',
  [Inputs.IfNoHosts]: 'error',
  [Inputs.UploadArtifact]: 'true',
  [Inputs.ArtifactName]: '',
  [Inputs.RetentionDays]: '',
  [Inputs.ScriptPath]: '',
  [Inputs.TimeoutSeconds]: '30',
  [Inputs.MaxAttempts]: '3',
  [Inputs.CaCertificate]: '',
  [Inputs.AllowInsecureHttp]: 'false',
  [Inputs.SummaryScript]: 'true',
  [Inputs.MaxParallel]: '4',
  [Inputs.FailFast]: 'true',
  [Inputs.Plan]: '',
  [Inputs.PlanSha256]: '',
  [Inputs.RunScript]: 'none',
  [Inputs.SnowflakeAccount]: '',
  [Inputs.SnowflakeAuth]: '',
  [Inputs.SnowflakeHost]: '',
  [Inputs.SnowflakeUser]: '',
  [Inputs.SnowflakePrivateKey]: '',
  [Inputs.SnowflakePrivateKeyPassphrase]: '',
  [Inputs.SnowflakeToken]: '',
  [Inputs.SnowflakeTokenType]: 'PROGRAMMATIC_ACCESS_TOKEN',
  [Inputs.SnowflakeRole]: '',
  [Inputs.SnowflakeWarehouse]: '',
  [Inputs.DatabricksHost]: '',
  [Inputs.DatabricksAuth]: '',
  [Inputs.DatabricksToken]: '',
  [Inputs.DatabricksClientId]: '',
  [Inputs.DatabricksClientSecret]: '',
  [Inputs.DatabricksWarehouseId]: '',
  [Inputs.OidcAudience]: '',
  [Inputs.ScriptTimeoutSeconds]: '600',
  // The runner evaluates it to the job's own token (github.token) before the step starts.
  [Inputs.GithubToken]: '${{ github.token }}'
};

/**
 * Inputs a step may pass empty although action.yml gives them a default: an empty github-token
 * means "read no review history", which costs nothing if it was a mistake.
 */
export const MAY_BE_EMPTY: readonly string[] = [Inputs.GithubToken];

/** Inputs that hold secrets: each is masked before anything is read or logged. */
export const SECRET_INPUTS: readonly string[] = [
  Inputs.ApiKey,
  Inputs.SnowflakePrivateKey,
  Inputs.SnowflakePrivateKeyPassphrase,
  Inputs.SnowflakeToken,
  Inputs.DatabricksToken,
  Inputs.DatabricksClientSecret,
  Inputs.GithubToken
];

/**
 * Secret inputs the action never sends anywhere: the private key signs a token here, and the
 * passphrase opens the key. Only their own text is masked, not the encodings a request carries.
 */
export const KEPT_SECRET_INPUTS: readonly string[] = [
  Inputs.SnowflakePrivateKey,
  Inputs.SnowflakePrivateKeyPassphrase
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

/** An input's text, trimmed; '' when it holds none. */
export type InputReader = (name: string) => string;

/** The inputs as text, and the boolean ones as `@actions/core`'s `getBooleanInput` reads them. */
export interface StepReader extends InputReader {
  /**
   * The boolean the input holds, or undefined when it holds no text. Throws an InputError when it
   * holds anything but what `getBooleanInput` accepts.
   */
  boolean(name: string): boolean | undefined;
}

/**
 * A StepReader over `getInput` (the text) and `getBooleanInput` (the parse, asked only of an input
 * that has text). The parse's own TypeError names a YAML schema and carries a stack; the step
 * says instead what was given and what to write.
 */
export function stepReader(
  getInput: InputReader,
  getBooleanInput: (name: string) => boolean
): StepReader {
  const boolean = (name: string): boolean | undefined => {
    const value = getInput(name);
    if (value === '') return undefined;
    try {
      return getBooleanInput(name);
    } catch {
      throw new InputError(name, `must be true or false, but was ${JSON.stringify(value)}.`);
    }
  };
  return Object.assign((name: string) => getInput(name), { boolean });
}

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

/**
 * Whether an input is set to something other than what the runner passes when the step leaves
 * it out: a value equal to action.yml's default is no sign that the step meant to use it.
 */
export function isSet(read: InputReader, name: string): boolean {
  const value = read(name);
  return value !== '' && value !== Defaults[name as keyof typeof Defaults];
}

/** A boolean input: what the step gave, or `fallback` when it gave nothing. */
export function boolean(read: StepReader, name: string, fallback: boolean): boolean {
  return read.boolean(name) ?? fallback;
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
