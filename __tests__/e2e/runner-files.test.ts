import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  defaultState,
  startImmutaStandIn,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { parseOutputs, runAction, scratchDir } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import {
  startArtifactService,
  startAzurite,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';

let immuta: StandIn;
beforeAll(async () => (immuta = await startImmutaStandIn()));
afterAll(async () => immuta.close());
// Runs that succeed delete the host: each test starts with every host back.
beforeEach(() => {
  immuta.state.hosts = defaultState().hosts;
  immuta.state.integrations = defaultState().integrations;
});

/** A folder of this test's own, for the files it points the runner's variables at. */
function folder(): string {
  return fs.mkdtempSync(path.join(scratchDir(), 'runner-files-'));
}

/** A symlink to `target`, to be pointed elsewhere in one step while the action runs. */
function link(dir: string, name: string, target: string): string {
  const at = path.join(dir, name);
  fs.symlinkSync(target, at);
  return at;
}

function repoint(at: string, target: string): void {
  const next = `${at}.next`;
  fs.symlinkSync(target, next);
  fs.renameSync(next, at);
}

describe('the outputs and summary files are checked before any request', () => {
  it.each([
    ['GITHUB_OUTPUT', 'outputs'],
    ['GITHUB_STEP_SUMMARY', 'job summary']
  ])(
    '%s in a missing folder stops the step with an error, nothing sent',
    async (variable, what) => {
      const missing = path.join(folder(), 'gone', 'file');
      const before = immuta.requests.length;
      const run = await runAction({ inputs: stepInputs(immuta), env: { [variable]: missing } });
      expect(run.code).toBe(1);
      expect(run.errors).toEqual([
        `The step's ${what} file cannot be written (ENOENT): ${variable} is ${missing}. The runner names a file that every step can write; a step's env: that sets ${variable}, a full disk or a removed folder causes this. Nothing was sent to Immuta and nothing was deleted.`
      ]);
      expect(run.log).not.toMatch(/^\s+at /m);
      expect(immuta.requests.length).toBe(before);
    }
  );

  it('opens the outputs file for append: what earlier steps wrote stays', async () => {
    const dir = folder();
    const outputs = path.join(dir, 'github-output');
    fs.writeFileSync(outputs, 'earlier<<EOF\nkept\nEOF\n');
    const run = await runAction({ inputs: stepInputs(immuta), env: { GITHUB_OUTPUT: outputs } });
    expect(run.code).toBe(0);
    expect(parseOutputs(fs.readFileSync(outputs, 'utf8'))).toMatchObject({
      earlier: 'kept',
      status: 'deregistered',
      deleted: 'true'
    });
  });
});

describe('an output that cannot be written', () => {
  it('before the delete (a full disk): the host is not deleted, and the step says why', async () => {
    const deletes = immuta.sent('DELETE').length;
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { GITHUB_OUTPUT: '/dev/full' }
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^The step's outputs could not be written \(ENOSPC: no space left on device, write\), so a later step could not read what this one did: nothing was deleted\./
      )
    ]);
    expect(run.log).not.toMatch(/^\s+at /m);
    expect(immuta.sent('DELETE')).toHaveLength(deletes);
    expect(run.summary).toContain('This step did not delete the host.');
  });

  it('after the delete: the log and the summary still say the host was deleted, and the step fails', async () => {
    const dir = folder();
    const file = path.join(dir, 'github-output');
    fs.writeFileSync(file, '');
    const outputs = link(dir, 'output-link', file);
    // The disk fills up as the DELETE goes out: every output after it is lost.
    immuta.fault({ method: 'DELETE', before: () => repoint(outputs, '/dev/full') });
    const run = await runAction({ inputs: stepInputs(immuta), env: { GITHUB_OUTPUT: outputs } });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Deregistered host 'snowflake-prod' and its 42 child objects\.$/m);
    expect(run.summary).toContain('| Deleted | yes, with 42 child objects |');
    expect(run.errors).toEqual([
      "The step's outputs could not be written (ENOSPC: no space left on device, write), so later steps see some of them empty. The host was deleted: the log and the job summary say what this step did, and where the cleanup script is kept."
    ]);
    expect(run.summary).toContain("## Immuta: the step's outputs were lost");
    expect(run.log).not.toMatch(/^\s+at /m);
    // What was written before the delete is there: the script was kept in the output too.
    expect(parseOutputs(fs.readFileSync(file, 'utf8')).script).toContain('DROP USER');
  });

  it('a summary lost after the delete is a warning: outputs and log say the host was deleted', async () => {
    const dir = folder();
    const file = path.join(dir, 'step-summary');
    fs.writeFileSync(file, '');
    const summary = link(dir, 'summary-link', file);
    immuta.fault({ method: 'DELETE', before: () => repoint(summary, '/dev/full') });
    const run = await runAction({
      inputs: stepInputs(immuta),
      env: { GITHUB_STEP_SUMMARY: summary }
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'deregistered', deleted: 'true' });
    expect(run.stdout).toMatch(/^Deregistered host 'snowflake-prod' and its 42 child objects\.$/m);
    expect(run.warnings).toEqual([
      expect.stringMatching(/^The job summary could not be written: ENOSPC/)
    ]);
    expect(run.log).not.toMatch(/^\s+at /m);
  });
});

describe('an output that cannot be written, in a batch', () => {
  const hosts = { 'connection-key': 'snowflake-prod\ndatabricks-uc' };

  it('after the deletes: the log and the summary say which hosts went, and the step fails', async () => {
    const deletes = immuta.sent('DELETE').length;
    const run = await runAction({
      inputs: stepInputs(immuta, hosts),
      env: { GITHUB_OUTPUT: '/dev/full' }
    });
    expect(run.code).toBe(1);
    expect(immuta.sent('DELETE')).toHaveLength(deletes + 2);
    expect(run.stdout).toMatch(/^2 hosts: 2 deregistered\.$/m);
    expect(run.errors).toEqual([
      "The step's outputs could not be written (ENOSPC: no space left on device, write), so later steps see some of them empty. Hosts were deleted: the log and the job summary say which, and where their cleanup scripts are kept."
    ]);
    expect(run.summary).toContain("## Immuta: the step's outputs were lost");
    expect(run.log).not.toMatch(/^\s+at /m);
  });

  describe('with the artifact', () => {
    let azurite: Azurite;
    beforeAll(async () => (azurite = await startAzurite()), 60_000);
    afterAll(async () => azurite?.stop());

    it('artifact outputs lost before the deletes: no host is deleted', async () => {
      const service = await startArtifactService({ azurite });
      try {
        const deletes = immuta.sent('DELETE').length;
        const run = await runAction({
          inputs: stepInputs(immuta, { ...hosts, 'upload-artifact': 'true' }),
          env: { ...service.env(), GITHUB_OUTPUT: '/dev/full' }
        });
        expect(run.code).toBe(1);
        // The artifact was kept; its ID could not be handed on, so nothing was deleted.
        expect(service.artifacts.filter((a) => a.finalized)).toHaveLength(1);
        expect(immuta.sent('DELETE')).toHaveLength(deletes);
        expect(run.errors).toEqual([
          expect.stringMatching(
            /^The step's outputs could not be written \(ENOSPC: no space left on device, write\), so a later step could not read what this one did: nothing was deleted\./
          )
        ]);
        expect(run.log).not.toMatch(/^\s+at /m);
      } finally {
        await service.close();
      }
    });
  });
});
