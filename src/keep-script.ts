import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as core from '@actions/core';
import type { ArtifactClient } from '@actions/artifact';
import type { Config } from './inputs.js';
import { errorText } from './error-text.js';

/** GitHub refuses a step output over 1 MB; stay under it with room to spare. */
export const MAX_OUTPUT_BYTES = 1_000_000;

export interface KeptScript {
  readonly path: string;
  readonly inOutput: boolean;
  readonly artifactId: number | undefined;
  readonly artifactUrl: string | undefined;
}

export interface RunContext {
  readonly serverUrl: string;
  /** Whether ACTIONS_RUNTIME_TOKEN is set: only a runner provides it. */
  readonly hasRuntimeToken: boolean;
  /** owner/name, or undefined outside a workflow. */
  readonly repository: string | undefined;
  readonly runId: string | undefined;
}

/** The artifact's link on the run page, or undefined when the run is not known. */
export function artifactUrlFor(run: RunContext, artifactId: number): string | undefined {
  if (!run.repository || !run.runId) return undefined;
  return `${run.serverUrl.replace(/\/+$/, '')}/${run.repository}/actions/runs/${run.runId}/artifacts/${artifactId}`;
}

/**
 * Why no artifact can be uploaded here, found before any call so the message is plain. The host
 * test mirrors @actions/artifact's own: github.com, *.ghe.com and *.localhost serve artifacts v2+.
 */
export function artifactUnavailable(run: RunContext): string | undefined {
  let hostname: string;
  try {
    hostname = new URL(run.serverUrl).hostname.toLowerCase();
  } catch {
    hostname = '';
  }
  const github =
    hostname === 'github.com' || hostname.endsWith('.ghe.com') || hostname.endsWith('.localhost');
  if (!github) {
    return `this looks like GitHub Enterprise Server (${run.serverUrl}), where artifacts v2+ are not available`;
  }
  if (!run.hasRuntimeToken) {
    return 'ACTIONS_RUNTIME_TOKEN is not set: artifact uploads work only inside a GitHub Actions runner';
  }
  return undefined;
}

export function fitsInOutput(script: string): boolean {
  return Buffer.byteLength(script, 'utf8') <= MAX_OUTPUT_BYTES;
}

/**
 * Keeps the script every way the user asked for: the file, the step outputs and the artifact.
 * Any failure throws, so the caller never reaches the delete with the script unsaved.
 */
export async function keepScript(
  script: string,
  config: Pick<Config, 'scriptPath' | 'uploadArtifact' | 'artifactName' | 'retentionDays'>,
  artifacts: ArtifactClient,
  run: RunContext
): Promise<KeptScript> {
  await writeScriptFile(config.scriptPath, script);
  core.setOutput('script-path', config.scriptPath);
  core.info(`Saved the cleanup script to ${config.scriptPath}.`);

  const inOutput = fitsInOutput(script);
  if (inOutput) {
    core.setOutput('script', script);
  } else {
    core.warning(
      `The cleanup script is ${Buffer.byteLength(script, 'utf8')} bytes, over GitHub's 1 MB limit for a step output, so the 'script' output is empty. Read it from the file at 'script-path' or from the artifact.`
    );
  }

  if (!config.uploadArtifact) {
    return { path: config.scriptPath, inOutput, artifactId: undefined, artifactUrl: undefined };
  }
  const unavailable = artifactUnavailable(run);
  if (unavailable !== undefined) throw uploadFailed(config, script, unavailable);
  const artifactId = await uploadScript(artifacts, config, script);
  const artifactUrl = artifactUrlFor(run, artifactId);
  core.setOutput('artifact-id', String(artifactId));
  core.setOutput('artifact-url', artifactUrl ?? '');
  core.info(`Uploaded the cleanup script as artifact '${config.artifactName}' (ID ${artifactId}).`);
  return { path: config.scriptPath, inOutput, artifactId, artifactUrl };
}

async function writeScriptFile(file: string, script: string): Promise<void> {
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, script, { encoding: 'utf8', mode: 0o600 });
  } catch (error) {
    throw new Error(
      `Saving the cleanup script to ${file} failed: ${errorText(error)}. Nothing was deleted. Set script-path to a writable location.`,
      { cause: error }
    );
  }
}

async function uploadScript(
  artifacts: ArtifactClient,
  config: Pick<Config, 'scriptPath' | 'artifactName' | 'retentionDays'>,
  script: string
): Promise<number> {
  try {
    // A re-run of a job whose first attempt failed at the delete finds its own artifact: replace
    // it, as upload-artifact's `overwrite: true` does, so re-runs converge.
    await artifacts.deleteArtifact(config.artifactName).then(
      () => core.info(`Replaced artifact '${config.artifactName}' left by an earlier attempt.`),
      (error: unknown) => {
        if ((error as Error | undefined)?.name !== 'ArtifactNotFoundError') throw error;
      }
    );
    const response = await artifacts.uploadArtifact(
      config.artifactName,
      [config.scriptPath],
      path.dirname(config.scriptPath),
      { retentionDays: config.retentionDays }
    );
    if (response.id === undefined) throw new Error('the artifact service returned no artifact ID');
    return response.id;
  } catch (error) {
    throw uploadFailed(config, script, errorText(error));
  }
}

function uploadFailed(
  config: Pick<Config, 'scriptPath' | 'artifactName'>,
  script: string,
  why: string
): Error {
  return new Error(
    `Uploading the cleanup script as artifact '${config.artifactName}' failed: ${why}. Nothing was deleted; the script is saved at ${config.scriptPath} (${Buffer.byteLength(script, 'utf8')} bytes). If the file and the 'script' output are enough, set upload-artifact: false.`
  );
}
