import { environmentWarnings, readConfig } from './inputs.js';
import { createTransport, type Transport } from './http/transport.js';
import { HttpCaller } from './http/caller.js';
import { ImmutaClient } from './immuta/client.js';
import { deregister } from './deregister.js';
import type { ArtifactClient } from '@actions/artifact';
import {
  artifactUnavailable,
  keepScript,
  loadArtifactClient,
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

/** Where the artifact client runs: started only when an upload is asked for. */
export interface ArtifactHost {
  readonly client: Promise<ArtifactClient>;
  stop(): Promise<void>;
}

/** The artifact client on this thread, loaded from its chunk. */
const onThisThread = (): ArtifactHost => ({
  client: loadArtifactClient(),
  stop: async () => undefined
});

export async function run(startArtifacts: () => ArtifactHost = onThisThread): Promise<void> {
  let transport: Transport | undefined;
  let host: ArtifactHost | undefined;
  const secrets = new Secrets((secret) => runner.setSecret(secret));
  let deleted = false;
  try {
    const config = readConfig(runner.getInput, (s) => secrets.add(s), process.env, log.warning);
    for (const warning of environmentWarnings(process.env)) log.warning(warning);
    // The artifact client is most of the bundle: it is loaded only when an upload is asked for,
    // and from now on, so that it loads while the requests to Immuta are on the network.
    const canUpload = config.uploadArtifact && artifactUnavailable(runContext()) === undefined;
    host = canUpload ? startArtifacts() : undefined;
    const artifacts = host?.client.then((c) => withEarlyLookup(c, config.artifactName));
    // A failure to load is reported when the client is needed, never as an unhandled rejection.
    artifacts?.catch(() => undefined);
    transport = createTransport({
      caCertificate: config.caCertificate,
      env: process.env,
      connectTimeoutMs: config.timeoutMs
    });
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

    const outcome = await deregister(config, {
      immuta,
      keepScript: (script) => keepScript(script, config, artifacts, runContext()),
      onIntegration: (id) => runner.setOutput('integration-id', String(id)),
      onDeleted: () => (deleted = true),
      runScript: config.warehouse
        ? (script) => scriptRunner(config.warehouse!, secrets, caller).run(script)
        : undefined,
      recoverScript: artifacts && (() => recoverScript(artifacts, config.artifactName)),
      redact: (text) => secrets.redact(text),
      log
    });

    await report(outcome, config.ifMissing, secrets);
  } catch (error) {
    await reportFailure(secrets.redact(errorText(error)), deleted);
  } finally {
    transport?.close();
    await host?.stop();
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
