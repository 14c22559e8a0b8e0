import { environmentWarnings, readConfig, type Config } from './inputs.js';
import { deregisterBatch, writePlan, writeReport } from './batch.js';
import { reportBatch } from './batch-report.js';
import { runFiles } from './naming.js';
import { planOf } from './plan.js';
import { emptyRecord } from './run-report.js';
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
  recoverScript,
  withEarlyLookup,
  type RunContext
} from './keep-script.js';
import { errorText } from './error-text.js';
import { report, reportFailure } from './report.js';
import { Secrets } from './secrets.js';
import { log } from './log.js';
import * as runner from './runner.js';
import { scriptRunner } from './warehouse/index.js';

export async function run(): Promise<void> {
  let transport: Transport | undefined;
  const secrets = new Secrets((secret) => runner.setSecret(secret));
  let deleted = false;
  const startedAt = new Date().toISOString();
  /** A one-host run's config and report file, for the report of a failure. */
  let single: { config: Config; reportPath: string } | undefined;
  try {
    const config = readConfig(runner.getInput, (s) => secrets.add(s), process.env, log.warning);
    for (const warning of environmentWarnings(process.env)) log.warning(warning);
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
      const outcome = await deregisterBatch(config, {
        immuta,
        keepArtifact: (bundle) =>
          config.uploadArtifact
            ? keepInArtifact(bundle, config, artifacts, runContext())
            : Promise.resolve(undefined),
        onDeleted: () => (deleted = true),
        log
      });
      await reportBatch(outcome, secrets, config.summaryScript);
      return;
    }

    // One runner for the pre-flight check and the run: Databricks signs in once.
    const warehouse = config.warehouse && scriptRunner(config.warehouse, secrets, caller);
    const files = runFiles(config.scriptPath, config.connectionKeys);
    single = { config, reportPath: files.reportPath };
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
            singleReport(config, [record], 'before-delete', startedAt)
          );
          extras.push(files.reportPath);
        }
        if (config.dryRun) {
          const plan = planOf(
            config.immutaUrl,
            [{ connectionKey: config.connectionKey, ...known, script }],
            new Date()
          );
          await writePlan(files.planPath, plan);
          runner.setOutput('plan-path', files.planPath);
          extras.push(files.planPath);
        }
        return script === undefined
          ? undefined
          : keepScript(script, config, artifacts, runContext(), extras);
      },
      onHost: ({ integrationId, technology, hostname }) => {
        runner.setOutput('integration-id', String(integrationId));
        runner.setOutput('technology', technology ?? '');
        runner.setOutput('hostname', hostname ?? '');
      },
      onDeleted: () => (deleted = true),
      runScript: warehouse && ((script) => warehouse.run(script)),
      checkWarehouse: warehouse && (() => warehouse.check()),
      recoverScript: artifacts && (() => recoverScript(artifacts, config.artifactName)),
      redact: (text) => secrets.redact(text),
      log
    });

    await writeReport(
      files.reportPath,
      singleReport(config, [hostRecord(outcome)], 'final', startedAt)
    );
    runner.setOutput('report-path', files.reportPath);
    await report(outcome, config.ifMissing, secrets, config.summaryScript);
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
      await writeReport(reportPath, singleReport(config, [record], 'final', startedAt))
        .then(() => runner.setOutput('report-path', reportPath))
        .catch(() => undefined);
    }
    await reportFailure(message, deleted);
  } finally {
    transport?.close();
  }
}

function runContext(): RunContext {
  return {
    serverUrl: process.env.GITHUB_SERVER_URL || 'https://github.com',
    hasRuntimeToken: Boolean(process.env.ACTIONS_RUNTIME_TOKEN),
    repository: process.env.GITHUB_REPOSITORY || undefined,
    runId: process.env.GITHUB_RUN_ID || undefined
  };
}
