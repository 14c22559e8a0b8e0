import type { Config } from '../action/inputs.js';
import type { ImmutaClient } from '../immuta/client.js';
import { ImmutaError } from '../immuta/errors.js';
import { hasNoScript, type ConnectionInfo } from '../immuta/responses.js';
import type { KeptArtifact, KeptScript } from './keep-script.js';
import {
  anotherHost,
  deletedBy,
  deletedSince,
  notProven,
  type EarlierAttempts,
  type EarlierLookup,
  type EarlierRecord
} from './earlier-attempts.js';
import { lineCount, type Outcome } from './outcome.js';
import { sha256 } from './plan.js';
import { scriptStatements } from '../warehouse/statements.js';
import { notRun, PLATFORM_NAMES, type ScriptRun } from '../warehouse/types.js';
import type { Platform } from '../warehouse/settings.js';
import type { Step3 } from '../step3/step.js';
import { nextStepWhenUnreadable } from '../artifacts/damaged.js';

/** Where a host's script and record are kept: the file (with a script) and the artifact. */
export interface Kept {
  readonly kept: KeptScript | undefined;
  readonly artifact: KeptArtifact | undefined;
}

/** What is known of a host before its script: Immuta's record of it, or an earlier attempt's. */
type Known = Pick<Outcome, 'integrationId' | 'technology' | 'hostname'>;

export interface FlowDependencies {
  readonly immuta: ImmutaClient;
  /**
   * Keeps the script every way asked for (and writes the report, and a dry run's plan, beside
   * it; the report goes into the artifact even for a host with no script); told what is known
   * of the host. Called for a host with no script too, with undefined.
   */
  readonly keepScript: (script: string | undefined, known: Known) => Promise<Kept>;
  /** Told what Immuta says of the host as soon as it is known, so the outputs exist even if a later step fails. */
  readonly onHost: (known: Known) => void;
  /** Called the moment the host is known deleted, so a later failure still reports it. */
  readonly onDeleted: () => void;
  /** Step 3 on the platform run-script names (its checks and its executor); absent with none. */
  readonly step3?: Step3;
  /** GITHUB_RUN_ATTEMPT: from 2 on, an earlier attempt of this run may have deleted the host. */
  readonly attempt: number;
  /** What earlier attempts of this job kept in the run's artifacts, read once when first asked. */
  readonly earlier: () => Promise<EarlierAttempts>;
  /**
   * Keeps again, as this step's file and outputs, what the earlier attempt that deleted the host
   * kept: its script (restored to script-path) and its artifact.
   */
  readonly restore: (earlier: EarlierRecord) => Promise<Kept>;
  /** Cuts the run's secrets out of text from a server (a script) before it is logged. */
  readonly redact?: (text: string) => string;
  readonly log: { info(message: string): void; warning(message: string): void };
}

/** Raised for a host that is gone while `if-missing` is `error`. */
export class MissingHostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingHostError';
  }
}

/**
 * Immuta's three steps: get the script, keep it, delete the host, then (when run-script asks)
 * run the script on the platform. The order never changes: nothing is deleted unless the script
 * was kept every way asked for, and the script runs only after the host is gone.
 */
export async function deregister(config: Config, deps: FlowDependencies): Promise<Outcome> {
  const { outcome, lookup } = await deregisterHost(config, deps);
  return { ...outcome, scriptRun: await cleanUp(config, deps, outcome, lookup) };
}

/** The host's outcome, and what earlier attempts kept of it when it was found gone. */
interface Settled {
  readonly outcome: Outcome;
  readonly lookup?: EarlierLookup | undefined;
}

