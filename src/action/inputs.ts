import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import {
  artifactNameFor,
  batchArtifactNameFor,
  scriptFileNameFor,
  INVALID_ARTIFACT_NAME_CHARACTERS
} from './naming.js';
import { parsePlan, PlanError, type Plan } from '../flow/plan.js';
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
  KEPT_SECRET_INPUTS,
  serviceUrl,
  type StepReader
} from './input-readers.js';
import { readWarehouse, type WarehouseConfig } from '../warehouse/settings.js';
import {
  meantSecret,
  readStep,
  unknownInputError,
  unknownInputs,
  type InputSource
} from './step-inputs.js';

export { InputError, Inputs };

export const AUTH_METHODS = ['api-key', 'token'] as const;
export const IF_MISSING = ['error', 'warn', 'ignore'] as const;
export const IF_NO_HOSTS = ['error', 'warn', 'ignore'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
export type IfMissing = (typeof IF_MISSING)[number];
export type IfNoHosts = (typeof IF_NO_HOSTS)[number];

export interface Config {
  /** Base URL with any path prefix kept and no trailing slash. */
  readonly immutaUrl: string;
  readonly apiKey: string;
  /** The one host of a single-host run; the first of a batch; '' when no host is given. */
  readonly connectionKey: string;
  /**
   * Every host, in the order given: one per line of connection-key, or the plan's. Empty only
   * when connection-key names none and if-no-hosts lets the step succeed without any.
   */
  readonly connectionKeys: readonly string[];
  /** What a step whose connection-key names no host does. */
  readonly ifNoHosts: IfNoHosts;
  /** How many hosts are worked on at once. */
  readonly maxParallel: number;
  /** After the first failed delete, start no other. */
  readonly failFast: boolean;
  /** The plan to apply, read and checked. */
  readonly plan: Plan | undefined;
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
  /** Whether the job summary shows the script's text. */
  readonly summaryScript: boolean;
  /**
   * The token that reads the run's review history (who approved); undefined when the step
   * passes none, or outside a runner, where nothing evaluates action.yml's `${{ github.token }}`.
   */
  readonly githubToken: string | undefined;
}

export interface Environment {
  RUNNER_TEMP?: string;
  NODE_TLS_REJECT_UNAUTHORIZED?: string;
  /** Set by the runner only for a job with `permissions: id-token: write`. */
  ACTIONS_ID_TOKEN_REQUEST_URL?: string;
  ACTIONS_ID_TOKEN_REQUEST_TOKEN?: string;
  /** The step's INPUT_* variables among the rest: which inputs the runner passed. */
  readonly [variable: string]: string | undefined;
}

const MAX_TIMEOUT_SECONDS = 600;
const MAX_ATTEMPTS = 10;
/**
 * Far past any repository's maximum, which the artifact service lowers a longer retention to (as
 * for upload-artifact): the bound only keeps the expiry a date that exists.
 */
const MAX_RETENTION_DAYS = 36500;
const MAX_PARALLEL = 32;

/**
 * Reads and checks every input before anything touches the network, so a typo costs nothing.
 * `read` returns the trimmed raw value ('' when unset), as core.getInput does, and reads booleans
 * as core.getBooleanInput does.
 */
export function parseInputs(
  read: StepReader,
  env: Environment = {},
  warn: (message: string) => void = () => undefined
): Config {
  const apiKey = read(Inputs.ApiKey);
  if (apiKey === '') {
    throw new InputError(
      Inputs.ApiKey,
      'is required but was empty. The usual cause is a secret this job cannot see: one stored in an environment the job does not name (environment:), or a run from a fork or by Dependabot, which get no secrets. Check that the secret exists where the job looks and that `with:` passes it, as api-key: ${{ secrets.IMMUTA_API_KEY }}.'
    );
  }
  const badKey = unsendable(apiKey);
  if (badKey !== undefined) {
    throw new InputError(
      Inputs.ApiKey,
      `${badKey}. Store the key in the secret exactly as Immuta shows it, on one line.`
    );
  }
  const plan = readPlan(read(Inputs.Plan), read(Inputs.PlanSha256));
  // Step 3 runs one host's script: neither a plan nor a batch runs any.
  const runsScript = !['', 'none'].includes(read(Inputs.RunScript).toLowerCase());
  if (plan && runsScript) {
    throw new InputError(
      Inputs.RunScript,
      'cannot be used with plan: applying a plan deletes the hosts and keeps their scripts, but runs none. Leave run-script out (or set it to none) and run the kept scripts in a step of their own, or deregister the host without a plan in a step with run-script.'
    );
  }
  const ifNoHosts = oneOf(read, Inputs.IfNoHosts, IF_NO_HOSTS, 'error');
  const connectionKeys = hostList(read(Inputs.ConnectionKey), plan, ifNoHosts);
  const connectionKey = connectionKeys[0] ?? '';
  const batch = connectionKeys.length > 1;
  if (batch && read(Inputs.IntegrationId) !== '') {
    throw new InputError(
      Inputs.IntegrationId,
      "is for one host, but connection-key names several. Leave it empty: each host's own integration (nativeIntegrationId) is used."
    );
  }
  if (batch && runsScript) {
    throw new InputError(
      Inputs.RunScript,
      "runs one host's script, but connection-key names several. Give one host a step (a matrix job per host) to run the scripts too."
    );
  }
  const allowInsecureHttp = boolean(read, Inputs.AllowInsecureHttp, false);
  const immutaUrl = serviceUrl(
    Inputs.ImmutaUrl,
    required(read, Inputs.ImmutaUrl),
    allowInsecureHttp,
    'https://your-tenant.immuta.com'
  );

  const artifactName =
    read(Inputs.ArtifactName) ||
    (batch ? batchArtifactNameFor(connectionKeys) : artifactNameFor(connectionKey));
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
  // A batch keeps its scripts in a folder; one host, in a file.
  const scriptPath =
    givenPath ||
    path.join(
      env.RUNNER_TEMP || os.tmpdir(),
      batch ? batchArtifactNameFor(connectionKeys) : scriptFileNameFor(connectionKey)
    );

  return Object.freeze({
    immutaUrl,
    apiKey,
    connectionKey,
    connectionKeys,
    ifNoHosts,
    maxParallel: optionalInteger(read, Inputs.MaxParallel, 1, MAX_PARALLEL) ?? 4,
    failFast: boolean(read, Inputs.FailFast, true),
    plan,
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
    warehouse: readWarehouse(read, allowInsecureHttp, warn, env),
    summaryScript: boolean(read, Inputs.SummaryScript, true),
    githubToken: githubToken(read(Inputs.GithubToken))
  });
}

/**
 * github-token as the step passed it: empty reads no review history, and so does an expression
 * no runner evaluated (action.yml's own default, read outside a runner).
 */
function githubToken(value: string): string | undefined {
  if (value === '' || /^\$\{\{[\s\S]*\}\}$/.test(value)) return undefined;
  const bad = unsendable(value);
  if (bad !== undefined) {
    throw new InputError(
      Inputs.GithubToken,
      `${bad}. Pass a token on one line, or leave the input out to use the job's own (github.token).`
    );
  }
  return value;
}

/**
 * The hosts: one connection key per line, blank lines and # comments left out, spaces trimmed.
 * With a plan, the plan's hosts when none are given, and only those when some are. No host at
 * all is bad input unless if-no-hosts lets the step succeed without one: the runner passes ''
 * both for a list that came out empty and for an input the step forgot.
 */
function hostList(value: string, plan: Plan | undefined, ifNoHosts: IfNoHosts): string[] {
  const planned = plan?.hosts.map((h) => h.connectionKey);
  const keys = value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (keys.length === 0) {
    if (planned) return planned;
    if (ifNoHosts !== 'error') return [];
    throw new InputError(
      Inputs.ConnectionKey,
      `${value === '' ? "is required but was empty. Set it in the step's `with:` block: one connection key, or one per line" : 'names no host: every line is blank or a # comment'}. A list that can come out empty (hosts computed by an earlier step, all retired already) needs if-no-hosts: warn or ignore, to let the step succeed without deleting anything.`
    );
  }
  const listed = keys.find((key) => key.startsWith('[') || key.includes(','));
  if (listed !== undefined) throw listGivenOnOneLine(listed);
  const seen = new Set<string>();
  for (const key of keys) {
    const bad = badKey(key);
    if (bad !== undefined) {
      throw new InputError(
        Inputs.ConnectionKey,
        `${bad}. Give each connection key exactly as Immuta shows it, one per line.`
      );
    }
    if (seen.has(key)) {
      throw new InputError(Inputs.ConnectionKey, `names host '${key}' twice. Give each host once.`);
    }
    seen.add(key);
  }
  if (planned) {
    const same = keys.length === planned.length && planned.every((k) => seen.has(k));
    if (!same) {
      throw new InputError(
        Inputs.ConnectionKey,
        `names other hosts than the plan (${planned.map((k) => `'${k}'`).join(', ')}). Leave connection-key empty to apply the plan's hosts.`
      );
    }
  }
  return keys;
}

/**
 * connection-key given as a list on one line (`snow-a, snow-b`, or JSON): Immuta would be asked
 * for one host of that odd name. A comma or an opening bracket is taken as that mistake.
 */
function listGivenOnOneLine(line: string): InputError {
  const shown = JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
  const what = line.startsWith('[')
    ? `looks like a JSON list (${shown})`
    : `holds a comma (${shown}), as a comma-separated list does`;
  return new InputError(
    Inputs.ConnectionKey,
    `${what}, but it takes one connection key per line: write each key on a line of its own (connection-key: |, then one key on each line below it). A key holding a comma or starting with [ is refused for the same reason.`
  );
}

/**
 * What makes a connection key unusable, whether typed in connection-key or read from a plan;
 * undefined when it is fine.
 */
function badKey(key: string): string | undefined {
  if (hasControlCharacter(key)) return 'contains a control character (a tab?)';
  if (key === '.' || key === '..') {
    return `is ${JSON.stringify(key)}, which names a folder, not a host`;
  }
  // A typed key is trimmed and a line starting with # is a comment: no such key can be given.
  if (key !== key.trim()) return `${JSON.stringify(key)} starts or ends with white space`;
  if (key.startsWith('#')) return `${JSON.stringify(key)} starts with #, which marks a comment`;
  return undefined;
}

/**
 * The plan file named by `plan`, read and checked now, before any request; held to
 * `plan-sha256` (the SHA-256 of the file the approved dry run wrote) when that is given.
 */
function readPlan(file: string, expectedSha256: string): Plan | undefined {
  if (file === '') {
    if (expectedSha256 !== '') {
      throw new InputError(
        Inputs.PlanSha256,
        'is set, but plan is empty. Give plan the path of the plan file, or leave plan-sha256 empty.'
      );
    }
    return undefined;
  }
  if (expectedSha256 !== '' && !/^[0-9a-f]{64}$/i.test(expectedSha256)) {
    throw new InputError(
      Inputs.PlanSha256,
      "must be the 64 hex digits of a SHA-256, as the dry run's plan-sha256 output gives it."
    );
  }
  const bytes = readPlanFile(file);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (expectedSha256 !== '' && actual !== expectedSha256.toLowerCase()) {
    throw new InputError(
      Inputs.PlanSha256,
      `does not match the plan file ${file}: its SHA-256 is ${actual}, but the approved plan's is ${expectedSha256.toLowerCase()}. This is not the plan that was approved; apply the plan file the approved dry run wrote, or make and approve a new plan.`
    );
  }
  let plan: Plan;
  try {
    plan = parsePlan(bytes.toString('utf8'));
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    throw new InputError(Inputs.Plan, `${error.message}: ${file}. Make a new plan with a dry run.`);
  }
  for (const host of plan.hosts) {
    const bad = badKey(host.connectionKey);
    if (bad !== undefined) {
      throw new InputError(
        Inputs.Plan,
        `names a host whose connection key ${bad}: ${file}. A dry run never writes such a key; make a new plan with a dry run.`
      );
    }
  }
  return plan;
}

/**
 * Far past any plan: a dry run writes the scripts of its hosts (Immuta's are capped at 8 MiB
 * each, and real ones hold kilobytes), and a plan is read whole into memory to be checked. Well
 * under V8's longest string (about 512 MiB), which a larger file met with an error naming no input.
 */
export const MAX_PLAN_BYTES = 256 * 1024 * 1024;

/**
 * The plan file's bytes, read only when it is a regular file of at most MAX_PLAN_BYTES: a
 * device (/dev/zero) never ends, a FIFO blocks the open until something writes to it, and a
 * large file (a log, a dump, the wrong download) would fill the memory before the check could
 * name the input. Opened without blocking and checked again through the open file, in case the
 * path changed in between; read to one byte past the cap at most, in case the file grew.
 */
function readPlanFile(file: string): Buffer {
  const unreadable = (error: unknown) =>
    new InputError(
      Inputs.Plan,
      `names a file that cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}): ${file}. Give the path of the plan file the dry run wrote (its plan-path output), downloaded in this job.`
    );
  let fd: number;
  try {
    // Checked before the open, which blocks on a FIFO until something writes to it.
    notAPlan(file, fs.statSync(file));
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw error instanceof InputError ? error : unreadable(error);
  }
  try {
    const { size } = notAPlan(file, fs.fstatSync(fd));
    // One byte past the size, to see a file that grew; grown up to one byte past the cap.
    let buffer = Buffer.allocUnsafe(Math.min(MAX_PLAN_BYTES, size) + 1);
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        if (total > MAX_PLAN_BYTES) throw tooLarge(file);
        const grown = Buffer.allocUnsafe(Math.min(MAX_PLAN_BYTES + 1, total * 2));
        buffer.copy(grown);
        buffer = grown;
      }
      const n = fs.readSync(fd, buffer, total, buffer.length - total, null);
      if (n === 0) return buffer.subarray(0, total);
      total += n;
    }
  } catch (error) {
    throw error instanceof InputError ? error : unreadable(error);
  } finally {
    fs.closeSync(fd);
  }
}

