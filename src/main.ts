import * as os from 'node:os';
import {
  environmentWarnings,
  InputError,
  Inputs,
  readConfig,
  type Config
} from './action/inputs.js';
import { deregisterBatch, writePlan, writeReport } from './flow/batch.js';
import { planLine } from './reports/batch-summary.js';
import { report, reportBatch, reportFailure, reportNoHosts } from './reports/step-result.js';
import { ownArtifactNames, runFiles, type RunFiles } from './action/naming.js';
import { planOf } from './flow/plan.js';
import { emptyRecord, type RunIdentity } from './reports/record.js';
import { runFacts, type RunFacts } from './action/run-facts.js';
import * as path from 'node:path';
import { hostRecord, singleReport } from './reports/host-record.js';
import { createTransport, type Transport } from './http/transport.js';
import { proxyCredentials } from './http/proxy-settings.js';
import { HttpCaller } from './http/caller.js';
import { ImmutaClient } from './immuta/client.js';
import { mayHaveDeleted } from './immuta/errors.js';
import { deregister, type FlowDependencies, type Kept } from './flow/deregister.js';
import {
  createArtifactClient,
  resultsServiceProblem,
  type ArtifactClient
} from './artifacts/client.js';
import { scriptFileProblem } from './artifacts/names.js';
import {
  artifactOf,
  artifactUnavailable,
  downloadingOnce,
  keepFile,
  keepInArtifact,
  keepScript,
  withEarlyLookup,
  type RunContext
} from './flow/keep-script.js';
import type { Outcome } from './flow/outcome.js';
import { errorText } from './action/error-text.js';
import { markdownText } from './action/escape.js';
import { writeSummary } from './reports/summary.js';
import { Secrets } from './action/secrets.js';
import { log } from './action/log.js';
import * as runner from './action/runner.js';
import { warehouseAdapter } from './warehouse/index.js';
import {
  noRecords,
  readEarlierAttempts,
  type EarlierAttempts,
  type EarlierRecord
} from './flow/earlier-attempts.js';
import { stepThree } from './step3/step.js';
import { GitHubIdTokens } from './warehouse/github-oidc.js';
import { readReviewHistory, type ApprovalRecord } from './approvals/review-history.js';
import { approvalsLine, approvalsMarkdown } from './reports/approvals.js';

/** What the step has done so far, for the report of a failure at any point. */
interface StepState {
  readonly secrets: Secrets;
  readonly startedAt: string;
  /** The run as the runner describes it, read once. */
  readonly facts: RunFacts;
  deleted: boolean;
  /**
   * A one-host run's config and report file, and what it learnt of the host (Immuta's record, the
   * script once kept), for the report of a failure.
   */
  single?: {
    config: Config;
    reportPath: string;
    known?: Pick<Outcome, 'integrationId' | 'technology' | 'hostname'>;
    script?: string;
  };
  batch: boolean;
  /** Whether a lost output has been reported as the reason the step stopped. */
  outputLossReported: boolean;
  /** The run's review history, read from the start; undefined when it is not read. */
  approvals?: () => Promise<ApprovalRecord | undefined>;
}

/** The run's clients: Immuta's, the artifact service's, and the HTTP caller the warehouse uses. */
interface Services {
  readonly immuta: ImmutaClient;
  readonly artifacts: ArtifactClient | undefined;
  readonly caller: HttpCaller;
  readonly transport: Transport;
}

/** Read the inputs, connect, then one host's three steps or a batch, and say what happened. */
export async function run(): Promise<void> {
  const state: StepState = {
    secrets: new Secrets((secret) => runner.setSecret(secret)),
    startedAt: new Date().toISOString(),
    facts: runFacts(process.env),
    deleted: false,
    batch: false,
    outputLossReported: false
  };
  let services: Services | undefined;
  try {
    const config = readInputs(state);
    if (config.connectionKeys.length === 0) {
      await reportNoHosts(config.ifNoHosts);
      return;
    }
    state.approvals = reviewHistory(config, state);
    services = connect(config, state);
    if (config.connectionKeys.length > 1 || config.plan) await runBatch(config, services, state);
    else await runOneHost(config, services, state);
  } catch (error) {
    await reportStepFailure(error, state);
  } finally {
    services?.transport.close();
    // In finally, as a batch returns from the try.
    const lost = runner.failedOutput();
    if (lost !== undefined && !state.outputLossReported) {
      await reportOutputLoss(lost, state.deleted, state.batch, state.secrets);
    }
  }
}