async function deregisterHost(config: Config, deps: FlowDependencies): Promise<Settled> {
  const { immuta, log } = deps;
  const key = config.connectionKey;

  if (config.authMethod === 'token') await immuta.authenticate();

  let started = Date.now();
  const host = await immuta.getConnection(key);
  const timings: Record<string, number> = { lookupMs: Date.now() - started };
  if (host === undefined) {
    return gone(
      config,
      deps,
      `Looking up the host found nothing: GET ${immuta.pathOf('connection', key)} answered 404 Not Found, so Immuta has no host '${key}' (immuta-url answers as Immuta does, so the URL is not the cause). If the key is misspelt, correct it: it must be the connection key exactly as Immuta shows it`
    );
  }
  if (config.warehouse) matchPlatform(config.warehouse.platform, host.technology, key);
  const integrationId = integrationFor(config, host, log);
  const known = { integrationId, technology: host.technology, hostname: host.hostname };
  await sameHostAsKept(key, known, deps);
  // The warehouse is tried before anything is generated or deleted (a dry run too).
  if (deps.step3) await deps.step3.check(host.hostname);
  deps.onHost(known);

  // Step 1: the cleanup script, kept every way asked for before anything is deleted.
  started = Date.now();
  const script = await cleanupScript(immuta, key, integrationId, host.technology, log);
  if (script === HOST_GONE) {
    return gone(
      config,
      deps,
      `Getting the cleanup script found nothing: the script endpoint and GET ${immuta.pathOf('object', key)} answered 404 Not Found, so host '${key}' is gone from Immuta`,
      known
    );
  }
  const { kept, artifact } = await deps.keepScript(script, known);
  // Whether step 3 can run this script, one statement a request in its session, is known
  // before anything is deleted (a dry run too).
  if (deps.step3 && script !== undefined) await deps.step3.checkScript(script);
  timings.scriptMs = Date.now() - started;
  const done = { ...known, ...NOTHING_YET, connectionKey: key, script, kept, artifact, timings };

  // Step 2: delete the host; a dry run only describes it.
  if (config.dryRun) {
    const object = await immuta.getObject(key);
    return {
      outcome: {
        ...done,
        status: 'dry-run',
        objectState: object?.state ?? (object ? undefined : 'absent')
      }
    };
  }
  started = Date.now();
  const deletion = await deleteHost(immuta, key, kept, artifact);
  timings.deleteMs = Date.now() - started;
  if (deletion === undefined) {
    return {
      outcome: absent(
        config,
        `Deleting the host found nothing: DELETE ${immuta.pathOf('object', key)} answered 404 Not Found, so host '${key}' was gone before the delete`,
        { ...done, timings }
      )
    };
  }
  if (deletion.unreadableAnswer !== undefined) {
    log.warning(
      `Immuta's answer to the delete of host '${key}' was not its usual answer (${deletion.unreadableAnswer}), but a lookup shows the host is gone: it was deleted. child-count is empty.`
    );
  } else if (deletion.childCount === undefined && deletion.confirmedBy === 'answer') {
    log.warning(
      `Immuta deleted host '${key}' but its answer did not say how many child objects went with it; child-count is empty.`
    );
  }
  deps.onDeleted();
  if (deps.step3) {
    // Step 3 follows: say here that step 2 is done, so the log reads in Immuta's order.
    log.info(`Deleted host '${key}' in Immuta.`);
  }
  return {
    outcome: { ...done, status: 'deregistered', deleted: true, childCount: deletion.childCount }
  };
}

/**
 * On a re-run, the host Immuta names under the key must be the host an earlier attempt of this
 * job kept (when one did): one registered again since, under the same key, is never deleted and
 * its namesake's script never run.
 */
async function sameHostAsKept(key: string, now: Known, deps: FlowDependencies): Promise<void> {
  if (deps.attempt <= 1) return;
  const why = anotherHost(key, now, (await deps.earlier()).of(key));
  if (why !== undefined) throw new Error(`${why}. Nothing was generated or deleted.`);
}

/**
 * The host is gone. On a re-run, the record an earlier attempt of this job kept just before its
 * delete proves that attempt deleted it: it counts as deleted since then, whatever if-missing
 * says (a re-run cannot change the inputs, and the key is no typo), and what that attempt kept
 * is this step's again. Otherwise if-missing decides, told what earlier attempts left.
 */
