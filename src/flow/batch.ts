/**
 * Many hosts in one step, and plan → apply, on the one-host flow's phases: look every host up,
 * then get and keep every script, and only when all are kept start any delete. A lookup that
 * fails, a missing host under if-missing: error, a script that cannot be had, or a world that no
 * longer matches the plan: nothing at all is deleted.
 */
import * as path from 'node:path';
import type { Config } from '../action/inputs.js';
import type { ImmutaClient } from '../immuta/client.js';
import { mayHaveDeleted } from '../immuta/errors.js';
import { cleanupScript, HOST_GONE, integrationFor } from './deregister.js';
import type { ArtifactBundle, KeptArtifact } from './keep-script.js';
import { checkKept, writeFileAtomically } from './keep-script.js';
import {
  anotherHost,
  deletedBy,
  deletedSince,
  notProven,
  type EarlierAttempts,
  type EarlierRecord
} from './earlier-attempts.js';
import { runFiles, type RunFiles } from '../action/naming.js';
import { changesSince, planOf, serializePlan, sha256, type Plan } from './plan.js';
import { mapLimit } from './pool.js';
import {
  emptyRecord,
  runReport,
  serializeReport,
  type HostRecord,
  type RunIdentity,
  type RunReport
} from '../reports/record.js';
import { errorText } from '../action/error-text.js';
import type { ApprovalRecord } from '../approvals/review-history.js';
import { promises as fs } from 'node:fs';

export interface BatchDependencies {
  readonly immuta: ImmutaClient;
  /** Uploads the batch's files as one artifact; undefined when upload-artifact is false. */
  readonly keepArtifact: (bundle: ArtifactBundle) => Promise<KeptArtifact | undefined>;
  /** Called the moment any host is known deleted. */
  readonly onDeleted: () => void;
  /** The job and attempt, written into the report so a later attempt knows whose artifact it finds. */
  readonly identity?: RunIdentity;
  /** The run's review history, for the final report; undefined when it is not read. */
  readonly approvals?: () => Promise<ApprovalRecord | undefined>;
  /** GITHUB_RUN_ATTEMPT: from 2 on, an earlier attempt of this run may have deleted hosts. */
  readonly attempt?: number;
  /** What earlier attempts of this job kept in the run's artifacts, read once when first asked. */
  readonly earlier?: () => Promise<EarlierAttempts>;
  readonly log: { info(message: string): void; warning(message: string): void };
}

export interface BatchOutcome {
  readonly records: readonly HostRecord[];
  readonly folder: string;
  readonly reportPath: string;
  /** Written by a dry run. */
  readonly planPath: string | undefined;
  /** The SHA-256 of the plan file's bytes, which an apply can be held to (plan-sha256). */
  readonly planSha256: string | undefined;
  readonly artifact: KeptArtifact | undefined;
  /** Why nothing was deleted, when something stopped the batch before its deletes. */
  readonly refused: string | undefined;
  /** How the world differs from the plan, when it does. */
  readonly changes: readonly string[];
  readonly dryRun: boolean;
  /** Whether it applied a plan. */
  readonly plan: boolean;
}

interface Found {
  record: HostRecord;
  /** Immuta's record of the host, when it has one. */
  present: boolean;
  /** For a host gone: the record of the earlier attempt of this run that deleted it. */
  deletedBy?: EarlierRecord;
}

/** One batch run: what every phase needs. */
interface BatchRun {
  readonly config: Config;
  readonly deps: BatchDependencies;
  readonly files: RunFiles;
  readonly startedAt: string;
  readonly now: () => Date;
}

/** What a phase leaves for the end of the run: the records, and what else the outcome says. */
type Ending = { readonly records: readonly HostRecord[] } & Partial<
  Pick<BatchOutcome, 'refused' | 'changes' | 'planPath' | 'planSha256' | 'artifact'>
>;

/** A phase that stops the batch before any delete, saying why. */
type Stop = Ending & { readonly refused: string };

const stopped = <T extends object>(result: T | Stop): result is Stop => 'refused' in result;