/**
 * Every input read and checked, and the runner's files writable, before any request; the proxy
 * credentials of the environment masked first, as the inputs' secrets are.
 */
function readInputs(state: StepState): Config {
  for (const credential of proxyCredentials(process.env)) state.secrets.add(credential);
  const config = readConfig(
    runner,
    (s, use) => state.secrets.add(s, use),
    process.env,
    log.warning
  );
  try {
    runner.checkRunnerFiles(process.env);
  } catch (error) {
    state.outputLossReported = true; // the check's own error says so
    throw error;
  }
  for (const warning of environmentWarnings(process.env)) log.warning(warning);
  const unfit = scriptFileProblem({
    ...config,
    batch: config.connectionKeys.length > 1 || config.plan !== undefined
  });
  if (unfit !== undefined) throw new Error(unfit);
  const noArtifacts = config.uploadArtifact
    ? (artifactUnavailable(runContext(state.facts)) ?? resultsServiceProblem(process.env))
    : undefined;
  if (noArtifacts !== undefined) {
    throw new InputError(
      Inputs.UploadArtifact,
      `is true (its default), but no artifact can be kept on this runner: ${noArtifacts}. Nothing was sent. Set upload-artifact: false: the cleanup script is then kept in script-path and the step's outputs only (copy it somewhere lasting in a later step of this job), and a re-run cannot tell a host this run deleted from a missing one.`
    );
  }
  return config;
}

function connect(config: Config, { secrets }: StepState): Services {
  const transport = createTransport({
    caCertificate: config.caCertificate,
    env: process.env,
    connectTimeoutMs: config.timeoutMs
  });
  // The lookup for an artifact of this name (left by an earlier attempt) starts now, so that
  // its answer is in by the time Immuta's script is.
  // Each artifact operation gets timeout-seconds × max-attempts, what a request to Immuta may
  // spend in its attempts. A runner without the artifact service was refused with the inputs.
  const artifacts = config.uploadArtifact
    ? withEarlyLookup(
        downloadingOnce(
          createArtifactClient({
            env: process.env,
            secrets,
            log,
            deadlineMs: config.timeoutMs * config.maxAttempts
          })
        ),
        config.artifactName
      )
    : undefined;
  const caller = new HttpCaller({
    transport,
    timeoutMs: config.timeoutMs,
    maxAttempts: config.maxAttempts,
    log,
    redact: (text) => secrets.redact(text)
  });
  const immuta = new ImmutaClient({
    baseUrl: config.immutaUrl,
    apiKey: config.apiKey,
    authMethod: config.authMethod,
    caller,
    log,
    secrets
  });
  return { immuta, artifacts, caller, transport };
}

/** An output lost before the delete (the script, say) is a script not kept every way. */
function stopIfOutputLost(state: StepState): void {
  const lost = runner.failedOutput();
  if (lost === undefined) return;
  state.outputLossReported = true;
  throw new Error(
    `The step's outputs could not be written (${errorText(lost)}), so a later step could not read what this one did: nothing was deleted. Free space on the runner, then run again.`
  );
}

async function runBatch(config: Config, services: Services, state: StepState): Promise<void> {
  state.batch = true;
  const outcome = await deregisterBatch(config, {
    immuta: services.immuta,
    keepArtifact: async (bundle) => {
      const artifact = config.uploadArtifact
        ? await keepInArtifact(bundle, config, services.artifacts, runContext(state.facts))
        : undefined;
      stopIfOutputLost(state);
      return artifact;
    },
    onDeleted: () => (state.deleted = true),
    identity: identity(state.facts),
    approvals: state.approvals,
    attempt: state.facts.runAttempt ?? 1,
    earlier: earlierAttempts(config, services, state.facts),
    log
  });
  await reportBatch(outcome, state.secrets, config.summaryScript);
  await reportApprovals(state);
}

