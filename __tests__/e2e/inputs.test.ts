import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  defaultState,
  startImmutaStandIn,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { ACTION_DEFAULTS, runAction } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';

let immuta: StandIn;
beforeAll(async () => (immuta = await startImmutaStandIn()));
afterAll(async () => immuta.close());
// Runs that succeed delete the host: each test starts with every host back.
beforeEach(() => {
  immuta.state.hosts = defaultState().hosts;
  immuta.state.integrations = defaultState().integrations;
});

describe('bad input fails with a clear error and sends no request', () => {
  it.each([
    ['immuta-url', { 'immuta-url': '' }, /is required/],
    ['immuta-url', { 'immuta-url': 'not a url' }, /must be an absolute URL/],
    ['immuta-url', { 'allow-insecure-http': 'false' }, /uses http:\/\/.*allow-insecure-http: true/],
    ['api-key', { 'api-key': '' }, /is required/],
    ['connection-key', { 'connection-key': '' }, /is required/],
    ['integration-id', { 'integration-id': 'seven' }, /whole number of 1 or more, but was "seven"/],
    ['auth-method', { 'auth-method': 'basic' }, /one of api-key, token/],
    ['dry-run', { 'dry-run': 'yes' }, /true or false, but was "yes"/],
    ['if-missing', { 'if-missing': 'skip' }, /one of error, warn, ignore/],
    ['upload-artifact', { 'upload-artifact': 'nope' }, /true or false/],
    ['artifact-name', { 'artifact-name': 'a:b' }, /":"/],
    ['retention-days', { 'retention-days': '36501' }, /from 1 to 36500/],
    ['timeout-seconds', { 'timeout-seconds': '1.5' }, /from 1 to 600/],
    ['max-attempts', { 'max-attempts': '0' }, /from 1 to 10/],
    ['ca-certificate', { 'ca-certificate': 'ca.pem' }, /PEM certificates/],
    ['allow-insecure-http', { 'allow-insecure-http': 'maybe' }, /true or false/],
    ['api-key', { 'api-key': 'immuta-key\nsecond-line' }, /contains a control character/],
    ['api-key', { 'api-key': 'immuta-key\u0007bell' }, /contains a control character/],
    ['api-key', { 'api-key': 'immuta-clé-4f1e' }, /outside printable ASCII/],
    ['connection-key', { 'connection-key': '..' }, /names a folder, not a host/],
    ['connection-key', { 'connection-key': '.' }, /names a folder, not a host/],
    ['script-path', { 'script-path': '/tmp/a.sql\n::set-output name=x::y' }, /control character/],
    ['artifact-name', { 'artifact-name': 'name\u0001' }, /"\\u0001"/],
    ['artifact-name', { 'artifact-name': 'scripts#\u200b#[add-mask]x' }, /holds '##\['/],
    ['artifact-name', { 'artifact-name': 'scripts#\u0640#[add-mask]x' }, /holds '##\['/],
    [
      'snowflake-private-key',
      {
        'run-script': 'snowflake',
        'snowflake-account': 'myorg-acct',
        'snowflake-user': 'cleanup',
        'snowflake-private-key': '/home/runner/work/_temp/rsa_key.p8'
      },
      /looks like a file path, not a key: it takes the key's PEM text itself/
    ]
  ])('%s: %j', async (input, overrides, detail) => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, overrides) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain(`Input '${input}'`);
    // The key is masked, and is never part of the message about it.
    expect(run.errors[0]).not.toContain('immuta-key');
    expect(run.errors[0]).toMatch(detail);
    expect(run.log).not.toMatch(/^\s+at /m);
    // Outputs a later `if: failure()` step reads, and nothing else.
    expect(run.outputs).toEqual({
      status: 'failed',
      deleted: 'false',
      'child-count': '',
      'script-status': 'skipped',
      'statements-run': '0'
    });
    expect(immuta.requests.length).toBe(before);
  });
});

/** The run's outputs when it stopped before any request. */
const STOPPED = {
  status: 'failed',
  deleted: 'false',
  'child-count': '',
  'script-status': 'skipped',
  'statements-run': '0'
};

describe("the runner's defaults for inputs the step leaves out", () => {
  it('a run without run-script warns about no warehouse input it never set', async () => {
    // The runner passes snowflake-token-type's default (PROGRAMMATIC_ACCESS_TOKEN) to every run.
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('deregistered');
    expect(run.warnings).toEqual([]);
  });

  it('still warns about a warehouse input set to other than its default', async () => {
    const run = await runAction({
      inputs: stepInputs(immuta, { 'snowflake-token-type': 'OAUTH' })
    });
    expect(run.code).toBe(0);
    expect(run.warnings).toEqual([
      'snowflake-token-type is set but not used with run-script: none.'
    ]);
  });

  it('an input the runner does not pass at all (a run outside a runner) takes its default', async () => {
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'dry-run': undefined,
        'fail-fast': undefined,
        'run-script': undefined,
        'if-missing': undefined,
        'snowflake-token-type': undefined
      })
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'deregistered', deleted: 'true' });
    expect(run.warnings).toEqual([]);
  });
});

