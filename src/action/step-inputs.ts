/**
 * The step's inputs as the runner hands them over: one INPUT_* variable for every input of
 * action.yml, its default when the step leaves it out. For a destructive action, a variable that
 * names no input (a misspelt `dry_run`) and an empty value where the runner would have passed a
 * default (an expression that came out empty) are mistakes that stop the step, not values to
 * guess at.
 */
import {
  Defaults,
  InputError,
  Inputs,
  MAY_BE_EMPTY,
  SECRET_INPUTS,
  stepReader,
  type StepReader
} from './input-readers.js';
import { inputVariable, type Runner } from './runner.js';

export { inputVariable };

const KNOWN: readonly string[] = Object.values(Inputs);
/** Longest variable name quoted back, so that a hostile environment cannot flood the log. */
const MAX_QUOTED = 80;

/** How names compare: case, '_' and spaces aside, as a step's author would read them. */
function normalised(name: string): string {
  return name.toLowerCase().replace(/[_ ]/g, '-');
}

/** Levenshtein distance, two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The input a stray name most likely meant, when one is close enough to be a typo of it. */
export function nearestInput(given: string, known: readonly string[] = KNOWN): string | undefined {
  const name = normalised(given);
  let best: { input: string; distance: number } | undefined;
  for (const input of known) {
    const distance = editDistance(name, normalised(input));
    if (best === undefined || distance < best.distance) best = { input, distance };
  }
  const tolerance = Math.max(2, Math.floor(name.length / 3));
  return best !== undefined && best.distance <= tolerance ? best.input : undefined;
}

/**
 * Letters of other scripts that pass for the Latin letters of INPUT and of the inputs' names
 * (Cyrillic, Greek, Armenian, and the Turkish dotless and dotted i): each pair is the look-alike,
 * then the letter it passes for.
 */
const LOOK_ALIKES = new Map(
  [
    '\u0131i \u0130I \u0406I \u0456i \u04c0I \u0399I \u03b9i \u039dN \u0420P \u0440p \u03a1P',
    '\u03c1p \u0422T \u03a4T \u054dU \u057du \u0410A \u0430a \u0391A \u0415E \u0435e \u0395E',
    '\u041eO \u043eo \u039fO \u03bfo \u0421C \u0441c \u041aK \u039aK \u041cM \u039cM \u0425X',
    '\u0445x \u0405S \u0455s \u0408J \u0458j \u0412B \u0392B \u041dH \u0397H \u0396Z \u0443y'
  ]
    .join(' ')
    .split(' ')
    .map((pair) => [pair[0]!, pair[1]!] as const)
);

/**
 * A name as a reader sees it: compatibility forms folded (fullwidth letters), invisible
 * characters dropped, look-alike letters read as the Latin ones, upper-cased.
 */