async function runOneHost(config: Config, services: Services, state: StepState): Promise<void> {
  const files = runFiles(config.scriptPath, config.connectionKeys);
  const single: NonNullable<StepState['single']> = { config, reportPath: files.reportPath };
  state.single = single;
  let planSha256: string | undefined;
  const outcome = await deregister(config, {
    immuta: services.immuta,
    keepScript: async (script, known) => {
      const kept = await keepOneHostScript(config, services, state, files, script, known);
      // Kept: a failure from here on reports its file and SHA-256, as the script may be needed.
      single.script = script;
      planSha256 = kept.planSha256;
      return kept;
    },
    onHost: (known) => {
      single.known = known;
      const { integrationId, technology, hostname } = known;
      runner.setOutput('integration-id', integrationId === undefined ? '' : String(integrationId));
      runner.setOutput('technology', technology ?? '');
      runner.setOutput('hostname', hostname ?? '');
    },
    onDeleted: () => (state.deleted = true),
    step3: stepThreeOf(config, services, state, files),
    attempt: state.facts.runAttempt ?? 1,
    earlier: earlierAttempts(config, services, state.facts),
    restore: (earlier) => restoreKept(config, state, earlier),
    redact: (text) => state.secrets.redact(text),
    log
  });
  await writeReport(
    files.reportPath,
    singleReport(
      config,
      [hostRecord(outcome)],
      'final',
      state.startedAt,
      identity(state.facts),
      await state.approvals?.()
    )
  );
  runner.setOutput('report-path', files.reportPath);
  await report(outcome, config.ifMissing, state.secrets, config.summaryScript);
  if (planSha256 !== undefined) await writeSummary(`${planLine(files.planPath, planSha256)}\n`);
  await reportApprovals(state);
}

/**
 * The run's review history, read through the API from the start of the run (it takes nothing
 * from what the step does), when github-token is given in a workflow run; said once in the log
 * when first awaited: who approved, or a warning that it could not be read.
 */
function reviewHistory(
  config: Config,
  { facts, secrets }: StepState
): (() => Promise<ApprovalRecord | undefined>) | undefined {
  const { apiUrl, repository, runId } = facts;
  if (config.githubToken === undefined) return undefined;
  if (apiUrl === undefined || repository === undefined || runId === undefined) {
    log.debug(
      'Not in a workflow run (GITHUB_API_URL, GITHUB_REPOSITORY or GITHUB_RUN_ID unset): no review history to read.'
    );
    return undefined;
  }
  const reading = readReviewHistory({
    token: config.githubToken,
    apiUrl,
    repository,
    runId,
    timeoutMs: config.timeoutMs,
    secrets,
    log
  });
  let told: Promise<ApprovalRecord> | undefined;
  return () =>
    (told ??= reading.then((record) => {
      if (record.reviews === undefined) {
        log.warning(
          `The review history of workflow run ${runId} could not be read, so the report and the summary do not say who approved: ${record.error}. The step goes on.`
        );
      } else {
        log.info(approvalsLine(record));
      }
      return record;
    }));
}

/** Who approved, as its own section of the job summary, after the step's own. */
async function reportApprovals(state: StepState): Promise<void> {
  const record = await state.approvals?.();
  if (record === undefined || state.facts.runId === undefined) return;
  await writeSummary(approvalsMarkdown(record, state.facts.runId));
}

/**
 * Step 1's keeping: the script every way asked for, with the report as it stands before the
 * delete (and a dry run's plan) beside it in the artifact; a host with no script keeps its
 * report there alone, the record a re-run reads. Without an artifact only the final report is
 * written.
 */