describe('a misspelt input stops the step before any request', () => {
  it('dry_run: true deletes nothing and names dry-run', async () => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, { dry_run: 'true' }) });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^Input 'dry_run' \(INPUT_DRY_RUN\) is not an input of this action\. Did you mean 'dry-run'\? .*stopped before sending any request/
      )
    ]);
    expect(run.outputs).toEqual(STOPPED);
    expect(run.summary).toContain('This step did not delete the host.');
    expect(run.log).not.toMatch(/^\s+at /m);
    expect(immuta.requests.length).toBe(before);
  });

  it('names every stray input, with a guess where one is close', async () => {
    const before = immuta.requests.length;
    const run = await runAction({
      inputs: stepInputs(immuta, { dryrun: 'true', 'If Missing': 'warn', colour: 'red' })
    });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain(
      "Inputs 'colour' (INPUT_COLOUR), 'dryrun' (INPUT_DRYRUN; did you mean 'dry-run'?), 'if_missing' (INPUT_IF_MISSING; did you mean 'if-missing'?) are not inputs of this action."
    );
    expect(immuta.requests.length).toBe(before);
  });

  it('an INPUT_ variable set in env: is a stray input too', async () => {
    const before = immuta.requests.length;
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { 'INPUT_UPLOAD-ARTEFACT': 'false' }
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/'upload-artefact' .*Did you mean 'upload-artifact'\?/);
    expect(immuta.requests.length).toBe(before);
  });

  it('masks the value of a misspelt secret input, as the input it meant', async () => {
    const run = await runAction({
      inputs: stepInputs(immuta, { api_key: 'stray-immuta-key-7f3a' })
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/'api_key' .*Did you mean 'api-key'\?/);
    expect(run.stdout).toContain('::add-mask::stray-immuta-key-7f3a');
    expect(visibleLog(run.log)).not.toContain('stray-immuta-key-7f3a');
  });
});

describe('an input given empty where the runner would pass a default is bad input', () => {
  it('dry-run: "" (${{ inputs.dry-run }} on a push) deletes nothing', async () => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, { 'dry-run': '' }) });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^Input 'dry-run' is empty\. The runner passes its default \(false\) when a step leaves the input out.*Give true or false/
      )
    ]);
    expect(run.outputs).toEqual(STOPPED);
    expect(immuta.requests.length).toBe(before);
  });

  // github-token given empty reads no review history, on purpose (approvals.test.ts).
  it.each(
    Object.entries(ACTION_DEFAULTS)
      .filter(([name, value]) => value !== '' && name !== 'github-token')
      .map(([name]) => name)
  )('%s given empty (or blank) stops the step', async (name) => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, { [name]: ' ' }) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain(`Input '${name}' is empty.`);
    expect(run.outputs).toEqual(STOPPED);
    expect(immuta.requests.length).toBe(before);
  });

  it('accepts the spellings getBooleanInput accepts, and no others', async () => {
    const dry = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'TRUE' }) });
    expect(dry.outputs.status).toBe('dry-run');
    const before = immuta.requests.length;
    const odd = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'tRUE' }) });
    expect(odd.code).toBe(1);
    expect(odd.errors).toEqual([`Input 'dry-run' must be true or false, but was "tRUE".`]);
    expect(immuta.requests.length).toBe(before);
  });

  it('" true " reads as core trims it, a dry run; a refused boolean is the step\'s own error, never core\'s TypeError or a stack', async () => {
    const deletes = immuta.sent('DELETE').length;
    const spaced = await runAction({ inputs: stepInputs(immuta, { 'dry-run': ' true ' }) });
    expect(spaced.code).toBe(0);
    expect(spaced.outputs.status).toBe('dry-run');
    expect(immuta.sent('DELETE')).toHaveLength(deletes);

    const before = immuta.requests.length;
    const yes = await runAction({
      inputs: stepInputs(immuta, { 'dry-run': 'yes' }),
      env: { RUNNER_DEBUG: '1' }
    });
    expect(yes.code).toBe(1);
    expect(yes.errors).toEqual([`Input 'dry-run' must be true or false, but was "yes".`]);
    expect(yes.log).not.toMatch(/YAML|Core Schema|TypeError|\n\s+at /);
    expect(yes.outputs).toEqual(STOPPED);
    expect(immuta.requests.length).toBe(before);
  });
});

