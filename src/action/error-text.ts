/** An error's message for the log: never its stack, which users should not have to read. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