async function gone(
  config: Config,
  deps: FlowDependencies,
  because: string,
  known: Known = UNKNOWN
): Promise<Settled> {
  const key = config.connectionKey;
  // Read for step 3 on a first attempt too: it says why a neighbour's script is not run.
  const lookup = deps.attempt > 1 || deps.step3 ? (await deps.earlier()).of(key) : undefined;
  const earlier = deletedBy(lookup);
  if (earlier === undefined) {
    const note = deps.attempt > 1 ? notProven(lookup, deps.attempt) : '';
    return { outcome: absent(config, because, { ...known, note }), lookup };
  }
  const recorded = {
    integrationId: earlier.integrationId,
    technology: earlier.technology,
    hostname: earlier.hostname
  };
  const absentBecause = deletedSince(key, earlier);
  deps.log.info(`${absentBecause}.`);
  deps.onHost(recorded);
  const { kept, artifact } = await deps.restore(earlier);
  return {
    outcome: {
      ...recorded,
      ...NOTHING_YET,
      status: 'already-absent',
      connectionKey: key,
      script: earlier.script?.text,
      kept,
      artifact,
      deletedByAttempt: earlier.attempt,
      absentBecause
    },
    lookup
  };
}

/**
 * Step 3: the script on the platform, after the host was deleted; in a dry run, only the
 * statements that would run. A re-run that finds the host gone runs the script its earlier
 * attempt kept as an artifact, since Immuta can no longer produce it, from where the records of
 * earlier attempts say it stopped.
 */
async function cleanUp(
  config: Config,
  deps: FlowDependencies,
  outcome: Outcome,
  lookup: EarlierLookup | undefined
): Promise<ScriptRun | undefined> {
  const step3 = deps.step3;
  if (step3 === undefined) return undefined;
  const platform = step3.platform;
  if (outcome.status === 'dry-run') {
    if (outcome.script === undefined) {
      return skipped(platform, [], 'Dry run: there is no script to run.');
    }
    return dryRunList(deps, platform, statementsOf(outcome.script, platform), 0, 'Dry run: these');
  }
  if (outcome.status === 'already-absent') {
    return cleanUpAfterEarlierAttempt(config, deps, step3, lookup);
  }
  if (outcome.script === undefined) {
    return skipped(platform, [], 'Immuta gave no cleanup script for this host.');
  }
  const script = {
    script: outcome.script,
    sha256: sha256(outcome.script),
    artifact: outcome.artifact?.artifactName
  };
  return step3.run(script, { kind: 'fresh' });
}

/**
 * The host is gone: an earlier attempt of this run may have deleted it and kept its script. That
 * script runs only when the report beside it names this host and its SHA-256, and only from
 * where the newest record of step 3 says it stopped. What cannot be read stops the step: a
 * re-run that cannot tell what ran never goes green.
 */
