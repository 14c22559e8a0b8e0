/**
 * An artifact whose contents are not what was kept: a digest that differs from the one the
 * service lists, a size or file list no upload of this action makes, a record that contradicts
 * its name. Unlike an outage, a re-run cannot repair it, so what the step advises differs.
 */
export class DamagedArtifact extends Error {
  override readonly name = 'DamagedArtifact';
}

/** What to do next when what earlier attempts kept could not be read. */
export function nextStepWhenUnreadable(damaged: boolean): string {
  return damaged
    ? 'an artifact of this run is not what was kept (it was changed or damaged after its upload), which no re-run repairs: find out how before anything else, check by hand what was done, and go on in a new workflow run'
    : "re-run the job when GitHub's artifact service answers";
}
