import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { parse } from 'yaml';
import { boolean, Defaults, InputError, Inputs, isSet } from '../../src/action/input-readers.js';
import {
  editDistance,
  inputVariable,
  nearestInput,
  readStep,
  unknownInputError,
  unknownInputs
} from '../../src/action/step-inputs.js';
import * as runner from '../../src/action/runner.js';
import { useRunner, workflowRunner } from '../../src/action/runner.js';
import { coreSource } from '../support/input-source.js';
import { ROOT } from '../support/run-action.mjs';

const action = parse(fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>;
};

describe('Defaults', () => {
  it("are action.yml's defaults, input for input", () => {
    const fromYml = Object.fromEntries(
      Object.entries(action.inputs)
        .filter(([, spec]) => spec.default !== undefined)
        .map(([name, spec]) => [name, String(spec.default)])
    );
    expect(Defaults).toEqual(fromYml);
  });

  it('a value equal to the default is not "set"; any other value is', () => {
    const values: Record<string, string> = {
      'snowflake-token-type': 'PROGRAMMATIC_ACCESS_TOKEN',
      'snowflake-role': 'ADMIN',
      'run-script': 'snowflake'
    };
    const read = (name: string) => values[name] ?? '';
    expect(isSet(read, Inputs.SnowflakeTokenType)).toBe(false);
    expect(isSet(read, Inputs.SnowflakeWarehouse)).toBe(false);
    expect(isSet(read, Inputs.SnowflakeRole)).toBe(true);
    expect(isSet(read, Inputs.RunScript)).toBe(true);
    values['snowflake-token-type'] = 'OAUTH';
    expect(isSet(read, Inputs.SnowflakeTokenType)).toBe(true);
  });
});

describe('inputVariable', () => {
  it('forms the name as the runner does: spaces to _, upper-cased, dashes kept', () => {
    expect(inputVariable('dry-run')).toBe('INPUT_DRY-RUN');
    expect(inputVariable('dry_run')).toBe('INPUT_DRY_RUN');
    expect(inputVariable('Dry run')).toBe('INPUT_DRY_RUN');
  });
});

describe('nearestInput', () => {
  it.each([
    ['dry_run', 'dry-run'],
    ['DRYRUN', 'dry-run'],
    ['dry-runn', 'dry-run'],
    ['api_key', 'api-key'],
    ['apikey', 'api-key'],
    ['connection-keys', 'connection-key'],
    ['if missing', 'if-missing'],
    ['upload-artefact', 'upload-artifact'],
    ['snowflake_private_key', 'snowflake-private-key'],
    ['failfast', 'fail-fast']
  ])('%s → %s', (given, meant) => {
    expect(nearestInput(given)).toBe(meant);
  });

  it.each(['colour', 'token', 'x', 'repo-token', 'delete'])('%s → no guess', (given) => {
    expect(nearestInput(given)).toBeUndefined();
  });

  it('measures edits', () => {
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('dry-run', 'dry-run')).toBe(0);
  });
});

describe('unknownInputs', () => {
  it('finds the INPUT_* variables that pass no input, and nothing else', () => {
    const variables = [
      'PATH',
      'INPUT_DRY-RUN',
      'INPUT_DRY_RUN',
      'INPUT_IMMUTA-URL',
      'INPUT_COLOUR',
      'GITHUB_OUTPUT'
    ];
    expect(unknownInputs(variables)).toEqual([
      { variable: 'INPUT_COLOUR', meant: undefined, differs: 'spelling' },
      { variable: 'INPUT_DRY_RUN', meant: 'dry-run', differs: 'spelling' }
    ]);
    expect(unknownInputs(Object.values(Inputs).map(inputVariable))).toEqual([]);
  });

  it('names the stray input, the variable and the guess, quoted on one line', () => {
    const error = unknownInputError([
      { variable: 'INPUT_DRY_RUN', meant: 'dry-run', differs: 'spelling' }
    ]);
    expect(error).toBeInstanceOf(InputError);
    expect(error.input).toBe('dry_run');
    expect(error.message).toMatch(
      /^Input 'dry_run' \(INPUT_DRY_RUN\) is not an input of this action\. Did you mean 'dry-run'\? /
    );
    const hostile = unknownInputError([
      {
        variable: `INPUT_X\n::error::forged${'y'.repeat(500)}`,
        meant: undefined,
        differs: 'spelling'
      }
    ]);
    expect(hostile.message).not.toContain('\n');
    expect(hostile.message).toContain('INPUT_X\\u{a}::error::forged');
    expect(hostile.message.length).toBeLessThan(600);
  });
});

