import * as core from '@actions/core';
import { context } from '@actions/github';
import { DefaultArtifactClient } from '@actions/artifact';
import type { Dispatcher } from 'undici';
import { readConfig } from './inputs.js';
import { createDispatcher } from './http/dispatcher.js';
import { ImmutaClient } from './immuta/client.js';
import { deregister } from './deregister.js';
import { keepScript, type RunContext } from './keep-script.js';
import { errorText } from './error-text.js';
import { report } from './report.js';

export async function run(): Promise<void> {
  let dispatcher: Dispatcher | undefined;
  try {
    const config = readConfig(
      (name) => core.getInput(name),
      (secret) => core.setSecret(secret),
      process.env
    );
    dispatcher = createDispatcher(config);
    const immuta = new ImmutaClient({
      baseUrl: config.immutaUrl,
      apiKey: config.apiKey,
      authMethod: config.authMethod,
      timeoutMs: config.timeoutMs,
      maxAttempts: config.maxAttempts,
      dispatcher,
      log: { debug: core.debug, info: core.info },
      maskSecret: core.setSecret
    });
    const artifacts = new DefaultArtifactClient();

    const outcome = await deregister(config, {
      immuta,
      keepScript: (script) => keepScript(script, config, artifacts, runContext()),
      onIntegration: (id) => core.setOutput('integration-id', String(id)),
      log: { info: core.info, warning: core.warning }
    });

    await report(outcome, config.ifMissing);
  } catch (error) {
    core.setFailed(errorText(error));
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
