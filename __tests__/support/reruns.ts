/** The runner's re-run semantics, for tests of what a re-run or a neighbouring job does. */
import { RUN_BACKEND_ID, type ArtifactService } from './artifact-service-stand-in.mjs';

/**
 * The runner's environment for attempt `n` of a job (a matrix leg, when `leg` is given): the
 * run is the same, the job's backend ID is new for every attempt and leg, and GITHUB_RUN_ATTEMPT
 * counts up. Every attempt sees the artifacts of every earlier one.
 */
export function attemptOf(service: ArtifactService, n: number, job = 'deregister', leg = '') {
  return {
    ...service.env(RUN_BACKEND_ID, `job-${job}${leg}-attempt-${n}`),
    GITHUB_RUN_ATTEMPT: String(n),
    GITHUB_JOB: job
  };
}

/** The text under "### Next step" of a summary, up to the next blank line. */
export function nextStepOf(summary: string): string {
  const match = /### Next step\n\n([^\n]+)/.exec(summary);
  if (!match) throw new Error(`no Next step in the summary:\n${summary}`);
  return match[1]!;
}
