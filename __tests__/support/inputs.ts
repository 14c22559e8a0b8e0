/** The inputs a minimal workflow step gives, aimed at a stand-in; tests add or override the rest. */
export function stepInputs(
  immuta: { url: string; apiKey: string },
  extra: Record<string, string | undefined> = {}
): Record<string, string | undefined> {
  return {
    'immuta-url': immuta.url,
    'api-key': immuta.apiKey,
    'connection-key': 'snowflake-prod',
    'allow-insecure-http': 'true',
    'upload-artifact': 'false',
    ...extra
  };
}

/** Methods and paths below the prefix, in the order Immuta saw them. */
export function trail(immuta: { requests: { method: string; path?: string }[] }): string[] {
  return immuta.requests.map((r) => `${r.method} ${r.path}`);
}

/** The log with the runner's mask registrations taken out: what a reader of the log would see. */
export function visibleLog(log: string): string {
  return log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}