export async function deregisterBatch(
  config: Config,
  deps: BatchDependencies,
  now: () => Date = () => new Date()
): Promise<BatchOutcome> {
  const run: BatchRun = {
    config,
    deps,
    files: runFiles(config.scriptPath, config.connectionKeys),
    startedAt: now().toISOString(),
    now
  };
  const foreign = foreignPlan(run);
  if (foreign) return finish(run, foreign);
  if (config.authMethod === 'token') await deps.immuta.authenticate();
  const found = await lookUpAll(run);
  if (stopped(found)) return finish(run, found);
  const scripted = await getScripts(run, found);
  if (stopped(scripted)) return finish(run, scripted);
  const drift = planDrift(run, scripted);
  if (drift) return finish(run, drift);
  const kept = await keepAll(run, scripted);
  if (stopped(kept) || config.dryRun) return finish(run, kept);
  return finish(run, { ...kept, records: await deleteAll(run, kept.records) });
}

/** Writes the final report and says what the batch did. */
async function finish(run: BatchRun, ending: Ending): Promise<BatchOutcome> {
  const { config, files } = run;
  await writeRunReport(run, 'final', ending.records);
  return {
    records: ending.records,
    folder: files.folder,
    reportPath: files.reportPath,
    planPath: ending.planPath,
    planSha256: ending.planSha256,
    artifact: ending.artifact,
    refused: ending.refused,
    changes: ending.changes ?? [],
    dryRun: config.dryRun,
    plan: config.plan !== undefined
  };
}

async function writeRunReport(
  run: BatchRun,
  stage: 'before-delete' | 'final',
  hosts: readonly HostRecord[]
): Promise<void> {
  const { config } = run;
  const approvals = stage === 'final' ? await run.deps.approvals?.() : undefined;
  await writeReport(
    run.files.reportPath,
    runReport(
      {
        tenant: config.immutaUrl,
        dryRun: config.dryRun,
        stage,
        startedAt: run.startedAt,
        hosts,
        approvals
      },
      run.now(),
      run.deps.identity
    )
  );
}

/** A plan for another tenant is refused before any request. */
function foreignPlan({ config }: BatchRun): Stop | undefined {
  if (!config.plan || config.plan.tenant === config.immutaUrl) return undefined;
  return {
    records: config.connectionKeys.map(emptyRecord),
    refused: 'The plan does not match what Immuta holds now',
    changes: changesSince(config.plan, config.immutaUrl, [])
  };
}

/**
 * Phase 1: every host looked up; a failed lookup, or a missing host under error, stops all. On a
 * re-run the batch goes by the rules one host does: a host gone whose record an earlier attempt
 * of this job kept before deleting it counts as deleted since then, whatever if-missing says; a
 * host there that is not the one such a record names (registered again since) stops all.
 */
