/**
 * A cleanup script as the statements it holds, each with where it stands in the script. Both
 * platforms get one statement a request, so the split decides what each request carries; the
 * offsets let the tests hold it to the script's own text (nothing reads a position out of a
 * warehouse's error message).
 *
 * Comments are blanked first by a scanner of our own (spaces in their place, line breaks kept,
 * so every offset still points into the script): Databricks SQL nests bracketed comments
 * (`/* a /* b *\/ c *\/`, SPARK-28880) and a `--` comment may end at a lone CR, neither of which
 * dbgate-query-splitter knows. The splitter then only has to find the semicolons outside strings
 * and $$ blocks.
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
  // The comments are gone by the time the splitter sees the script.
  doubleDashComments: false,
  multilineComments: false,
  ignoreComments: false,
  returnRichInfo: true
};

export interface Statement {
  /** The statement without the comments around or inside it, trimmed. */
  readonly text: string;
  /** Offset of its first character in the script. */
  readonly start: number;
  /** Offset just past its last character (before the semicolon that ends it, if any). */
  readonly end: number;
}

/** The script's statements, without comments or the semicolons between them. */
export function splitStatements(script: string): string[] {
  return splitScript(script).map((s) => s.text);
}

/** The script's statements with their offsets in the script. */
export function splitScript(script: string): Statement[] {
  const blank = blankComments(script);
  const statements: Statement[] = [];
  for (const piece of splitQuery(blank, OPTIONS)) {
    if (typeof piece === 'string') continue;
    const start = piece.trimStart?.position ?? piece.start.position;
    const end = piece.trimEnd?.position ?? piece.end.position;
    const text = blank.slice(start, end).trim();
    if (text !== '') statements.push({ text, start, end });
  }
  return statements;
}

/**
 * The script with every comment replaced by spaces (line breaks kept), outside strings,
 * backquoted names and $$ blocks. A bracketed comment ends only where its nesting does; one left
 * open hides the rest of the script, so nothing after it runs.
 */
export function blankComments(script: string): string {
  const out = script.split('');
  const n = script.length;
  const blankAt = (i: number) => {
    if (script[i] !== '\n' && script[i] !== '\r') out[i] = ' ';
  };
  let i = 0;
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === "'" || c === '"' || c === '`') {
      // A doubled quote reads as two strings side by side, which is the same to this scan.
      for (i++; i < n && script[i] !== c; i++) if (c !== '`' && script[i] === '\\') i++;
      i++;
    } else if (c === '$' && next === '$') {
      const close = script.indexOf('$$', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (c === '-' && next === '-') {
      for (; i < n && script[i] !== '\n' && script[i] !== '\r'; i++) blankAt(i);
    } else if (c === '/' && next === '*') {
      let depth = 0;
      while (i < n) {
        if (script[i] === '/' && script[i + 1] === '*') {
          depth++;
          blankAt(i++);
          blankAt(i++);
        } else if (script[i] === '*' && script[i + 1] === '/') {
          depth--;
          blankAt(i++);
          blankAt(i++);
          if (depth === 0) break;
        } else {
          blankAt(i++);
        }
      }
    } else {
      i++;
    }
  }
  return out.join('');
}
