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

/** Default artifact name: one per host, so a matrix of hosts never collides. */
export function artifactNameFor(connectionKey: string): string {
  const safe = [...connectionKey]
    .map((c) => (INVALID_ARTIFACT_NAME_CHARACTERS.includes(c) ? '-' : c))
    .join('');
  return `immuta-cleanup-script-${safe}`;
}

/** Default script file name: portable on every runner OS whatever the key holds. */
export function scriptFileNameFor(connectionKey: string): string {
  return `immuta-cleanup-${connectionKey.replace(/[^A-Za-z0-9._-]/g, '_')}.sql`;
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
