import * as core from '@actions/core';
import { stepReader, type StepReader } from '../../src/action/input-readers.js';
import { inputVariable, type InputSource } from '../../src/action/step-inputs.js';

/**
 * Inputs as `@actions/core` itself reads them from the runner's variables: each read sets the one
 * INPUT_ variable it asks for to its value in `values` (an input missing from them: no variable),
 * asks core, and puts the environment back.
 */
export function coreSource(values: Readonly<Record<string, string | undefined>>): InputSource {
  const asCore = <T>(name: string, read: (name: string) => T): T => {
    const variable = inputVariable(name);
    const before = process.env[variable];
    const set = (value: string | undefined) => {
      if (value === undefined) delete process.env[variable];
      else process.env[variable] = value;
    };
    set(values[name]);
    try {
      return read(name);
    } finally {
      set(before);
    }
  };
  return {
    getInput: (name) => asCore(name, (n) => core.getInput(n)),
    getBooleanInput: (name) => asCore(name, (n) => core.getBooleanInput(n))
  };
}

/**
 * The inputs in `values` read as `parseInputs` reads them, with none of action.yml's defaults
 * filled in (an input missing from `values` reads as ''), so that the code's own fallbacks apply.
 */
export function readerOf(values: Readonly<Record<string, string | undefined>>): StepReader {
  const source = coreSource(values);
  return stepReader(source.getInput, source.getBooleanInput);
}
