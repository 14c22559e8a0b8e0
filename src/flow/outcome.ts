/** What a run did, in the words the flow and the report share. */
import type { KeptArtifact, KeptScript } from './keep-script.js';
import type { ScriptRun } from '../warehouse/types.js';

export type Status = 'deregistered' | 'dry-run' | 'already-absent';

export interface Outcome {
  readonly status: Status;
  readonly connectionKey: string;
  readonly deleted: boolean;
  readonly integrationId: number | undefined;
  readonly technology: string | undefined;
  readonly hostname: string | undefined;
  /** Children deleted with the host; undefined when unknown or nothing was deleted. */
  readonly childCount: number | undefined;
  readonly script: string | undefined;
  /** The script's file (and its outputs), when there is a script. */
  readonly kept: KeptScript | undefined;
  /**
   * The artifact holding the host's record (and its script, when it has one): this attempt's,
   * or, for a host an earlier attempt deleted, that attempt's.
   */
  readonly artifact?: KeptArtifact | undefined;
  /** For a host already gone: the earlier attempt of this workflow run that deleted it. */
  readonly deletedByAttempt?: number | undefined;
  /** The host's state as Immuta describes it, on a dry run. */
  readonly objectState: string | undefined;
  /** Why the host counts as absent, when it does. */
  readonly absentBecause: string | undefined;
  /** Step 3, when run-script names a platform. */
  readonly scriptRun?: ScriptRun | undefined;
  /** How long the lookup, the script and the delete took, for the report. */
  readonly timings?: { lookupMs?: number; scriptMs?: number; deleteMs?: number };
}

/** Lines as a person counts them: a final line break does not start another. Counted in place, as a script can be megabytes long. */
export function lineCount(script: string): number {
  let lines = 1;
  for (let at = script.indexOf('\n'); at !== -1; at = script.indexOf('\n', at + 1)) {
    if (at < script.length - 1) lines++;
  }
  return lines;
}
