import * as os from 'node:os';
import * as path from 'node:path';
import { artifactNameFor, scriptFileNameFor, INVALID_ARTIFACT_NAME_CHARACTERS } from './naming.js';
import { unsendable } from './secrets.js';
import { holdsLegacyCommand } from './escape.js';
import {
  boolean,
  hasControlCharacter,
  InputError,
  Inputs,
  oneOf,
  optionalInteger,
  required,
  SECRET_INPUTS,
  serviceUrl,
  type InputReader
} from './input-readers.js';
import { readWarehouse, type WarehouseConfig } from './warehouse/settings.js';

export { InputError, Inputs };

export const AUTH_METHODS = ['api-key', 'token'] as const;
export const IF_MISSING = ['error', 'warn', 'ignore'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export type IfMissing = (typeof IF_MISSING)[number];

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
  /** Step 3, when run-script names a platform. */
  readonly warehouse: WarehouseConfig | undefined;
}

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
export function parseInputs(
  read: InputReader,
  env: Environment = {},
  warn: (message: string) => void = () => undefined
): Config {
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
  const immutaUrl = serviceUrl(
    Inputs.ImmutaUrl,
    required(read, Inputs.ImmutaUrl),
    allowInsecureHttp,
    'https://your-tenant.immuta.com'
  );

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
    caCertificate: pem(read(Inputs.CaCertificate)),
    warehouse: readWarehouse(read, allowInsecureHttp, warn)
  });
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

/**
 * Reads the step's inputs. Every secret is masked before anything can log it; a multi-line one
 * (a PEM key) line by line too, because the log is masked line by line.
 */
export function readConfig(
  getInput: (name: string) => string,
  setSecret: (secret: string) => void,
  env: Environment,
  warn?: (message: string) => void
): Config {
  for (const name of SECRET_INPUTS) {
    const value = getInput(name);
    if (!value) continue;
    setSecret(value);
    const lines = value.split(/\r?\n/).map((line) => line.trim());
    if (lines.length === 1) continue;
    for (const line of lines) {
      if (line.length >= 8 && !/^-----(BEGIN|END) /.test(line)) setSecret(line);
    }
  }
  return parseInputs(getInput, env, warn);
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
