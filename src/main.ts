import { environmentWarnings, readConfig, type Config } from './inputs.js';
import { deregisterBatch, writePlan, writeReport } from './batch.js';
import { planLine, reportBatch } from './batch-report.js';
import { ownArtifactNames, runFiles } from './naming.js';
import { planOf } from './plan.js';
import { emptyRecord, runIdentity } from './run-report.js';
import { hostRecord, singleReport } from './single-report.js';
import { createTransport, type Transport } from './http/transport.js';
import { HttpCaller } from './http/caller.js';
import { ImmutaClient } from './immuta/client.js';
import { deregister } from './deregister.js';
import { createArtifactClient } from './artifacts/client.js';
import {
  artifactUnavailable,
  keepInArtifact,
  keepScript,
  withEarlyLookup,
  type RunContext
} from './keep-script.js';
import { errorText } from './error-text.js';
import { markdownText } from './escape.js';
import { report, reportFailure, writeSummary } from './report.js';
import { Secrets } from './secrets.js';
import { log } from './log.js';
import * as runner from './runner.js';
import { scriptRunner } from './warehouse/index.js';
import { earlierScriptRuns, keepScriptRunRecord, recoverScript } from './earlier-attempts.js';
import { recordOf } from './script-record.js';
import { sha256 } from './plan.js';