async function keepOneHostScript(
  config: Config,
  services: Services,
  state: StepState,
  files: RunFiles,
  script: string | undefined,
  known: Pick<Outcome, 'integrationId' | 'technology' | 'hostname'>
): Promise<Kept & { planSha256: string | undefined }> {
  const extras: string[] = [];
  if (config.uploadArtifact) {
    const record = hostRecord(
      { ...known, connectionKey: config.connectionKey, script, deleted: false },
      config.dryRun ? 'dry-run' : 'kept'
    );
    await writeReport(
      files.reportPath,
      singleReport(config, [record], 'before-delete', state.startedAt, identity(state.facts))
    );
    extras.push(files.reportPath);
  }
  let planSha256: string | undefined;
  // A plan cannot run step 3 (the apply refuses run-script), so a dry run with it offers none.
  if (config.dryRun && config.warehouse === undefined) {
    const plan = planOf(
      config.immutaUrl,
      [{ connectionKey: config.connectionKey, ...known, script }],
      new Date()
    );
    planSha256 = await writePlan(files.planPath, plan);
    runner.setOutput('plan-path', files.planPath);
    runner.setOutput('plan-sha256', planSha256);
    extras.push(files.planPath);
  }
  const context = runContext(state.facts);
  const kept =
    script === undefined
      ? undefined
      : await keepScript(script, config, services.artifacts, context, extras);
  const artifact =
    kept?.artifactId !== undefined
      ? {
          artifactId: kept.artifactId,
          artifactUrl: kept.artifactUrl,
          artifactName: kept.artifactName!
        }
      : script === undefined && config.uploadArtifact
        ? await keepInArtifact(
            {
              files: extras,
              root: path.dirname(config.scriptPath),
              scripts: new Map(),
              saved: `the report is saved at ${files.reportPath}`
            },
            config,
            services.artifacts,
            context
          )
        : undefined;
  // An output lost now (the script, say) is a script not kept every way: no delete.
  stopIfOutputLost(state);
  return { kept, artifact, planSha256 };
}

/**
 * What the earlier attempt that deleted the host kept, made this step's again: its artifact in
 * the outputs, and its script in script-path and the `script` output, as that attempt left them,
 * so that a later job (a cleanup job downloading the artifact) works on a re-run as it did then.
 */
async function restoreKept(
  config: Config,
  state: StepState,
  earlier: EarlierRecord
): Promise<Kept> {
  const artifact = artifactOf(runContext(state.facts), earlier.artifact);
  if (earlier.script === undefined) return { kept: undefined, artifact };
  const { inOutput } = await keepFile(
    earlier.script.text,
    config.scriptPath,
    `the cleanup script attempt ${earlier.attempt} kept`
  );
  return {
    kept: { path: config.scriptPath, inOutput, ...artifact },
    artifact
  };
}

/** Step 3 on the platform's adapter (its checks, its records); undefined with run-script none. */
function stepThreeOf(
  config: Config,
  services: Services,
  { secrets, facts }: StepState,
  files: RunFiles
): FlowDependencies['step3'] {
  const { artifacts, caller } = services;
  const warehouse = config.warehouse;
  // GitHub's ID tokens for keyless sign-in, fetched when first needed and again before each
  // expires; held in memory only.
  const idTokens =
    warehouse?.auth.kind === 'oidc'
      ? new GitHubIdTokens({
          audience: warehouse.auth.audience,
          secrets,
          timeoutMs: config.timeoutMs,
          requestToken: process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN,
          get: runner.getIDToken,
          log
        })
      : undefined;
  // One adapter for the pre-flight check and the run: Databricks signs in once.
  return (
    warehouse &&
    stepThree({
      warehouse,
      tenant: config.immutaUrl,
      connectionKey: config.connectionKey,
      job: facts.job,
      runId: facts.runId,
      repository: facts.repository,
      attempt: facts.runAttempt ?? 1,
      retentionDays: config.retentionDays,
      recordFile: files.recordPath,
      scratch: process.env.RUNNER_TEMP || os.tmpdir(),
      artifacts,
      adapter: (requestId) => warehouseAdapter(warehouse, secrets, caller, requestId, idTokens),
      log,
      redact: (text) => secrets.redact(text)
    })
  );
}

