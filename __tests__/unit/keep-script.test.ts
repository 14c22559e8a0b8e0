import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactClient } from '../../src/artifacts/client.js';
import { scratchDir } from '../support/run-action.mjs';

// The runner is mocked so the outputs and warnings can be read back without a runner.
const outputs: Record<string, string> = {};
const warnings: string[] = [];
const infos: string[] = [];
jest.unstable_mockModule('../../src/action/runner.js', () => ({
  setOutput: (name: string, value: string) => (outputs[name] = value),
  info: (message: string) => infos.push(message),
  warning: (message: string) => warnings.push(message)
}));
const { keepScript, artifactUnavailable, artifactUrlFor, MAX_OUTPUT_BYTES } =
  await import('../../src/flow/keep-script.js');

const run = {
  serverUrl: 'https://github.com',
  hasRuntimeToken: true,
  repository: 'acme/repo',
  runId: '77',
  job: 'deregister',
  attempt: '2'
};
const TENANT = 'https://acme.immuta.test';

/** Artifacts already in the run, by name: the files each holds. */
type Existing = Record<string, Record<string, string>>;

function fakeArtifacts(existing: Existing = {}, failUpload?: Error) {
  const calls: string[] = [];
  const ids = new Map(Object.keys(existing).map((name, i) => [name, 100 + i]));
  const client: ArtifactClient = {
    list: async () => {
      calls.push('list');
      return Object.keys(existing).map((name) => ({ name, id: ids.get(name)!, size: 10 }));
    },
    find: async (name) => {
      calls.push(`find ${name}`);
      if (!existing[name]) return undefined;
      return { name, id: ids.get(name)!, size: 10 };
    },
    files: async (artifact) => {
      calls.push(`download ${artifact.id}`);
      return new Map(
        Object.entries(existing[artifact.name]!).map(([file, text]) => [file, Buffer.from(text)])
      );
    },
    delete: async (artifact) => {
      calls.push(`delete ${artifact.name}`);
    },
    upload: async (name, files, root, retentionDays) => {
      calls.push(
        `upload ${name} ${files.map((f) => path.relative(root, f)).join(',')} ${retentionDays}`
      );
      if (failUpload) throw failUpload;
      return { id: 555, size: 10 };
    }
  };
  return { client, calls };
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(scratchDir(), 'keep-'));
  for (const k of Object.keys(outputs)) delete outputs[k];
  warnings.length = 0;
  infos.length = 0;
});

function config(overrides = {}) {
  return {
    scriptPath: path.join(dir, 'nested', 'cleanup.sql'),
    uploadArtifact: true,
    artifactName: 'immuta-cleanup-script-k',
    retentionDays: 3,
    immutaUrl: TENANT,
    ...overrides
  };
}

/** The report a run of key `k` writes beside its script `cleanup.sql`: whose script it is. */
function report(attempt: string, sha256 = createHash('sha256').update('x').digest('hex')) {
  return JSON.stringify({
    kind: 'immuta-deregister-host/report',
    tenant: TENANT,
    job: 'deregister',
    attempt,
    hosts: [{ connectionKey: 'k', scriptFile: 'cleanup.sql', scriptSha256: sha256 }]
  });
}

/** This attempt's report, written where keepScript takes it from (an extra beside the script). */
async function ownReport(): Promise<string> {
  const file = path.join(dir, 'nested', 'cleanup.report.json');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, report('2'));
  return file;
}