/** Refuses what cannot be a plan file, from its stat alone; the stat when it may be one. */
function notAPlan(file: string, stat: fs.Stats): fs.Stats {
  if (!stat.isFile()) {
    const what = stat.isDirectory()
      ? 'a folder'
      : 'something other than a file (a device or a pipe?)';
    throw new InputError(
      Inputs.Plan,
      `names ${what}: ${file}. Give the path of the plan file the dry run wrote (its plan-path output), downloaded in this job.`
    );
  }
  if (stat.size > MAX_PLAN_BYTES) throw tooLarge(file, stat.size);
  return stat;
}

/** A file of `size` bytes, or of more than the cap read so far. */
function tooLarge(file: string, size?: number): InputError {
  const mib = (n: number) => `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  return new InputError(
    Inputs.Plan,
    `names a file of ${size === undefined ? `more than ${mib(MAX_PLAN_BYTES)}` : mib(size)}, far larger than any plan (at most ${mib(MAX_PLAN_BYTES)}: a plan holds its hosts' cleanup scripts, and is read whole): ${file}. Give the path of the plan file the dry run wrote (its plan-path output), not a log or another download.`
  );
}

/**
 * ca-certificate, checked as Node will use it: Node's TLS skips a PEM block it cannot parse
 * without a word, so a CA it could not read would surface only as an untrusted certificate,
 * with the advice to pass the CA that was passed. Every block must hold a certificate.
 */
