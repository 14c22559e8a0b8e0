/**
 * The step's inputs as the runner hands them over: one INPUT_* variable for every input of
 * action.yml, its default when the step leaves it out. For a destructive action, a variable that
 * names no input (a misspelt `dry_run`) and an empty value where the runner would have passed a
 * default (an expression that came out empty) are mistakes that stop the step, not values to
 * guess at.
 */
import { Defaults, InputError, Inputs, SECRET_INPUTS, type InputReader } from './input-readers.js';
import { inputVariable } from './runner.js';

export { inputVariable };

const PREFIX = 'INPUT_';
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

export interface UnknownInput {
  /** The variable as the environment holds it, e.g. INPUT_DRY_RUN. */
  readonly variable: string;
  /** The input it most likely meant. */
  readonly meant: string | undefined;
}

/** The INPUT_* variables among `names` that pass no input of the action. */
export function unknownInputs(
  names: readonly string[],
  known: readonly string[] = KNOWN
): UnknownInput[] {
  const expected = new Set(known.map(inputVariable));
  return names
    .filter((variable) => variable.startsWith(PREFIX) && !expected.has(variable.toUpperCase()))
    .sort()
    .map((variable) => ({ variable, meant: nearestInput(variable.slice(PREFIX.length), known) }));
}

/** The error for stray INPUT_* variables: each named, with the input it most likely meant. */
export function unknownInputError(unknown: readonly UnknownInput[]): InputError {
  const quote = (text: string) =>
    JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text).slice(1, -1);
  const name = (u: UnknownInput) => quote(u.variable.slice(PREFIX.length).toLowerCase());
  const [first] = unknown;
  const error = new InputError(name(first!), 'is not an input of this action.');
  const what =
    unknown.length === 1
      ? `Input '${name(first!)}' (${quote(first!.variable)}) is not an input of this action.${first!.meant === undefined ? '' : ` Did you mean '${first!.meant}'?`}`
      : `Inputs ${unknown
          .map(
            (u) =>
              `'${name(u)}' (${quote(u.variable)}${u.meant === undefined ? '' : `; did you mean '${u.meant}'?`})`
          )
          .join(', ')} are not inputs of this action.`;
  error.message = `${what} A misspelt input would be left out (a misspelt dry-run deletes the host), so the step stopped before sending any request. Correct the name in the step's \`with:\` block (the README lists the inputs), or take the INPUT_ variable out of the step's env.`;
  return error;
}

/** What `readStep` needs of the step's environment: the names of its variables. */
export type VariableNames = readonly string[];

/**
 * Reads the step's inputs as the action checks them: an input the runner did not pass at all
 * (a run outside a runner) reads as action.yml's default; one passed empty although action.yml
 * gives it a default is bad input, since the runner passes the default when the step leaves
 * the input out.
 */
export function readStep(
  getInput: (name: string) => string,
  variables: VariableNames
): InputReader {
  const passed = new Set(variables.filter((v) => v.startsWith(PREFIX)).map((v) => v.toUpperCase()));
  return (name) => {
    const value = getInput(name);
    if (value !== '') return value;
    const fallback = Defaults[name as keyof typeof Defaults] ?? '';
    if (!passed.has(inputVariable(name))) return fallback;
    if (fallback !== '') throw emptyInput(name, fallback);
    return '';
  };
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
