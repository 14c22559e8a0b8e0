/**
 * A cleanup script as the statements it holds, split by a maintained splitter that knows quotes,
 * backticks, comments and $$ blocks. Databricks runs one statement a request; Snowflake runs the
 * script whole, and the split only names its statements in the log and the summary.
 */
import { splitQuery, defaultSplitterOptions, type SplitterOptions } from 'dbgate-query-splitter';

const OPTIONS: SplitterOptions = {
  ...defaultSplitterOptions,
  // Both dialects quote strings with ' and ", Databricks identifiers with `, and both escape
  // with a backslash inside strings.
  stringsBegins: ["'", '"', '`'],
  stringsEnds: { "'": "'", '"': '"', '`': '`' },
  stringEscapes: { "'": '\\', '"': '\\', '`': '`' },
  allowDollarDollarString: true,
  doubleDashComments: true,
  multilineComments: true,
  ignoreComments: true
};

/** The script's statements, without comments or the semicolons between them. */
export function splitStatements(script: string): string[] {
  return splitQuery(script, OPTIONS)
    .map((piece) => (typeof piece === 'string' ? piece : piece.text))
    .map((piece) => piece.trim())
    .filter((piece) => withoutComments(piece) !== '');
}

/** What is left of a piece once its comments are gone: the splitter leaves a trailing one. */
function withoutComments(piece: string): string {
  return piece
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/--[^\n]*/g, '')
    .trim();
}