export async function run(): Promise<void> {
  let transport: Transport | undefined;
  const secrets = new Secrets((secret) => runner.setSecret(secret));
  let deleted = false;
  const startedAt = new Date().toISOString();
  /** A one-host run's config and report file, for the report of a failure. */
  let single: { config: Config; reportPath: string } | undefined;
  /** Whether a lost output has been reported as the reason the step stopped. */
  let outputLossReported = false;
  let batch = false;
  try {
    const config = readConfig(runner.getInput, (s) => secrets.add(s), process.env, log.warning);
    try {
      runner.checkRunnerFiles(process.env);
    } catch (error) {
      outputLossReported = true; // the check's own error says so
      throw error;
    }
    for (const warning of environmentWarnings(process.env)) log.warning(warning);
    /** An output lost before the delete (the script, say) is a script not kept every way. */
    const stopIfOutputLost = (): void => {
      const lost = runner.failedOutput();
      if (lost === undefined) return;
      outputLossReported = true;
      throw new Error(
        `The step's outputs could not be written (${errorText(lost)}), so a later step could not read what this one did: nothing was deleted. Free space on the runner, then run again.`
      );
    };
    transport = createTransport({
      caCertificate: config.caCertificate,
      env: process.env,
      connectTimeoutMs: config.timeoutMs
    });
    // The lookup for an artifact of this name (left by an earlier attempt) starts now, so that
    // its answer is in by the time Immuta's script is.
    const canUpload = config.uploadArtifact && artifactUnavailable(runContext()) === undefined;
    const artifacts = canUpload
      ? withEarlyLookup(
          createArtifactClient({ env: process.env, transport, secrets, log }),
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

    if (config.connectionKeys.length > 1 || config.plan) {
      batch = true;
      const outcome = await deregisterBatch(config, {
        immuta,
        keepArtifact: async (bundle) => {
          const artifact = config.uploadArtifact
            ? await keepInArtifact(bundle, config, artifacts, runContext())
            : undefined;
          stopIfOutputLost();
          return artifact;
        },
        onDeleted: () => (deleted = true),
        identity: runIdentity(process.env),
        log
      });
      await reportBatch(outcome, secrets, config.summaryScript);
      return;
    }

    // One runner for the pre-flight check and the run: Databricks signs in once.
    const warehouse = config.warehouse && scriptRunner(config.warehouse, secrets, caller);
    const files = runFiles(config.scriptPath, config.connectionKeys);
    single = { config, reportPath: files.reportPath };
    let planSha256: string | undefined;
    const outcome = await deregister(config, {
      immuta,
      keepScript: async (script, known) => {
        // The report as it stands before the delete (and a dry run's plan) go into the artifact
        // with the script; without an artifact only the final report is written.
        const extras: string[] = [];
        if (config.uploadArtifact) {
          const record = hostRecord(
            { ...known, connectionKey: config.connectionKey, script, deleted: false },
            config.dryRun ? 'dry-run' : 'kept'
          );
          await writeReport(
            files.reportPath,
            singleReport(config, [record], 'before-delete', startedAt, runIdentity(process.env))
          );
          extras.push(files.reportPath);
        }
        if (config.dryRun) {
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
        const kept =
          script === undefined
            ? undefined
            : await keepScript(script, config, artifacts, runContext(), extras);
        // An output lost now (the script, say) is a script not kept every way: no delete.
        stopIfOutputLost();
        return kept;
      },
      onHost: ({ integrationId, technology, hostname }) => {
        runner.setOutput('integration-id', String(integrationId));
        runner.setOutput('technology', technology ?? '');
        runner.setOutput('hostname', hostname ?? '');
      },
      onDeleted: () => (deleted = true),
      runScript: warehouse && ((script, options) => warehouse.run(script, options)),
      checkWarehouse: warehouse && (() => warehouse.check()),
      recoverScript:
        artifacts &&
        (() => recoverScript(artifacts, keptUnder(config.artifactName), config.connectionKey)),
      earlierScriptRuns:
        artifacts &&
        (() =>
          earlierScriptRuns(
            artifacts,
            config.artifactName,
            runAttempt(process.env.GITHUB_RUN_ATTEMPT)
          )),
      // What step 3 did goes into an artifact of its own: the script's artifact is never
      // replaced once the host is deleted.
      recordScriptRun:
        artifacts &&
        (async (scriptRun, script) => {
          const record = recordOf(
            scriptRun,
            {
              connectionKey: config.connectionKey,
              scriptSha256: sha256(script),
              attempt: runAttempt(process.env.GITHUB_RUN_ATTEMPT)
            },
            new Date()
          );
          const kept = await keepScriptRunRecord(
            artifacts,
            config.artifactName,
            record,
            files.scriptRunPath,
            config.retentionDays
          );
          log.info(`Recorded what the script did as artifact '${kept.name}' (ID ${kept.id}).`);
        }),
      redact: (text) => secrets.redact(text),
      log
    });

    await writeReport(
      files.reportPath,
      singleReport(config, [hostRecord(outcome)], 'final', startedAt, runIdentity(process.env))
    );
    runner.setOutput('report-path', files.reportPath);
    await report(outcome, config.ifMissing, secrets, config.summaryScript);
    if (planSha256 !== undefined) await writeSummary(`${planLine(files.planPath, planSha256)}\n`);
  } catch (error) {
    const message = secrets.redact(errorText(error));
    if (single) {
      // The audit record says what this run did, failures too.
      const { config, reportPath } = single;
      const record = {
        ...emptyRecord(config.connectionKey),
        status: 'failed' as const,
        deleted,
        error: message
      };
      await writeReport(
        reportPath,
        singleReport(config, [record], 'final', startedAt, runIdentity(process.env))
      )
        .then(() => runner.setOutput('report-path', reportPath))
        .catch(() => undefined);
    }
    await reportFailure(message, deleted);
  } finally {
    transport?.close();
    // In finally, as a batch returns from the try.
    const lost = runner.failedOutput();
    if (lost !== undefined && !outputLossReported) {
      await reportOutputLoss(lost, deleted, batch, secrets);
    }
  }
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
  runner.setFailed(message);
  await writeSummary(`## Immuta: the step's outputs were lost\n\n${markdownText(message)}\n`);
}

function runContext(): RunContext {
  return {
    serverUrl: process.env.GITHUB_SERVER_URL || 'https://github.com',
    hasRuntimeToken: Boolean(process.env.ACTIONS_RUNTIME_TOKEN),
    repository: process.env.GITHUB_REPOSITORY || undefined,
    runId: process.env.GITHUB_RUN_ID || undefined,
    ...runIdentity(process.env)
  };
}

/**
 * Every name an earlier attempt of this job may have kept its script under: the artifact name,
 * or the job's own names when that one held a plan or another job's script.
 */
function keptUnder(artifactName: string): string[] {
  const { job } = runIdentity(process.env);
  const earlier = Math.max(1, runAttempt(process.env.GITHUB_RUN_ATTEMPT) - 1);
  const names = Array.from({ length: earlier }, (_, k) =>
    ownArtifactNames(artifactName, job, String(k + 1))
  );
  return [...new Set(names.flat())];
}

/** GITHUB_RUN_ATTEMPT: 1 for the first attempt, one more for each re-run of the run. */
export function runAttempt(value: string | undefined): number {
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}