describe('a variable that is not exactly how the runner writes an input', () => {
  it.each([
    ['lower case, beside the runner’s own', 'INPUT_dry-run', 'dry-run', 'case'],
    ['a lower-case prefix', 'input_DRY-RUN', 'dry-run', 'case'],
    ['a dotless i', 'INPUT_\u0131F-MISSING', 'if-missing', 'look-alike'],
    ['a dotted capital I', 'INPUT_\u0130F-MISSING', 'if-missing', 'look-alike'],
    ['a Cyrillic І in the prefix', '\u0406NPUT_DRY-RUN', 'dry-run', 'look-alike'],
    ['a Cyrillic А in the name', 'INPUT_\u0410PI-KEY', 'api-key', 'look-alike'],
    ['fullwidth letters', '\uff29\uff2e\uff30\uff35\uff34_DRY-RUN', 'dry-run', 'look-alike'],
    ['a zero-width space', 'INPUT_DRY\u200b-RUN', 'dry-run', 'look-alike'],
    ['a soft hyphen before the prefix', '\u00adINPUT_DRY-RUN', 'dry-run', 'look-alike'],
    ['a trailing space', 'INPUT_DRY-RUN ', 'dry-run', 'spelling']
  ])('%s is a stray input: %j', (_what, variable, meant, differs) => {
    expect(unknownInputs(['PATH', 'INPUT_DRY-RUN', 'INPUT_IF-MISSING', variable])).toEqual([
      { variable, meant, differs }
    ]);
  });

  it('leaves the runner’s own names and other variables alone', () => {
    const names = [...Object.values(Inputs).map(inputVariable), 'INPUTS_DIR', 'GITHUB_INPUT'];
    expect(unknownInputs(names)).toEqual([]);
  });

  it('says how each differs, its odd characters shown as escapes', () => {
    const message = unknownInputError(
      unknownInputs(['INPUT_DRY-RUN', 'INPUT_dry-run', 'INPUT_\u0131F-MISSING'])
    ).message;
    expect(message).toContain(
      "Stray inputs: 'dry-run' (INPUT_dry-run) differs only in case from INPUT_DRY-RUN, the variable the runner passes dry-run in; the action reads that one, never this one; "
    );
    expect(message).toContain(
      "'\\u{131}f-missing' (INPUT_\\u{131}F-MISSING) only looks like INPUT_IF-MISSING, the variable the runner passes if-missing in"
    );
    expect(message).toContain('the step stopped before sending any request');
    expect(message).not.toMatch(/[^\x20-\x7e…]/);
  });
});

describe('readStep', () => {
  const values: Record<string, string> = {
    'dry-run': '',
    'integration-id': '',
    'if-missing': 'warn'
  };
  const source = coreSource(values);

  it("an input the runner passed reads as given; one it did not pass, as action.yml's default", () => {
    const read = readStep(source, ['INPUT_IF-MISSING', 'INPUT_INTEGRATION-ID']);
    expect(read('if-missing')).toBe('warn');
    expect(read('integration-id')).toBe('');
    expect(read('dry-run')).toBe('false');
    expect(read('run-script')).toBe('none');
    expect(read('immuta-url')).toBe('');
  });

  it('an input passed empty although it has a default is bad input', () => {
    const read = readStep(source, ['INPUT_DRY-RUN']);
    expect(() => read('dry-run')).toThrow(InputError);
    expect(() => read('dry-run')).toThrow(
      /^Input 'dry-run' is empty\. The runner passes its default \(false\) .*Give true or false/
    );
  });
});

describe('booleans: @actions/core getBooleanInput parses them, the step says what was wrong', () => {
  const variable = inputVariable(Inputs.DryRun);
  afterEach(() => {
    delete process.env[variable];
    useRunner(workflowRunner);
  });

  /** What core makes of the value, and what the step makes of it: a boolean, or its error. */
  function decisions(value: string) {
    process.env[variable] = value;
    let byCore: boolean | 'refused';
    try {
      byCore = core.getBooleanInput(Inputs.DryRun);
    } catch {
      byCore = 'refused';
    }
    try {
      const read = readStep(runner, Object.keys(process.env));
      return { core: byCore, step: boolean(read, Inputs.DryRun, false) };
    } catch (error) {
      return { core: byCore, step: error as Error };
    }
  }

  it.each(['true', 'True', 'TRUE', 'false', 'False', 'FALSE', ' true ', '\tFALSE\n'])(
    '%j reads as core reads it',
    (value) => {
      const { core: expected, step } = decisions(value);
      expect(expected).not.toBe('refused');
      expect(step).toBe(expected);
    }
  );

  it.each([
    'tRUE',
    'fALSE',
    'yes',
    'no',
    'on',
    'off',
    '1',
    '0',
    'y',
    '"true"',
    'true\nfalse',
    'ｔｒｕｅ',
    'true.'
  ])("%j is refused as core refuses it, in the step's words, not core's", (value) => {
    const { core: expected, step } = decisions(value);
    expect(expected).toBe('refused');
    expect(step).toBeInstanceOf(InputError);
    expect((step as Error).message).toBe(
      `Input 'dry-run' must be true or false, but was ${JSON.stringify(value.trim())}.`
    );
  });

  it.each(['', ' ', '\n'])('%j, blank where the runner passes a default, is bad input', (value) => {
    const { step } = decisions(value);
    expect(step).toBeInstanceOf(InputError);
    expect((step as Error).message).toMatch(/^Input 'dry-run' is empty\. /);
  });

  it("parses with the runner's getBooleanInput, and has no parse of its own", () => {
    process.env[variable] = 'yes';
    const asked: string[] = [];
    useRunner({
      ...workflowRunner,
      getBooleanInput: (name) => {
        asked.push(name);
        return true;
      }
    });
    expect(boolean(readStep(runner, [variable]), Inputs.DryRun, false)).toBe(true);
    expect(asked).toEqual([Inputs.DryRun]);
  });

  it('an input not passed at all takes the fallback, without asking the runner', () => {
    useRunner({
      ...workflowRunner,
      getBooleanInput: () => {
        throw new Error('asked');
      }
    });
    expect(boolean(readStep(runner, []), Inputs.UploadArtifact, true)).toBe(true);
  });
});