function pem(value: string): string | undefined {
  if (value === '') return undefined;
  const blocks = value.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (blocks === null) {
    throw new InputError(
      Inputs.CaCertificate,
      "must hold one or more PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----). Pass the certificate's text, for example from a secret, not a file path."
    );
  }
  // A PEM copied out of JSON or a vault's one-line view: its line breaks are the two characters
  // \n. Refused rather than mended, since the same secret may feed other tools that read it as is.
  if (blocks.some((block) => /\\[nr]/.test(block))) {
    throw new InputError(
      Inputs.CaCertificate,
      'holds a certificate whose line breaks are written as the two characters \\n (as JSON and some vaults show a PEM), which Node cannot read. Store the PEM in the secret with real line breaks, as the .pem file has them (for example gh secret set NAME < ca.pem).'
    );
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      const which =
        blocks.length === 1 ? 'its PEM block' : `PEM block ${i + 1} of ${blocks.length}`;
      throw new InputError(
        Inputs.CaCertificate,
        `holds no certificate Node can read in ${which} (cut short, indented or edited?). Pass the CA's certificate exactly as its .pem file holds it, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, with its line breaks.`
      );
    }
  });
  return value;
}

/**
 * Reads the step's inputs. Every secret is masked before anything can log it; a multi-line one
 * (a PEM key) line by line too, because the log is masked line by line. `env` says which
 * INPUT_* variables the runner passed: one naming no input stops the step, and so does an
 * input passed empty where the runner would have passed a default.
 */
export function readConfig(
  source: InputSource,
  setSecret: (secret: string, use?: 'sent' | 'kept') => void,
  env: Environment,
  warn?: (message: string) => void
): Config {
  const mask = (value: string, use: 'sent' | 'kept' = 'sent') => {
    if (!value) return;
    setSecret(value, use);
    const lines = value.split(/\r?\n/).map((line) => line.trim());
    if (lines.length === 1) return;
    for (const line of lines) {
      if (line.length >= 8 && !/^-----(BEGIN|END) /.test(line)) setSecret(line, use);
    }
  };
  for (const name of SECRET_INPUTS) {
    mask(source.getInput(name), KEPT_SECRET_INPUTS.includes(name) ? 'kept' : 'sent');
  }
  const variables = Object.keys(env);
  const unknown = unknownInputs(variables);
  if (unknown.length > 0) {
    // A misspelt api_key holds the key: masked like the input it meant.
    for (const stray of unknown.filter(meantSecret)) mask((env[stray.variable] ?? '').trim());
    throw unknownInputError(unknown);
  }
  const read = readStep(source, variables);
  // Every input, read once now: an empty one is bad input even where this run would not use it.
  for (const name of Object.values(Inputs)) read(name);
  return parseInputs(read, env, warn);
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