/**
 * What earlier attempts of this job kept in the run's artifacts, read once when first asked:
 * one host and batches go by the same record. Without upload-artifact no attempt keeps one.
 */
function earlierAttempts(
  config: Config,
  { artifacts }: Services,
  facts: RunFacts
): () => Promise<EarlierAttempts> {
  let read: Promise<EarlierAttempts> | undefined;
  return () => {
    if (artifacts === undefined) {
      const why = 'with upload-artifact: false no attempt keeps a record a later one can read';
      return Promise.resolve(noRecords({ kind: 'unrecorded', why }));
    }
    const run = { tenant: config.immutaUrl, job: facts.job, attempt: facts.runAttempt ?? 1 };
    return (read ??= readEarlierAttempts(artifacts, keptUnder(config.artifactName, facts), run));
  };
}

/** The step failed: the audit record of a one-host run says so too, then the outputs and summary. */
async function reportStepFailure(error: unknown, state: StepState): Promise<void> {
  const message = state.secrets.redact(errorText(error));
  const deleted = state.deleted || (mayHaveDeleted(error) ? 'unknown' : false);
  if (state.single) {
    const { config, reportPath, known, script } = state.single;
    const record = {
      ...emptyRecord(config.connectionKey),
      ...(known &&
        hostRecord({ ...known, connectionKey: config.connectionKey, script, deleted: false })),
      status: 'failed' as const,
      deleted: state.deleted,
      mayHaveDeleted: deleted === 'unknown',
      error: message
    };
    await writeReport(
      reportPath,
      singleReport(
        config,
        [record],
        'final',
        state.startedAt,
        identity(state.facts),
        await state.approvals?.()
      )
    )
      .then(() => runner.setOutput('report-path', reportPath))
      .catch(() => undefined);
  }
  await reportFailure(message, deleted, state.single !== undefined);
  await reportApprovals(state);
}

/**
 * An output lost after the work was done: the step fails, so that no later step reads an empty
 * output as an answer, and says what it did, as the log and the summary above already do.
 */
async function reportOutputLoss(
  lost: unknown,
  deleted: boolean,
  batch: boolean,
  secrets: Secrets
): Promise<void> {
  const done = batch
    ? 'Hosts were deleted: the log and the job summary say which, and where their cleanup scripts are kept.'
    : 'The host was deleted: the log and the job summary say what this step did, and where the cleanup script is kept.';
  const message = secrets.redact(
    `The step's outputs could not be written (${errorText(lost)}), so later steps see some of them empty. ${deleted ? done : 'This step deleted nothing.'}`
  );
  log.error(message);
  await writeSummary(`## Immuta: the step's outputs were lost\n\n${markdownText(message)}\n`);
}

/** The run, as keeping an artifact needs it. */
function runContext(facts: RunFacts): RunContext {
  return {
    serverUrl: facts.serverUrl,
    hasRuntimeToken: facts.hasRuntimeToken,
    repository: facts.repository,
    runId: facts.runId,
    ...identity(facts)
  };
}

/** Which job and attempt wrote a report or an artifact. */
function identity({ job, runAttempt }: RunFacts): RunIdentity {
  return { job, attempt: runAttempt === undefined ? undefined : String(runAttempt) };
}

/**
 * Every name an earlier attempt of this job may have kept its script under: the artifact name,
 * or the job's own names when that one held a plan or another job's script.
 */
function keptUnder(artifactName: string, { job, runAttempt }: RunFacts): string[] {
  const earlier = Math.max(1, (runAttempt ?? 1) - 1);
  const names = Array.from({ length: earlier }, (_, k) =>
    ownArtifactNames(artifactName, job, String(k + 1))
  );
  return [...new Set(names.flat())];
}
