/**
 * Snowflake's message for a failed multi-statement request, read for the user's sake only: which
 * of the statements sent it names. Progress is never read from it (each request holds one script
 * statement, whose outcome is the request's). Snowflake's documentation shows the message as
 * `JavaScript execution error: Uncaught Execution of multiple statements failed on statement
 * "insert into table1 (i) values ..." (at line 1, position 75).` then the statement's own error:
 * the statement's text, cut with `...`, and where it starts in the text sent (line from 1,
 * position from 0). The name is believed only when that text is what was sent there. Pure.
 */
const MULTI =
  /^(?:JavaScript execution error: )?Uncaught Execution of multiple statements failed on statement "([\s\S]{1,4000}?)" \(at line (\d{1,9}), position (\d{1,9})\)\./;

/**
 * The index (in `texts`, joined with ";\n" as sent) of the statement the message names, when the
 * message names one exactly where it starts in what was sent; else undefined.
 */
export function failedStatementIn(message: string, texts: readonly string[]): number | undefined {
  const m = MULTI.exec(message);
  if (!m) return undefined;
  const quoted = m[1]!.replace(/\.\.\.$/, '');
  const line = Number(m[2]);
  const position = Number(m[3]);
  const sent = texts.join(';\n');
  let offset = 0;
  for (const [i, statement] of texts.entries()) {
    const at = sent.indexOf(statement, offset);
    offset = at + statement.length;
    const before = sent.slice(0, at);
    const lineOf = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1);
    if (lineOf === line && column === position && quoted !== '' && statement.startsWith(quoted)) {
      return i;
    }
  }
  return undefined;
}