async function cleanUpAfterEarlierAttempt(
  config: Config,
  deps: FlowDependencies,
  step3: Step3,
  lookup: EarlierLookup | undefined
): Promise<ScriptRun> {
  const platform = step3.platform;
  const name = PLATFORM_NAMES[platform];
  if (lookup?.kind === 'unreadable') {
    throw new Error(
      `Looking for the cleanup script an earlier attempt of this run kept failed: ${lookup.why}. Nothing ran in ${name}, so that nothing runs twice or is left undone unseen; ${nextStepWhenUnreadable(lookup.damaged)}.`
    );
  }
  if (lookup?.kind === 'conflict') {
    throw new Error(
      `The host is gone, and which cleanup script an earlier attempt of this run kept cannot be told: ${lookup.why}. Nothing ran in ${name}: run the script this job kept by hand, from the artifact its earlier attempt's log names, if that was not done yet.`
    );
  }
  const earlier = deletedBy(lookup);
  if (earlier === undefined) {
    const note =
      lookup?.kind === 'refused'
        ? `The host is already gone; nothing ran in ${name}, because ${lookup.why}.`
        : `The host is already gone, and no artifact of this workflow run holds its cleanup script, so nothing ran in ${name}. If the script has not run yet, run it by hand from the file or artifact the earlier run kept.`;
    deps.log.warning(note);
    return skipped(platform, [], note);
  }
  const { from, technology } = earlier;
  if (technology !== undefined && !technology.toLowerCase().includes(platform)) {
    throw new Error(
      `run-script is ${platform}, but the script in ${from} was kept for a ${technology} host. Nothing ran. Set run-script to the host's platform, or to none.`
    );
  }
  if (earlier.script === undefined) {
    return skipped(platform, [], `Immuta made no cleanup script for this host (${from}).`);
  }
  // The host is gone from Immuta: the account it was in is the one its kept report names.
  await step3.check(earlier.hostname, 'rerun');
  const statements = await step3.checkScript(earlier.script.text);
  const kept = {
    script: earlier.script.text,
    sha256: earlier.script.sha256,
    artifact: earlier.artifact.name,
    from
  };
  const next = await step3.resumption(kept);
  if (next.kind === 'done') {
    const run = await step3.run(kept, next);
    deps.log.info(run.note!);
    return run;
  }
  // A dry run runs nothing, whatever an earlier attempt left: it says what would run.
  if (config.dryRun) {
    const startAt = next.kind === 'resume' || next.kind === 'stuck' ? next.at : 0;
    return dryRunList(
      deps,
      platform,
      statements.map((s) => s.text),
      startAt,
      `Dry run: the host is gone, and ${from} holds its cleanup script; these`
    );
  }
  if (next.kind === 'fresh') {
    deps.log.info(
      `Running the cleanup script that an earlier attempt kept in ${from}: no attempt started it (no record of step 3), so it runs from statement 1.`
    );
  }
  const run = await step3.run(kept, next);
  // A statement this attempt sent has a duration; one it never sent has none.
  const wentOn = run.statements[next.kind === 'resume' ? next.at : 0]?.durationMs !== undefined;
  const note =
    next.kind === 'resume' && next.at > 0
      ? `The script an earlier attempt kept in ${from}; earlier attempts ran ${next.at === 1 ? 'statement 1' : `statements 1 to ${next.at}`}, so this attempt ${wentOn ? 'went on' : 'was to go on'} at statement ${next.at + 1}.`
      : `The script an earlier attempt kept in ${from}.`;
  return { ...run, note };
}

function statementsOf(script: string, platform: Platform): string[] {
  return scriptStatements(script, platform).map((s) => s.text);
}

/** A dry run's step 3: the statements from `startAt` on listed in the log, none run. */
function dryRunList(
  deps: FlowDependencies,
  platform: Platform,
  statements: readonly string[],
  startAt: number,
  lead: string
): ScriptRun {
  const name = PLATFORM_NAMES[platform];
  const would = statements.slice(startAt);
  deps.log.info(
    `${lead} ${would.length} statements would run in ${name}, one a request, none ran:`
  );
  const redact = deps.redact ?? ((t: string) => t);
  would.forEach((statement, i) =>
    deps.log.info(`  ${startAt + i + 1}. ${redact(statement).replace(/\s+/g, ' ')}`)
  );
  return skipped(platform, statements, `Dry run: nothing ran in ${name}.`);
}

function skipped(platform: Platform, statements: readonly string[], note: string): ScriptRun {
  return {
    platform,
    status: 'skipped',
    statements: notRun(statements),
    statementsRun: 0,
    durationMs: 0,
    error: undefined,
    note
  };
}

/** The platform must be the host's: a Databricks script must never reach Snowflake. */
function matchPlatform(platform: Platform, technology: string | undefined, key: string): void {
  if (technology === undefined || technology.toLowerCase().includes(platform)) return;
  throw new Error(
    `run-script is ${platform}, but Immuta's record of host '${key}' names the technology ${technology}. Nothing was generated or deleted. Set run-script to the host's platform, or to none.`
  );
}