async function lookUpAll(run: BatchRun): Promise<Found[] | Stop> {
  const { config, deps } = run;
  const { immuta, log } = deps;
  const looked = await mapLimit(config.connectionKeys, config.maxParallel, (key) =>
    lookUp(config, immuta, key, log)
  );
  const records = () => looked.map((f) => f.record);
  const lookupFailed = looked.filter((f) => f.record.status === 'failed');
  if (lookupFailed.length > 0) {
    return { records: records(), refused: `Looking up ${names(lookupFailed)} failed` };
  }
  const attempt = deps.attempt ?? 1;
  const earlier = attempt > 1 && deps.earlier ? await deps.earlier() : undefined;
  for (const f of looked.filter((f) => f.present && earlier)) {
    const why = anotherHost(f.record.connectionKey, f.record, earlier!.of(f.record.connectionKey));
    if (why !== undefined) return { records: records(), refused: why };
  }
  const found = looked.map((f) => {
    const by = f.present ? undefined : deletedBy(earlier?.of(f.record.connectionKey));
    return by === undefined ? f : deletedEarlier(f, by);
  });
  const missing = found.filter((f) => !f.present && f.deletedBy === undefined);
  if (missing.length > 0 && config.ifMissing === 'error') {
    const it = missing.length === 1;
    const note = earlier ? notProven(earlier.of(missing[0]!.record.connectionKey), attempt) : '';
    const why = config.plan
      ? `Host${it ? '' : 's'} ${names(missing)} of the plan ${it ? 'is' : 'are'} gone from Immuta (an earlier apply may have deleted ${it ? 'it' : 'them'}; if-missing: error). Re-run with if-missing: warn (or ignore) to count ${it ? 'it' : 'them'} as already absent and apply the rest of the plan`
      : `Immuta has no host ${names(missing)} (if-missing: error; set if-missing: warn or ignore to go on without ${it ? 'it' : 'them'}, or correct ${it ? 'the key if it is' : 'any key that is'} misspelt)`;
    return { records: found.map((f) => f.record), refused: note ? `${why}. ${note}` : why };
  }
  for (const f of found) {
    if (f.deletedBy) log.info(`${deletedSince(f.record.connectionKey, f.deletedBy)}.`);
  }
  for (const m of missing) {
    const message = config.plan
      ? `Host '${m.record.connectionKey}' of the plan is gone from Immuta (deleted by an earlier apply?): it counts as already absent.`
      : `Immuta has no host '${m.record.connectionKey}': it counts as already absent. If the key is misspelt, correct it: it must be the connection key exactly as Immuta shows it.`;
    if (config.ifMissing === 'warn') log.warning(message);
    else log.info(message);
  }
  return found;
}

/** A host an earlier attempt deleted: its record as that attempt kept it, already absent now. */
function deletedEarlier(found: Found, earlier: EarlierRecord): Found {
  return {
    present: false,
    deletedBy: earlier,
    record: {
      ...found.record,
      integrationId: earlier.integrationId,
      technology: earlier.technology,
      hostname: earlier.hostname,
      status: 'already-absent',
      deletedByAttempt: earlier.attempt
    }
  };
}

/** Phase 2: every script, written to disk as it arrives; any that cannot be had stops all. */
async function getScripts(run: BatchRun, found: readonly Found[]): Promise<Found[] | Stop> {
  const { config, deps, files } = run;
  await fs.mkdir(files.folder, { recursive: true });
  const scripted = await mapLimit(found, config.maxParallel, (f) =>
    f.present
      ? getScript(config, deps.immuta, files.scriptFor, f, deps.log)
      : f.deletedBy?.script
        ? restoreScript(files.scriptFor, f, f.deletedBy.script)
        : Promise.resolve(f)
  );
  const scriptFailed = scripted.filter((f) => f.record.status === 'failed');
  if (scriptFailed.length > 0) {
    return {
      records: scripted.map((f) => f.record),
      refused: `Getting the cleanup script of ${names(scriptFailed)} failed`
    };
  }
  const gone = scripted.filter((f, i) => !f.present && found[i]!.present);
  if (gone.length > 0 && config.ifMissing === 'error') {
    return {
      records: scripted.map((f) => f.record),
      refused: `Host ${names(gone)} went from Immuta while the scripts were made (if-missing: error; set if-missing: warn or ignore to count ${gone.length === 1 ? 'it' : 'them'} as already absent)`
    };
  }
  return scripted;
}

/** An applied plan must still hold: same hosts, integrations and scripts. */
function planDrift({ config, deps }: BatchRun, scripted: readonly Found[]): Stop | undefined {
  if (!config.plan) return undefined;
  const changes = changesSince(
    config.plan,
    config.immutaUrl,
    scripted.map((f) => ({
      connectionKey: f.record.connectionKey,
      present: f.present,
      integrationId: f.record.integrationId,
      sha256: f.record.scriptSha256
    }))
  );
  if (changes.length === 0) return undefined;
  for (const change of changes) deps.log.warning(`Not as planned: ${change}`);
  return {
    records: scripted.map((f) => ({
      ...f.record,
      status: f.present ? 'not-started' : f.record.status
    })),
    refused: 'The plan does not match what Immuta holds now',
    changes
  };
}

