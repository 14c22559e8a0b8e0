// How a GitHub runner reads a step's output as workflow commands, re-implemented to hold what the
// action prints to the runner's own rules. From actions/runner:
// - src/Runner.Worker/Handlers/OutputManager.cs, OnDataReceived: every line of stdout and of
//   stderr holding `##[` or `::` is offered to the command manager;
// - src/Runner.Worker/ActionCommandManager.cs, TryProcessCommand: ActionCommand.TryParseV2
//   first, then ActionCommand.TryParse; command names compared OrdinalIgnoreCase against the
//   registered ones, and `::stop-commands::TOKEN` registers TOKEN as a name;
// - src/Runner.Common/ActionCommand.cs, TryParseV2: `message.TrimStart()`, then
//   `StartsWith("::")` and `IndexOf("::", 2)`; the command name runs to the first space;
//   TryParse: `IndexOf("##[")` anywhere in the line, then the first `]` after it.
// .NET's StartsWith(string) and IndexOf(string) compare culture-sensitively: under ICU they skip
// the characters collation ignores. This search skips every character Node's ICU collator ignores,
// and combining marks too, and takes any name as registered (a stop-commands token can be any
// word): it finds every command the runner would, and perhaps more, never fewer.

/** .NET's char.IsWhiteSpace: what TrimStart removes. */
const DOTNET_WHITE_SPACE =
  /^[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

const collator = new Intl.Collator('und', { sensitivity: 'variant' });
const skippedCache = new Map<string, boolean>();

/** Whether a culture-sensitive search passes over this character as if it were not there. */
export function skipped(c: string): boolean {
  let known = skippedCache.get(c);
  if (known === undefined) {
    known = collator.compare(c, '') === 0 || /^\p{M}$/u.test(c);
    skippedCache.set(c, known);
  }
  return known;
}

/** The characters a culture-sensitive search sees, each with its index in `text`. */
function seen(text: string, from = 0): { chars: string[]; at: number[] } {
  const chars: string[] = [];
  const at: number[] = [];
  let i = 0;
  for (const c of text) {
    if (i >= from && !skipped(c)) {
      chars.push(c);
      at.push(i);
    }
    i += c.length;
  }
  return { chars, at };
}

/** string.IndexOf(needle, from) as .NET does it under ICU; -1 when absent. */
export function cultureIndexOf(text: string, needle: string, from = 0): number {
  const { chars, at } = seen(text, from);
  const want = [...needle];
  for (let i = 0; i + want.length <= chars.length; i++) {
    if (want.every((c, k) => chars[i + k] === c)) return at[i]!;
  }
  return -1;
}

export interface Command {
  readonly form: '::' | '##[';
  readonly name: string;
  readonly data: string;
}

/** TryParseV2: `::name props::data`, after any leading white space. */
function tryParseV2(line: string): Command | undefined {
  const message = line.replace(DOTNET_WHITE_SPACE, '');
  if (!startsAfterSkipped(message)) return undefined;
  const start = cultureIndexOf(message, '::');
  const end = cultureIndexOf(message, '::', start + 2);
  if (end < 0) return undefined;
  const info = message.slice(start + 2, end);
  const name = info.split(' ')[0]!;
  if (name === '') return undefined;
  return { form: '::', name, data: message.slice(end + 2) };
}

/** Whether `::` opens the message once the characters the search skips are passed over. */
function startsAfterSkipped(message: string): boolean {
  const { chars } = seen(message);
  return chars[0] === ':' && chars[1] === ':';
}

/** TryParse: `##[name props]data` anywhere in the line. */
function tryParse(line: string): Command | undefined {
  const prefix = cultureIndexOf(line, '##[');
  if (prefix < 0) return undefined;
  const bracketOpen = line.indexOf('[', prefix);
  const close = line.indexOf(']', bracketOpen);
  if (close < 0) return undefined;
  const name = line.slice(bracketOpen + 1, close).split(' ')[0]!;
  if (name === '') return undefined;
  return { form: '##[', name, data: line.slice(close + 1) };
}

/** The command the runner reads in one line, if any. */
export function parseCommand(line: string): Command | undefined {
  if (cultureIndexOf(line, '##[') < 0 && cultureIndexOf(line, '::') < 0) return undefined;
  return tryParseV2(line) ?? tryParse(line);
}

/** Output split into lines as .NET's StreamReader.ReadLine splits it: at CR LF, LF or CR. */
export function outputLines(output: string): string[] {
  return output.split(/\r\n|\n|\r/);
}

/** Every line of `output` the runner reads as a command, with the command it reads. */
export function commandsIn(output: string): { line: string; command: Command }[] {
  return outputLines(output).flatMap((line) => {
    const command = parseCommand(line);
    return command === undefined ? [] : [{ line, command }];
  });
}

/**
 * The commands in `output` that the action did not write as commands: every line the runner reads
 * as one, less those that open with a command the action writes (`::add-mask::`, `::debug::`,
 * `::warning::`, `::error::`) and read as that very command.
 */
export function forgedCommands(output: string): { line: string; command: Command }[] {
  const written = /^::(add-mask|debug|warning|error)::/;
  return commandsIn(output).filter(
    ({ line, command }) =>
      !(command.form === '::' && written.exec(line)?.[1] === command.name.toLowerCase())
  );
}
