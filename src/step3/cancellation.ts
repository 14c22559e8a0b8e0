/**
 * The runner's word that the job was cancelled, while step 3 runs. GitHub's runner sends SIGINT
 * to the step's process, SIGTERM 7.5 s later if it is still there, and kills it 2.5 s after that
 * (the workflow cancellation reference): the statement in flight is cancelled on the warehouse
 * and the record written in that time. Outside step 3 the signals keep their usual effect.
 */
export interface Cancellation {
  /** Aborted on the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The signal that cancelled the job, if one did. */
  received(): NodeJS.Signals | undefined;
  /** Gives the signals back their usual effect. */
  dispose(): void;
}

export function runnerCancellation(proc: NodeJS.Process = process): Cancellation {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const on = (signal: NodeJS.Signals) => {
    received ??= signal;
    controller.abort(new Error(`The job was cancelled (${signal}).`));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) proc.on(s, on);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      for (const s of signals) proc.off(s, on);
    }
  };
}