/** Phase 3: everything kept (files checked, report, plan, one artifact) before any delete. */
async function keepAll(run: BatchRun, scripted: readonly Found[]): Promise<Ending | Stop> {
  const { config, deps, files } = run;
  const present = scripted.filter((f) => f.present);
  const records = scripted.map((f) =>
    f.present
      ? { ...f.record, status: config.dryRun ? ('dry-run' as const) : ('kept' as const) }
      : f.record
  );
  await writeRunReport(run, 'before-delete', records);
  // Each kept script is read back once and checked against what Immuta sent: for the artifact's
  // proof of identity and the plan. A file that another overwrote stops the batch here.
  const withFiles = present.filter((f) => f.record.scriptFile && f.record.scriptSha256);
  const fileOf = (f: Found) => path.join(files.folder, f.record.scriptFile!);
  let read: Map<string, Buffer>;
  try {
    read = await checkKept(new Map(withFiles.map((f) => [fileOf(f), f.record.scriptSha256!])));
  } catch (error) {
    return {
      records: records.map((r) => (r.status === 'kept' ? { ...r, status: 'not-started' } : r)),
      refused: errorText(error).replace(' Nothing was deleted.', '').replace(/\.$/, '')
    };
  }
  const scripts = new Map(withFiles.map((f) => [f.record.scriptFile!, read.get(fileOf(f))!]));
  let planPath: string | undefined;
  let planSha256: string | undefined;
  if (config.dryRun) {
    planPath = files.planPath;
    planSha256 = await writePlan(planPath, planFor(config.immutaUrl, present, scripts, run.now()));
  }
  const artifact = await deps.keepArtifact({
    files: [
      ...[...scripts.keys()].map((name) => path.join(files.folder, name)),
      files.reportPath,
      ...(planPath ? [planPath] : [])
    ],
    root: files.folder,
    scripts,
    saved: `the scripts are saved in ${files.folder}`,
    batch: true
  });
  return { records, planPath, planSha256, artifact };
}

/** Phase 4: the deletes; after the first failure, fail-fast starts no other. */
async function deleteAll(run: BatchRun, records: readonly HostRecord[]): Promise<HostRecord[]> {
  const { config, deps } = run;
  let failed = false;
  return mapLimit(records, config.maxParallel, async (record) => {
    if (record.status !== 'kept') return record;
    if (failed) {
      return {
        ...record,
        status: 'not-started' as const,
        error: 'Not started: an earlier delete failed (fail-fast).'
      };
    }
    const result = await deleteOne(config, deps.immuta, record, deps.log);
    if (result.status === 'failed' && config.failFast) failed = true;
    if (result.deleted) deps.onDeleted();
    return result;
  });
}

async function lookUp(
  config: Config,
  immuta: ImmutaClient,
  key: string,
  log: BatchDependencies['log']
): Promise<Found> {
  const started = Date.now();
  const record = emptyRecord(key);
  try {
    const host = await immuta.getConnection(key);
    const timings = { lookupMs: Date.now() - started };
    if (host === undefined) {
      return { record: { ...record, status: 'already-absent', timings }, present: false };
    }
    const integrationId = integrationFor(config, host, log);
    return {
      record: {
        ...record,
        integrationId,
        technology: host.technology,
        hostname: host.hostname,
        status: 'not-started',
        timings
      },
      present: true
    };
  } catch (error) {
    return {
      record: {
        ...record,
        status: 'failed',
        error: errorText(error),
        timings: { lookupMs: Date.now() - started }
      },
      present: false
    };
  }
}