describe('keepScript', () => {
  it('writes the file, sets the outputs and uploads the artifact', async () => {
    const { client, calls } = fakeArtifacts();
    const kept = await keepScript('DROP USER X;\n', config(), client, run);
    expect(await fs.readFile(config().scriptPath, 'utf8')).toBe('DROP USER X;\n');
    expect(outputs).toEqual({
      'script-path': config().scriptPath,
      script: 'DROP USER X;\n',
      'artifact-id': '555',
      'artifact-url': 'https://github.com/acme/repo/actions/runs/77/artifacts/555',
      'artifact-name': 'immuta-cleanup-script-k'
    });
    expect(calls).toEqual([
      'find immuta-cleanup-script-k',
      'upload immuta-cleanup-script-k cleanup.sql 3'
    ]);
    expect(kept.artifactId).toBe(555);
  });

  it('replaces an artifact of the same name that holds exactly this script, its report proving an earlier attempt of this job kept it', async () => {
    const { client, calls } = fakeArtifacts({
      'immuta-cleanup-script-k': { 'cleanup.sql': 'x', 'cleanup.report.json': report('1') }
    });
    await keepScript('x', config(), client, run, [await ownReport()]);
    expect(calls).toEqual([
      'find immuta-cleanup-script-k',
      'download 100',
      'delete immuta-cleanup-script-k',
      'upload immuta-cleanup-script-k cleanup.sql,cleanup.report.json 3'
    ]);
  });

  it.each([
    ['no report', { 'cleanup.sql': 'x' }, /holds no report of this action naming the job/],
    [
      'a report of this attempt',
      { 'cleanup.sql': 'x', 'cleanup.report.json': report('2') },
      /another job of this attempt/
    ],
    [
      'a report naming another SHA-256',
      { 'cleanup.sql': 'x', 'cleanup.report.json': report('1', '0'.repeat(64)) },
      /holds 'cleanup.sql', which its report does not name with this host's connection key and SHA-256/
    ]
  ])(
    'never deletes an artifact holding exactly this script with %s: keeps its own beside it',
    async (_what, files, why) => {
      const { client, calls } = fakeArtifacts({ 'immuta-cleanup-script-k': files });
      const kept = await keepScript('x', config(), client, run, [await ownReport()]);
      expect(calls).toEqual([
        'find immuta-cleanup-script-k',
        'download 100',
        'find immuta-cleanup-script-k-deregister',
        'upload immuta-cleanup-script-k-deregister cleanup.sql,cleanup.report.json 3'
      ]);
      expect(kept.artifactId).toBe(555);
      expect(outputs['artifact-name']).toBe('immuta-cleanup-script-k-deregister');
      expect(calls.join('\n')).not.toMatch(/delete/);
      expect(infos.join('\n')).toMatch(why);
    }
  );

  it.each([
    ['a different script, with no report', { 'cleanup.sql': 'y' }],
    ['another file', { 'other.sql': 'x' }],
    ['more files', { 'cleanup.sql': 'x', 'b.sql': 'x' }],
    // The script an earlier attempt of this job got: that attempt did not delete the host (it is
    // still there), but its script is never lost.
    [
      'the script an earlier attempt of this job got, which Immuta has changed since',
      {
        'cleanup.sql': 'y',
        'cleanup.report.json': report('1', createHash('sha256').update('y').digest('hex'))
      }
    ]
  ])(
    'leaves alone an artifact of the same name holding %s: keeps its own beside it',
    async (_what, files) => {
      const { client, calls } = fakeArtifacts({ 'immuta-cleanup-script-k': files });
      const kept = await keepScript('x', config(), client, run, [await ownReport()]);
      expect(calls.filter((c) => /^(delete|upload)/.test(c))).toEqual([
        'upload immuta-cleanup-script-k-deregister cleanup.sql,cleanup.report.json 3'
      ]);
      expect(kept.artifactName).toBe('immuta-cleanup-script-k-deregister');
    }
  );

  it('fails, deleting nothing, when every name the step could use is taken', async () => {
    const taken = { 'cleanup.sql': 'y' };
    const { client, calls } = fakeArtifacts({
      'immuta-cleanup-script-k': taken,
      'immuta-cleanup-script-k-deregister': taken,
      'immuta-cleanup-script-k-deregister-attempt-2': taken
    });
    await expect(keepScript('x', config(), client, run)).rejects.toThrow(
      /already exists in this workflow run and it and the other names this step could use belong to other jobs of this run or hold a plan.* Give this step an artifact-name of its own .*Nothing was deleted/
    );
    expect(calls.filter((c) => /^(delete|upload)/.test(c))).toEqual([]);
  });

  it('takes its next name when a neighbour created the name at the same moment', async () => {
    const { client, calls } = fakeArtifacts();
    const upload = client.upload;
    client.upload = async (name, ...rest) => {
      if (name === 'immuta-cleanup-script-k') {
        calls.push(`upload ${name} refused`);
        throw new Error(
          'Failed to CreateArtifact: Received non-retryable error: (409) already exists'
        );
      }
      return upload(name, ...rest);
    };
    const kept = await keepScript('x', config(), client, run);
    expect(kept.artifactName).toBe('immuta-cleanup-script-k-deregister');
    expect(infos.join('\n')).toMatch(
      /Artifact 'immuta-cleanup-script-k' was created by another job of this run at the same moment/
    );
  });

  it('fails with the way out when the upload fails, keeping the file', async () => {
    const { client } = fakeArtifacts({}, new Error('Failed to CreateArtifact: boom'));
    await expect(keepScript('x', config(), client, run)).rejects.toThrow(
      /artifact 'immuta-cleanup-script-k' failed: Failed to CreateArtifact: boom\. Nothing was deleted; the script is saved at .*set upload-artifact: false/
    );
    expect(await fs.readFile(config().scriptPath, 'utf8')).toBe('x');
  });

  it('skips the artifact when upload-artifact is false', async () => {
    const { client, calls } = fakeArtifacts();
    const kept = await keepScript('x', config({ uploadArtifact: false }), client, run);
    expect(calls).toEqual([]);
    expect(kept.artifactId).toBeUndefined();
    expect(outputs['artifact-id']).toBeUndefined();
  });

  it('leaves a script over the output limit out of the output, with a warning', async () => {
    const big = 'y'.repeat(MAX_OUTPUT_BYTES + 1);
    const kept = await keepScript(
      big,
      config({ uploadArtifact: false }),
      fakeArtifacts().client,
      run
    );
    expect(kept.inOutput).toBe(false);
    expect(outputs.script).toBeUndefined();
    expect(warnings[0]).toMatch(/over GitHub's 1 MB limit/);
    expect((await fs.stat(config().scriptPath)).size).toBe(big.length);
  });

  it('says what to do when the file cannot be written', async () => {
    const blocker = path.join(dir, 'file');
    await fs.writeFile(blocker, '');
    await expect(
      keepScript(
        'x',
        config({ scriptPath: path.join(blocker, 'x.sql') }),
        fakeArtifacts().client,
        run
      )
    ).rejects.toThrow(
      /Saving the cleanup script to .* failed.*Nothing was deleted\. Set script-path/
    );
  });
});

describe('artifactUnavailable', () => {
  it('recognises GitHub Enterprise Server and a missing runner token', () => {
    expect(artifactUnavailable(run)).toBeUndefined();
    expect(artifactUnavailable({ ...run, serverUrl: 'https://acme.ghe.com' })).toBeUndefined();
    expect(artifactUnavailable({ ...run, serverUrl: 'https://github.acme.internal' })).toMatch(
      /GitHub Enterprise Server/
    );
    expect(artifactUnavailable({ ...run, hasRuntimeToken: false })).toMatch(
      /ACTIONS_RUNTIME_TOKEN/
    );
  });
  it('builds no link outside a run', () => {
    expect(artifactUrlFor({ ...run, runId: undefined }, 1)).toBeUndefined();
  });
});
