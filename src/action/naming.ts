import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { isInvisible } from './escape.js';

/** Characters that the artifact service refuses in a name (as @actions/artifact lists them). */
export const INVALID_ARTIFACT_NAME_CHARACTERS: readonly string[] = [
  '"',
  ':',
  '<',
  '>',
  '|',
  '*',
  '?',
  '\r',
  '\n',
  '\\',
  '/'
];

/** Each character of `value` that `keep` refuses, and every '%', as %XX of its UTF-8 bytes. */
function percentEncode(value: string, keep: (c: string) => boolean): string {
  return [...value]
    .map((c) =>
      c !== '%' && keep(c)
        ? c
        : [...Buffer.from(c, 'utf8')]
            .map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
            .join('')
    )
    .join('');
}

/**
 * Default artifact name, one per host. Percent-encoding (the '%' itself included) keeps it
 * readable and gives different keys different names: `snow/prod` and `snow:prod` must never
 * share an artifact, or one job's script could replace the other's. '#' and invisible
 * characters are encoded too, because the artifact client logs the name as it is, and `##[` in
 * a log line is a runner command.
 */
export function artifactNameFor(connectionKey: string): string {
  return `immuta-cleanup-script-${artifactNamePart(connectionKey)}`;
}

/** A value as part of an artifact name: what names may not hold, '#' and invisibles encoded. */
function artifactNamePart(value: string): string {
  return percentEncode(
    value,
    (c) => !INVALID_ARTIFACT_NAME_CHARACTERS.includes(c) && c !== '#' && !isInvisible(c)
  );
}

/**
 * Default artifact (and folder) name for a batch: one per set of hosts, so a re-run of the same
 * batch finds its own artifact and another batch does not.
 */
export function batchArtifactNameFor(connectionKeys: readonly string[]): string {
  const digest = createHash('sha256')
    .update([...connectionKeys].sort().join('\n'))
    .digest('hex');
  return `immuta-cleanup-scripts-${digest.slice(0, 12)}`;
}

/**
 * The names a step may keep its artifact under, in order: the one asked for; when that one is
 * not this step's to replace (it holds a plan, or another job of the run uploaded it), one named
 * after the job, so that a re-run of the job finds it again; then one for this attempt alone.
 */
export function ownArtifactNames(
  name: string,
  job: string | undefined,
  attempt: string | undefined
): string[] {
  const own = `${name}-${artifactNamePart(job ?? 'step')}`;
  return [name, own, `${own}-attempt-${artifactNamePart(attempt ?? '1')}`];
}

/** Longest encoded key kept whole in a file name: file systems refuse names over 255 bytes. */
const MAX_FILE_KEY = 180;

/** A short digest of the exact key, to tell apart keys whose names would fold together. */
function keyDigest(connectionKey: string, length: number): string {
  return createHash('sha256').update(connectionKey, 'utf8').digest('hex').slice(0, length);
}

/**
 * Default script file name: portable on every runner OS, and different for different keys, even
 * on the case-insensitive file systems of macOS and Windows runners, where `Snow` and `snow`
 * would share one file. Percent-encoding leaves only ASCII (so Unicode normalisation cannot fold
 * two names together) and upper-case hex; a key with an upper-case letter gets a digest of the
 * exact key, after a '~' that an encoded key never holds (it encodes as %7E). Keys without one
 * keep their plain, readable name. A key too long to encode whole keeps a readable head and a
 * digest of the whole key.
 */
export function scriptFileNameFor(connectionKey: string): string {
  const encoded = percentEncode(connectionKey, (c) => /^[A-Za-z0-9._-]$/.test(c));
  const fitted =
    encoded.length > MAX_FILE_KEY
      ? `${encoded.slice(0, 120).replace(/%[0-9A-F]?$/, '')}~${keyDigest(connectionKey, 32)}`
      : /[A-Z]/.test(encoded.replace(/%[0-9A-F]{2}/g, ''))
        ? `${encoded}~${keyDigest(connectionKey, 12)}`
        : encoded;
  return `immuta-cleanup-${fitted}.sql`;
}

/**
 * The connection key as ONE path segment. encodeURIComponent leaves '.' alone, and a segment of
 * only dots would be collapsed by URL normalisation into a different path, so dots are encoded
 * there too.
 */
export function pathSegment(value: string): string {
  const encoded = encodeURIComponent(value);
  return /^\.+$/.test(value) ? encoded.replace(/\./g, '%2E') : encoded;
}

/** Where a run keeps its files: the scripts, the report and the plan, side by side. */
export interface RunFiles {
  /** The folder the artifact is made from. */
  readonly folder: string;
  readonly scriptFor: (connectionKey: string) => string;
  readonly reportPath: string;
  readonly planPath: string;
  /** Where one host writes each record of step 3 before it is uploaded as an artifact. */
  readonly recordPath: string;
}

/**
 * One host keeps its script in script-path, and the report and plan beside it, named after it;
 * a batch keeps everything in the folder script-path names.
 */
export function runFiles(scriptPath: string, connectionKeys: readonly string[]): RunFiles {
  if (connectionKeys.length > 1) {
    return {
      folder: scriptPath,
      scriptFor: (key) => path.join(scriptPath, scriptFileNameFor(key)),
      reportPath: path.join(scriptPath, 'report.json'),
      planPath: path.join(scriptPath, 'plan.json'),
      recordPath: path.join(scriptPath, 'step3-record.json')
    };
  }
  const stem = scriptPath.replace(/\.sql$/i, '');
  return {
    folder: path.dirname(scriptPath),
    scriptFor: () => scriptPath,
    reportPath: `${stem}.report.json`,
    planPath: `${stem}.plan.json`,
    recordPath: `${stem}.step3-record.json`
  };
}