// A variable the step's env: sets beside the runner's own: on Linux INPUT_dry-run and
// INPUT_DRY-RUN are two variables, and the action reads only the one the runner writes
// (actions/runner Handler.cs, AddInputsToEnvironment: INPUT_ and the name upper-cased). Any
// other INPUT_* variable, in another case or with a look-alike letter, is a stray input.
describe('an INPUT_* variable not exactly as the runner writes one stops the step', () => {
  it.each([
    [
      "a lower-case INPUT_dry-run beside the runner's INPUT_DRY-RUN",
      { 'INPUT_dry-run': 'true' },
      /'dry-run' \(INPUT_dry-run\) differs only in case from INPUT_DRY-RUN, the variable the runner passes dry-run in/
    ],
    [
      'a lower-case prefix',
      { 'input_DRY-RUN': 'true' },
      /\(input_DRY-RUN\) differs only in case from INPUT_DRY-RUN/
    ],
    [
      'a dotless ı',
      { 'INPUT_\u0131F-MISSING': 'warn' },
      /'\\u\{131\}f-missing' \(INPUT_\\u\{131\}F-MISSING\) only looks like INPUT_IF-MISSING/
    ],
    [
      'a Cyrillic І in the prefix',
      { '\u0406NPUT_DRY-RUN': 'true' },
      /\(\\u\{406\}NPUT_DRY-RUN\) only looks like INPUT_DRY-RUN/
    ],
    [
      'a zero-width space at the end',
      { 'INPUT_DRY-RUN\u200b': 'true' },
      /\(INPUT_DRY-RUN\\u\{200b\}\) only looks like INPUT_DRY-RUN/
    ],
    [
      'fullwidth letters',
      { '\uff29\uff2e\uff30\uff35\uff34_DRY-RUN': 'true' },
      /only looks like INPUT_DRY-RUN/
    ]
  ])('%s: nothing is sent and nothing deleted', async (_what, env, detail) => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta), env });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(detail);
    expect(run.errors[0]).toContain('the step stopped before sending any request');
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(run.log).not.toMatch(/^\s+at /m);
    expect(immuta.requests.length).toBe(before);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
  });

  it('masks the value of a stray variable that meant a secret input', async () => {
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { 'INPUT_api-key': 'stray-immuta-key-5c2d' }
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/differs only in case from INPUT_API-KEY/);
    expect(run.stdout).toContain('::add-mask::stray-immuta-key-5c2d');
    expect(visibleLog(run.log)).not.toContain('stray-immuta-key-5c2d');
  });

  it("the runner's own variables, every default included, are no stray input", async () => {
    const run = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'true' }) });
    expect(run.code).toBe(0);
    expect(run.outputs.status).toBe('dry-run');
  });
});

// connection-key as a workflow fills it: a list typed on one line, or a computed list that came
// out empty. Neither may send a request that names a host no one meant.
describe('several hosts given on one line', () => {
  it.each([
    [
      'comma-separated',
      'snowflake-prod, databricks-uc',
      /holds a comma \("snowflake-prod, databricks-uc"\)/
    ],
    ['as a JSON list', '["snowflake-prod","databricks-uc"]', /looks like a JSON list/],
    [
      'as toJSON writes a list',
      '[\n  "snowflake-prod",\n  "databricks-uc"\n]',
      /looks like a JSON list/
    ]
  ])('%s is bad input: one key per line, and no request', async (_what, value, detail) => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, { 'connection-key': value }) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/^Input 'connection-key' /);
    expect(run.errors[0]).toMatch(detail);
    expect(run.errors[0]).toContain('one connection key per line');
    expect(run.outputs).toEqual(STOPPED);
    expect(immuta.requests.length).toBe(before);
  });
});

describe('a host list that came out empty', () => {
  it('fails by default, before any request, saying how to let it succeed', async () => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, { 'connection-key': '' }) });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^Input 'connection-key' is required but was empty\..*if-no-hosts: warn or ignore/
      )
    ]);
    expect(run.outputs).toEqual(STOPPED);
    expect(immuta.requests.length).toBe(before);
  });

  it.each([
    ['warn', ''],
    ['warn', '# every host retired\n\n'],
    ['ignore', '']
  ])(
    'with if-no-hosts: %s (connection-key %j) succeeds, sending and deleting nothing',
    async (ifNoHosts, value) => {
      const before = immuta.requests.length;
      const run = await runAction({
        inputs: stepInputs(immuta, { 'connection-key': value, 'if-no-hosts': ifNoHosts })
      });
      expect(run.code).toBe(0);
      expect(run.errors).toEqual([]);
      expect(run.outputs).toEqual({
        status: 'no-hosts',
        deleted: 'false',
        'child-count': '',
        'deleted-count': '0',
        'absent-count': '0',
        'failed-count': '0',
        'script-status': 'skipped',
        'statements-run': '0'
      });
      const said =
        /connection-key names no host .*nothing was sent to Immuta and nothing was deleted/;
      if (ifNoHosts === 'warn') expect(run.warnings).toEqual([expect.stringMatching(said)]);
      else {
        expect(run.warnings).toEqual([]);
        expect(run.stdout).toMatch(said);
      }
      expect(run.summary).toMatch(/^## Immuta: no host to deregister/);
      expect(immuta.requests.length).toBe(before);
    }
  );

  it('still checks the other inputs', async () => {
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': '', 'if-no-hosts': 'warn', 'dry-run': 'yes' })
    });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(/^Input 'dry-run' must be true or false/);
  });
});