/** The host's script, written to its file at once, so no batch holds its scripts in memory. */
async function getScript(
  config: Config,
  immuta: ImmutaClient,
  scriptFor: (key: string) => string,
  found: Found,
  log: BatchDependencies['log']
): Promise<Found> {
  const { record } = found;
  const started = Date.now();
  const timings = () => ({ ...record.timings, scriptMs: Date.now() - started });
  try {
    const script = await cleanupScript(
      immuta,
      record.connectionKey,
      record.integrationId!,
      record.technology,
      log
    );
    if (script === HOST_GONE) {
      return {
        record: { ...record, status: 'already-absent', timings: timings() },
        present: false
      };
    }
    if (script === undefined) return { record: { ...record, timings: timings() }, present: true };
    const file = scriptFor(record.connectionKey);
    await writeFileAtomically(file, script, `the cleanup script of '${record.connectionKey}'`);
    return {
      record: {
        ...record,
        scriptFile: path.basename(file),
        scriptSha256: sha256(script),
        timings: timings()
      },
      present: true
    };
  } catch (error) {
    return {
      record: { ...record, status: 'failed', error: errorText(error), timings: timings() },
      present: false
    };
  }
}

/**
 * The script an earlier attempt kept of a host it deleted, back in this run's folder beside the
 * others, so that the folder, the summary and the report hold every host's script.
 */
async function restoreScript(
  scriptFor: (key: string) => string,
  found: Found,
  script: NonNullable<EarlierRecord['script']>
): Promise<Found> {
  const file = scriptFor(found.record.connectionKey);
  await writeFileAtomically(
    file,
    script.text,
    `the cleanup script of '${found.record.connectionKey}'`
  );
  await checkKept(new Map([[file, script.sha256]]));
  return {
    ...found,
    record: { ...found.record, scriptFile: path.basename(file), scriptSha256: script.sha256 }
  };
}

async function deleteOne(
  config: Config,
  immuta: ImmutaClient,
  record: HostRecord,
  log: BatchDependencies['log']
): Promise<HostRecord> {
  const started = Date.now();
  const timings = () => ({ ...record.timings, deleteMs: Date.now() - started });
  try {
    const deletion = await immuta.deleteObject(record.connectionKey);
    if (deletion === undefined) {
      const because = `Host '${record.connectionKey}' was gone before its delete.`;
      if (config.ifMissing === 'error') {
        return {
          ...record,
          status: 'failed',
          error: `${because} (if-missing: error)`,
          timings: timings()
        };
      }
      if (config.ifMissing === 'warn') log.warning(because);
      return { ...record, status: 'already-absent', timings: timings() };
    }
    if (deletion.unreadableAnswer !== undefined) {
      log.warning(
        `Immuta's answer to the delete of host '${record.connectionKey}' was not its usual answer (${deletion.unreadableAnswer}), but a lookup shows the host is gone: it was deleted.`
      );
    }
    log.info(`Deleted host '${record.connectionKey}'.`);
    return {
      ...record,
      status: 'deregistered',
      deleted: true,
      childCount: deletion.childCount,
      timings: timings()
    };
  } catch (error) {
    return {
      ...record,
      status: 'failed',
      mayHaveDeleted: mayHaveDeleted(error),
      error: errorText(error),
      timings: timings()
    };
  }
}

/** The plan: the present hosts with their scripts, as kept. */
function planFor(
  tenant: string,
  present: readonly Found[],
  scripts: ReadonlyMap<string, Buffer>,
  now: Date
): Plan {
  const hosts = present.map(({ record }) => ({
    connectionKey: record.connectionKey,
    integrationId: record.integrationId,
    technology: record.technology,
    hostname: record.hostname,
    script: record.scriptFile ? scripts.get(record.scriptFile)!.toString('utf8') : undefined
  }));
  return planOf(tenant, hosts, now);
}

export async function writeReport(file: string, report: RunReport): Promise<void> {
  await writeFileAtomically(file, serializeReport(report), 'the report');
}

/** Writes the plan; returns the SHA-256 of the file's bytes, which plan-sha256 holds an apply to. */
export async function writePlan(file: string, plan: Plan): Promise<string> {
  const text = serializePlan(plan);
  await writeFileAtomically(file, text, 'the plan');
  return sha256(text);
}

function names(found: readonly Found[]): string {
  const keys = found.map((f) => `'${f.record.connectionKey}'`);
  return keys.length <= 5
    ? keys.join(', ')
    : `${keys.slice(0, 5).join(', ')} and ${keys.length - 5} more`;
}
