import * as os from 'node:os';
import * as path from 'node:path';
import { artifactNameFor, scriptFileNameFor, INVALID_ARTIFACT_NAME_CHARACTERS } from './naming.js';
import { unsendable } from './secrets.js';
import { holdsLegacyCommand } from './escape.js';

export const AUTH_METHODS = ['api-key', 'token'] as const;
export const IF_MISSING = ['error', 'warn', 'ignore'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export type IfMissing = (typeof IF_MISSING)[number];

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
  AllowInsecureHttp: 'allow-insecure-http'
} as const;

export interface Config {
  /** Base URL with any path prefix kept and no trailing slash. */
  readonly immutaUrl: string;
  readonly apiKey: string;
  readonly connectionKey: string;
  readonly integrationId: number | undefined;
  readonly authMethod: AuthMethod;
  readonly dryRun: boolean;
  readonly ifMissing: IfMissing;
  readonly uploadArtifact: boolean;
  readonly artifactName: string;
  readonly retentionDays: number | undefined;
  readonly scriptPath: string;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly caCertificate: string | undefined;
}

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

export interface Environment {
  RUNNER_TEMP?: string;
  NODE_TLS_REJECT_UNAUTHORIZED?: string;
}

const MAX_TIMEOUT_SECONDS = 600;
const MAX_ATTEMPTS = 10;
const MAX_RETENTION_DAYS = 90;

/**
 * Reads and checks every input before anything touches the network, so a typo costs nothing.
 * `read` returns the trimmed raw value ('' when unset), as core.getInput does.
 */
export function parseInputs(read: InputReader, env: Environment = {}): Config {
  const apiKey = required(read, Inputs.ApiKey);
  const badKey = unsendable(apiKey);
  if (badKey !== undefined) {
    throw new InputError(
      Inputs.ApiKey,
      `${badKey}. Store the key in the secret exactly as Immuta shows it, on one line.`
    );
  }
  const connectionKey = required(read, Inputs.ConnectionKey);
  if (hasControlCharacter(connectionKey)) {
    throw new InputError(
      Inputs.ConnectionKey,
      'contains a control character (a line break or tab?). Give the connection key exactly as Immuta shows it.'
    );
  }
  if (connectionKey === '.' || connectionKey === '..') {
    throw new InputError(
      Inputs.ConnectionKey,
      `is ${JSON.stringify(connectionKey)}, which names a folder, not a host. Give the connection key exactly as Immuta shows it.`
    );
  }
  const allowInsecureHttp = boolean(read, Inputs.AllowInsecureHttp, false);
  const immutaUrl = baseUrl(required(read, Inputs.ImmutaUrl), allowInsecureHttp);

  const artifactName = read(Inputs.ArtifactName) || artifactNameFor(connectionKey);
  const badCharacter = [...artifactName].find(
    (c) => INVALID_ARTIFACT_NAME_CHARACTERS.includes(c) || hasControlCharacter(c)
  );
  if (badCharacter !== undefined) {
    throw new InputError(
      Inputs.ArtifactName,
      `contains ${JSON.stringify(badCharacter)}, which artifact names may not hold. Leave out control characters and these: ${INVALID_ARTIFACT_NAME_CHARACTERS.map((c) => JSON.stringify(c)).join(' ')}.`
    );
  }

  if (holdsLegacyCommand(artifactName)) {
    throw new InputError(
      Inputs.ArtifactName,
      "holds '##[', which the runner reads as a command when the artifact client logs the name. Choose a name without it."
    );
  }

  const givenPath = read(Inputs.ScriptPath);
  if (hasControlCharacter(givenPath)) {
    throw new InputError(
      Inputs.ScriptPath,
      'contains a control character (a line break or tab?). Give one path on one line.'
    );
  }
  const scriptPath =
    givenPath || path.join(env.RUNNER_TEMP || os.tmpdir(), scriptFileNameFor(connectionKey));

  return Object.freeze({
    immutaUrl,
    apiKey,
    connectionKey,
    integrationId: optionalInteger(read, Inputs.IntegrationId, 1, Number.MAX_SAFE_INTEGER),
    authMethod: oneOf(read, Inputs.AuthMethod, AUTH_METHODS, 'api-key'),
    dryRun: boolean(read, Inputs.DryRun, false),
    ifMissing: oneOf(read, Inputs.IfMissing, IF_MISSING, 'error'),
    uploadArtifact: boolean(read, Inputs.UploadArtifact, true),
    artifactName,
    retentionDays: optionalInteger(read, Inputs.RetentionDays, 1, MAX_RETENTION_DAYS),
    scriptPath: path.resolve(scriptPath),
    timeoutMs: (optionalInteger(read, Inputs.TimeoutSeconds, 1, MAX_TIMEOUT_SECONDS) ?? 30) * 1000,
    maxAttempts: optionalInteger(read, Inputs.MaxAttempts, 1, MAX_ATTEMPTS) ?? 3,
    caCertificate: pem(read(Inputs.CaCertificate))
  });
}

