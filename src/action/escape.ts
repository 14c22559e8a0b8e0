/**
 * Text from the workflow or from a server, made safe for where the action shows it. One place for
 * each destination, so every caller gets the same protection.
 */

/**
 * Characters a reader cannot see, or that a culture-sensitive search skips: controls, format
 * characters (zero-width spaces, bidi overrides), line and paragraph separators, private use,
 * unassigned code points and default-ignorable ones such as variation selectors.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/**
 * What the runner cannot see between the characters of a command keyword. Its parser
 * (actions/runner ActionCommand.TryParseV2 and TryParse) searches with .NET's culture-sensitive
 * StartsWith and IndexOf, which skip the characters ICU collation ignores: controls, format
 * characters, and letters and marks such as U+0640 (the Arabic tatweel) or U+0F3E. Which ones
 * depends on the ICU version, but none is printable ASCII: any run of other characters counts.
 */
const SKIPPED = '[^\\x20-\\x7e]*';
const LEGACY_COMMAND = new RegExp(`#${SKIPPED}#${SKIPPED}\\[`, 'g');
/**
 * The start of a `::name::` command: TryParseV2 trims white space (which in .NET includes
 * Unicode spaces) from the start of the line, then looks for `::` past whatever it skips.
 */
const LEADING_COMMAND = new RegExp(`^([^\\x21-\\x7e]*):(?=${SKIPPED}:)`);

/** Whether the runner could read `##[` in this text, whatever it skips between the characters. */
export function holdsLegacyCommand(value: string): boolean {
  return new RegExp(LEGACY_COMMAND.source).test(value);
}

/** Characters a reader cannot see, as a test for one character. */
export function isInvisible(c: string): boolean {
  return new RegExp(INVISIBLE.source, 'u').test(c);
}

function visibleEscape(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

/**
 * A line for the runner's log that it cannot read as a command. Invisible characters are shown
 * as `\u{…}` escapes (which also keeps a value on one line), then the `[` of any `##[` and the
 * first `:` of a leading `::` are escaped the same way. The runner neither trims nor skips a
 * backslash, so no parse of the line finds the keyword again.
 */
export function forLog(line: string): string {
  return line
    .replace(INVISIBLE, visibleEscape)
    .replace(LEGACY_COMMAND, (m) => `${m.slice(0, -1)}\\u{5b}`)
    .replace(LEADING_COMMAND, '$1\\u{3a}');
}

/**
 * The text of an annotation (a warning or an error): the runner does not parse it again, but a
 * reader must see what is in a value, so invisible characters are shown as escapes, as in a
 * log line; line breaks stay, as annotations show them.
 */
export function forAnnotation(message: string): string {
  return message.replace(INVISIBLE, (c) => (c === '\n' || c === '\r' ? c : visibleEscape(c)));
}

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;'
};

/**
 * Plain text inside Markdown (a heading, a table cell, a sentence): no HTML, no Markdown syntax,
 * no line break that would end the row or the heading, no scheme an autolink would start from.
 */
export function markdownText(value: string): string {
  return value
    .replace(/[\r\n\u2028\u2029]+/g, ' ')
    .replace(INVISIBLE, visibleEscape)
    .replace(/[\\`*_{}[\]()#+!|~:]/g, '\\$&')
    .replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

/** Text inside raw HTML (a <summary>): entities for what HTML would read, one line. */
export function htmlText(value: string): string {
  return value
    .replace(/[\r\n\u2028\u2029]+/g, ' ')
    .replace(INVISIBLE, visibleEscape)
    .replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

/**
 * A value as inline code: a backtick run longer than any inside it, padded when it starts or
 * ends with one. Code spans show HTML literally; a pipe still needs its escape inside a table.
 */
export function markdownCode(value: string): string {
  const flat = value.replace(/[\r\n\u2028\u2029]+/g, ' ').replace(INVISIBLE, visibleEscape);
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${flat.replace(/\|/g, '\\|')}${pad}${ticks}`;
}

/**
 * A piece of an answer, quoted for a message: whitespace collapsed, cut to `max` characters,
 * invisible characters shown. Callers redact secrets first, so no cut can split a secret.
 */
/**
 * A value a server chose, shown as a JSON string: quoted, so white space at either end shows,
 * and every control or invisible character escaped; cut at `max` code points.
 */
export function quoted(text: string, max = 200): string {
  const chars = [...text.slice(0, max * 2)];
  const shown = chars.slice(0, max).join('');
  const more = shown.length < text.length ? '…' : '';
  return JSON.stringify(shown).replace(INVISIBLE, visibleEscape) + more;
}

export function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat.replace(INVISIBLE, visibleEscape);
  // Cut by code points, not UTF-16 units, so no character is split in half.
  const cut = [...flat.slice(0, max * 2)].slice(0, max).join('');
  return (cut.length < flat.length ? `${cut}…` : cut).replace(INVISIBLE, visibleEscape);
}