/** Step 2, and where the script is when it fails: the reader must not have to go looking. */
async function deleteHost(
  immuta: ImmutaClient,
  key: string,
  kept: KeptScript | undefined,
  artifact: KeptArtifact | undefined
) {
  try {
    return await immuta.deleteObject(key);
  } catch (error) {
    if (kept === undefined || !(error instanceof Error)) throw error;
    const where = [`the file ${kept.path}`];
    if (artifact !== undefined) where.push(`artifact ID ${artifact.artifactId}`);
    throw new Error(`${error.message} The cleanup script is kept: ${where.join(', ')}.`, {
      cause: error
    });
  }
}

export const HOST_GONE = Symbol('host gone');

/** The script, undefined for a host that has none, or HOST_GONE when the host went with it. */
export async function cleanupScript(
  immuta: ImmutaClient,
  key: string,
  integrationId: number,
  technology: string | undefined,
  log: FlowDependencies['log']
): Promise<string | undefined | typeof HOST_GONE> {
  if (hasNoScript(technology)) {
    log.info(
      `Host '${key}' is an AWS Lake Formation host: Immuta makes no cleanup script for it, so there is nothing to keep.`
    );
    return undefined;
  }
  try {
    const script = await immuta.getDeleteScript(integrationId);
    log.info(
      `Got the cleanup script for integration ${integrationId} (${lineCount(script)} lines).`
    );
    return script;
  } catch (error) {
    // A re-run after an earlier attempt deleted the host: the integration is gone with it.
    const notFound = error instanceof ImmutaError && error.notFound;
    if (notFound && (await immuta.getObject(key)) === undefined) return HOST_GONE;
    throw error;
  }
}

/** The outcome's fields before the delete says otherwise. */
const NOTHING_YET = {
  deleted: false,
  childCount: undefined,
  objectState: undefined,
  absentBecause: undefined
} as const;

/** The integration behind the host; a given integration-id must match it. */
export function integrationFor(
  config: Pick<Config, 'integrationId' | 'connectionKey'>,
  host: ConnectionInfo,
  log: { warning(message: string): void }
): number {
  const given = config.integrationId;
  const actual = host.nativeIntegrationId;
  if (given === undefined) {
    if (actual === undefined) {
      throw new Error(
        `Immuta's record of host '${config.connectionKey}' (GET /data/connection) names no nativeIntegrationId, so the integration cannot be found. Set integration-id to the ID of the integration behind this host.`
      );
    }
    return actual;
  }
  if (actual === undefined) {
    log.warning(
      `Immuta's record of host '${config.connectionKey}' names no nativeIntegrationId, so integration-id ${given} cannot be checked against it; using it as given.`
    );
    return given;
  }
  if (given !== actual) {
    // A typo here would pair one host's delete with another integration's script.
    throw new Error(
      `integration-id ${given} does not match host '${config.connectionKey}': Immuta says the integration behind it (nativeIntegrationId) is ${actual}. Nothing was generated or deleted. Correct integration-id, or leave it empty to use the host's own.`
    );
  }
  return given;
}

const UNKNOWN: Known = {
  integrationId: undefined,
  technology: undefined,
  hostname: undefined
};

/**
 * A host that is gone and no earlier attempt of this run proves it deleted: if-missing decides.
 * `note` says what earlier attempts left, on a re-run.
 */
function absent(
  config: Config,
  because: string,
  found: Known &
    Partial<Pick<Outcome, 'script' | 'kept' | 'artifact' | 'timings'>> & {
      note?: string;
    }
): Outcome {
  const { note, ...known } = found;
  const reason = note ? `${because}. ${note}` : because;
  if (config.ifMissing === 'error') {
    throw new MissingHostError(
      `${reason}. If it was already deregistered, set if-missing: warn or if-missing: ignore to let the step succeed${note ? ' (a re-run keeps the inputs of its workflow run: in a new run)' : ''}.`
    );
  }
  return {
    ...NOTHING_YET,
    script: undefined,
    kept: undefined,
    ...known,
    status: 'already-absent',
    connectionKey: config.connectionKey,
    absentBecause: reason
  };
}