function skeleton(name: string): string {
  return [...name.normalize('NFKC').replace(/[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/gu, '')]
    .map((c) => LOOK_ALIKES.get(c) ?? c)
    .join('')
    .toUpperCase();
}

/** Whether a variable is meant to pass an input: INPUT_ as a reader sees it, in any case. */
function meantAsInput(variable: string): boolean {
  return /^INPUT[_\- .]/.test(skeleton(variable));
}

export interface UnknownInput {
  /** The variable as the environment holds it, e.g. INPUT_DRY_RUN. */
  readonly variable: string;
  /** The input it most likely meant. */
  readonly meant: string | undefined;
  /**
   * How it differs from the variable the runner passes `meant` in: only in case (INPUT_dry-run),
   * only in look-alike or invisible characters (INPUT_ıF-MISSING), or in spelling.
   */
  readonly differs: 'case' | 'look-alike' | 'spelling';
}

/**
 * The variables among `names` that are meant to pass an input but are not exactly how the runner
 * passes one: INPUT_ and the input's name upper-cased (actions/runner Handler.cs,
 * AddInputsToEnvironment). On Linux a variable that differs only in case is another variable,
 * which the action never reads; so is one with a look-alike letter. Either would leave the input
 * it meant at its default, so each is a stray input, like a misspelt one.
 */
export function unknownInputs(
  names: readonly string[],
  known: readonly string[] = KNOWN
): UnknownInput[] {
  const expected = new Map(known.map((input) => [inputVariable(input), input]));
  const bySkeleton = new Map(known.map((input) => [skeleton(inputVariable(input)), input]));
  return names
    .filter((variable) => meantAsInput(variable) && !expected.has(variable))
    .sort()
    .map((variable) => {
      const sameCase = expected.get(variable.toUpperCase());
      if (sameCase !== undefined && /^[\x20-\x7e]*$/.test(variable)) {
        return { variable, meant: sameCase, differs: 'case' as const };
      }
      const lookAlike = bySkeleton.get(skeleton(variable));
      if (lookAlike !== undefined) return { variable, meant: lookAlike, differs: 'look-alike' };
      return {
        variable,
        meant: nearestInput(inputName(variable), known),
        differs: 'spelling' as const
      };
    });
}

/** The input's part of a variable's name: what follows INPUT_ (or however the prefix is written). */
function inputName(variable: string): string {
  return variable.replace(/^[^_\- .]*[_\- .]/u, '');
}

/**
 * A name quoted back in a message: capped, so that a hostile environment cannot flood the log,
 * and with every character outside printable ASCII shown as an escape, since every input's name
 * is ASCII and the odd character is the mistake to see.
 */
function quote(text: string): string {
  const capped =
    [...text].length > MAX_QUOTED ? `${[...text].slice(0, MAX_QUOTED).join('')}…` : text;
  return [...capped]
    .map((c) => (/[\x20-\x7e]/.test(c) || c === '…' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`))
    .join('');
}

/** What is wrong with one stray variable, as a clause. */
function strayClause(u: UnknownInput): string {
  const name = `'${quote(inputName(u.variable).toLowerCase())}' (${quote(u.variable)})`;
  switch (u.differs) {
    case 'case':
      return `${name} differs only in case from ${inputVariable(u.meant!)}, the variable the runner passes ${u.meant} in; the action reads that one, never this one`;
    case 'look-alike':
      return `${name} only looks like ${inputVariable(u.meant!)}, the variable the runner passes ${u.meant} in: it holds a character that is not the letter it looks like (or one that does not show), so the action never reads it`;
    case 'spelling':
      return `${name} is not an input of this action${u.meant === undefined ? '' : ` (did you mean '${u.meant}'?)`}`;
  }
}

/** The error for stray INPUT_* variables: each named, with the input it most likely meant. */
export function unknownInputError(unknown: readonly UnknownInput[]): InputError {
  const [first] = unknown;
  const error = new InputError(
    quote(inputName(first!.variable).toLowerCase()),
    'is not an input of this action.'
  );
  const allSpelling = unknown.every((u) => u.differs === 'spelling');
  const what =
    unknown.length === 1 && first!.differs === 'spelling'
      ? `Input '${quote(inputName(first!.variable).toLowerCase())}' (${quote(first!.variable)}) is not an input of this action.${first!.meant === undefined ? '' : ` Did you mean '${first!.meant}'?`}`
      : allSpelling
        ? `Inputs ${unknown
            .map(
              (u) =>
                `'${quote(inputName(u.variable).toLowerCase())}' (${quote(u.variable)}${u.meant === undefined ? '' : `; did you mean '${u.meant}'?`})`
            )
            .join(', ')} are not inputs of this action.`
        : `Stray input${unknown.length === 1 ? '' : 's'}: ${unknown.map(strayClause).join('; ')}.`;
  error.message = `${what} A misspelt input would be left out (a misspelt dry-run deletes the host), so the step stopped before sending any request. Correct the name in the step's \`with:\` block (the README lists the inputs), or take the INPUT_ variable out of the step's env.`;
  return error;
}

/** What `readStep` needs of the step's environment: the names of its variables. */
export type VariableNames = readonly string[];

/** Where the inputs are read: the runner, through `@actions/core`. */
export type InputSource = Pick<Runner, 'getInput' | 'getBooleanInput'>;

/**
 * Reads the step's inputs as the action checks them: an input the runner did not pass at all
 * (a run outside a runner) reads as action.yml's default; one passed empty although action.yml
 * gives it a default is bad input, since the runner passes the default when the step leaves
 * the input out. A boolean is parsed by the source's `getBooleanInput`, and only when it has
 * text: one not passed at all takes its reader's fallback, which a test holds to action.yml's.
 */
export function readStep(source: InputSource, variables: VariableNames): StepReader {
  const passed = new Set(variables);
  const defaultOf = (name: string) => Defaults[name as keyof typeof Defaults] ?? '';
  /** The input's text as the runner passed it; '' where the runner passes a default is refused. */
  const given = (name: string) => {
    const value = source.getInput(name);
    if (
      value === '' &&
      defaultOf(name) !== '' &&
      !MAY_BE_EMPTY.includes(name) &&
      passed.has(inputVariable(name))
    ) {
      throw emptyInput(name, defaultOf(name));
    }
    return value;
  };
  const text = (name: string) =>
    given(name) || (passed.has(inputVariable(name)) ? '' : defaultOf(name));
  return Object.assign(text, {
    boolean: stepReader(given, (name) => source.getBooleanInput(name)).boolean
  });
}

function emptyInput(name: string, fallback: string): InputError {
  const accepted = fallback === 'true' || fallback === 'false' ? 'true or false' : 'a value';
  return new InputError(
    name,
    `is empty. The runner passes its default (${fallback}) when a step leaves the input out, so an empty value comes from an expression that came out empty, such as \${{ inputs.${name} }} in a run started without that input (a push). Give ${accepted}, or leave the input out to use the default; the step stopped before sending any request.`
  );
}

/** Whether a stray input most likely meant a secret one, so that its value is masked too. */
export function meantSecret(unknown: UnknownInput): boolean {
  return unknown.meant !== undefined && SECRET_INPUTS.includes(unknown.meant);
}