function hasControlCharacter(value: string): boolean {
  return /\p{Cc}/u.test(value);
}

function required(read: InputReader, name: string): string {
  const value = read(name);
  if (!value) {
    throw new InputError(name, "is required but was empty. Set it in the step's `with:` block.");
  }
  return value;
}

function boolean(read: InputReader, name: string, fallback: boolean): boolean {
  const value = read(name);
  if (value === '') return fallback;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new InputError(name, `must be true or false, but was ${JSON.stringify(value)}.`);
}

function oneOf<T extends string>(
  read: InputReader,
  name: string,
  accepted: readonly T[],
  fallback: T
): T {
  const value = read(name);
  if (value === '') return fallback;
  const match = accepted.find((a) => a === value.toLowerCase());
  if (match === undefined) {
    throw new InputError(
      name,
      `must be one of ${accepted.join(', ')}, but was ${JSON.stringify(value)}.`
    );
  }
  return match;
}

function optionalInteger(
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

function baseUrl(value: string, allowInsecureHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(
      Inputs.ImmutaUrl,
      `must be an absolute URL such as https://your-tenant.immuta.com, but was ${JSON.stringify(value)}.`
    );
  }
  if (url.protocol === 'http:' && !allowInsecureHttp) {
    throw new InputError(
      Inputs.ImmutaUrl,
      `uses http://, which would send the API key unencrypted. Use https://, or set allow-insecure-http: true for a test or air-gapped lab.`
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputError(Inputs.ImmutaUrl, `must use https://, but uses ${url.protocol}//.`);
  }
  if (url.username || url.password) {
    throw new InputError(
      Inputs.ImmutaUrl,
      'must not carry a user name or password. Pass the API key in api-key instead.'
    );
  }
  if (url.search || url.hash) {
    throw new InputError(
      Inputs.ImmutaUrl,
      "must not carry a query (?) or fragment (#). Give the tenant's base URL, with its path prefix if it has one."
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function pem(value: string): string | undefined {
  if (value === '') return undefined;
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(value)) {
    throw new InputError(
      Inputs.CaCertificate,
      "must hold one or more PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----). Pass the certificate's text, for example from a secret, not a file path."
    );
  }
  return value;
}

/** Reads the step's inputs; the API key is masked before anything can log it. */
export function readConfig(
  getInput: (name: string) => string,
  setSecret: (secret: string) => void,
  env: Environment
): Config {
  const apiKey = getInput(Inputs.ApiKey);
  if (apiKey) setSecret(apiKey);
  return parseInputs(getInput, env);
}

/** Settings in the runner's environment that weaken what the action promises, as warnings. */
export function environmentWarnings(env: Environment): string[] {
  const warnings: string[] = [];
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    warnings.push(
      'NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment: Node accepts any TLS certificate, so anyone on the network path could pose as Immuta and receive the API key. Remove it, and pass a private CA in ca-certificate instead.'
    );
  }
  return warnings;
}
