import * as core from '@actions/core';
import { context } from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import type { Dispatcher } from 'undici';
import { environmentWarnings, readConfig } from './inputs.js';
import { createDispatcher } from './http/dispatcher.js';
import { ImmutaClient } from './immuta/client.js';
import { deregister } from './deregister.js';
import { keepScript, type RunContext } from './keep-script.js';
import { errorText } from './error-text.js';
import { report, reportFailure } from './report.js';
import { Secrets } from './secrets.js';
import { log } from './log.js';

export async function run(): Promise<void> {
  let dispatcher: Dispatcher | undefined;
  const secrets = new Secrets((secret) => core.setSecret(secret));
  let deleted = false;
  try {
    const config = readConfig(
      (name) => core.getInput(name),
      (s) => secrets.add(s),
      process.env
    );
    for (const warning of environmentWarnings(process.env)) log.warning(warning);
    dispatcher = createDispatcher(config);
    const immuta = new ImmutaClient({
      baseUrl: config.immutaUrl,
      apiKey: config.apiKey,
      authMethod: config.authMethod,
      timeoutMs: config.timeoutMs,
      maxAttempts: config.maxAttempts,
      dispatcher,
      log,
      secrets
    });
    const artifacts = new DefaultArtifactClient();

    const outcome = await deregister(config, {
      immuta,
      keepScript: (script) => keepScript(script, config, artifacts, runContext()),
      onIntegration: (id) => core.setOutput('integration-id', String(id)),
      onDeleted: () => (deleted = true),
      log
    });

    await report(outcome, config.ifMissing, secrets);
  } catch (error) {
    await reportFailure(secrets.redact(errorText(error)), deleted);
  } finally {
    await dispatcher?.close().catch(() => undefined);
  }
}

function runContext(): RunContext {
  return {
    serverUrl: context.serverUrl,
    hasRuntimeToken: Boolean(process.env.ACTIONS_RUNTIME_TOKEN),
    repository: process.env.GITHUB_REPOSITORY || undefined,
    runId: process.env.GITHUB_RUN_ID || undefined
  };
}
