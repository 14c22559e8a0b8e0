// Every artifact operation has a deadline: @actions/artifact's requests to the results service
// have no time limit of their own, so a service (or a proxy in front of it) that takes a request
// and never answers, or answers half a body and stalls, would hold the step until the job's
// timeout-minutes. Each operation gets timeout-seconds × max-attempts (an upload, in addition,
// ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS for its blob): before the delete the step fails with nothing
// deleted, after it the step fails rather than hangs. The bundle runs against the results-service
// stand-in with timeout-seconds: 3 and max-attempts: 1, so each deadline is seconds long.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs/promises';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { startSnowflakeStandIn, type SnowflakeStandIn } from '../support/warehouse-stand-ins.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { zip } from '../support/zip.js';

let azurite: Azurite;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

const NAME = 'immuta-cleanup-script-snowflake-prod';
const FILE = 'immuta-cleanup-snowflake-prod.sql';
const REPORT = 'immuta-cleanup-snowflake-prod.report.json';
/** The deadlines these inputs give: 3 s for an operation, 3 s + 1 s for an upload. */
const QUICK = { 'upload-artifact': 'true', 'timeout-seconds': '3', 'max-attempts': '1' };
const UPLOAD_TIMEOUT = { ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS: '1000' };
const NO_ANSWER = 'did not end within';
const OPERATION = `${NO_ANSWER} 3 s \\(timeout-seconds × max-attempts\\)`;
const UPLOAD = `${NO_ANSWER} 4 s \\(timeout-seconds × max-attempts, plus ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS for its blob\\)`;
/** Far past any deadline here, far short of the 2 minutes after which the test run kills it. */
const PROMPT_MS = 30_000;

async function immutaStandIn() {
  const standIn = await startImmutaStandIn();
  closers.push(() => standIn.close());
  return standIn;
}

async function artifactService(faults: Parameters<typeof startArtifactService>[0]['faults']) {
  const service = await startArtifactService({ azurite, faults });
  closers.push(() => service.close());
  return service;
}

const methods = (service: ArtifactService) => service.calls.map((c) => c.method);

async function expectNoDelete(run: ActionRun, immuta: ImmutaStandIn, why: RegExp) {
  expect(run.code).toBe(1);
  expect(run.signal).toBeNull();
  expect(run.wallMs).toBeLessThan(PROMPT_MS);
  expect(run.errors.at(-1)).toMatch(why);
  expect(run.errors.at(-1)).toMatch(/If it is only slow, raise timeout-seconds or max-attempts\./);
  expect(run.errors.at(-1)).toMatch(/Nothing was deleted; the script is saved at/);
  expect(run.log).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
  expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
  expect(immuta.sent('DELETE')).toHaveLength(0);
  expect(await fs.readFile(run.outputs['script-path']!, 'utf8')).toBe(snowflakeScript(1));
}

describe('before the delete: a results service that never answers fails the step, nothing deleted', () => {
  it.each([
    ['takes the lookup and never answers', 'hang'],
    ['answers the lookup with half a body, then nothing', 'half']
  ] as const)('ListArtifacts %s', async (_, fault) => {
    const immuta = await immutaStandIn();
    const service = await artifactService({ ListArtifacts: fault });
    const run = await runAction({
      inputs: stepInputs(immuta, QUICK),
      env: { ...service.env(), ...UPLOAD_TIMEOUT }
    });
    await expectNoDelete(
      run,
      immuta,
      new RegExp(`failed: looking up artifact '${NAME}' ${OPERATION}`)
    );
    expect(methods(service)).not.toContain('CreateArtifact');
  });

  it('CreateArtifact answers half a body, then nothing: the upload is given up on', async () => {
    const immuta = await immutaStandIn();
    const service = await artifactService({ CreateArtifact: 'half' });
    const run = await runAction({
      inputs: stepInputs(immuta, QUICK),
      env: { ...service.env(), ...UPLOAD_TIMEOUT }
    });
    await expectNoDelete(run, immuta, new RegExp(`failed: uploading artifact '${NAME}' ${UPLOAD}`));
    expect(methods(service)).not.toContain('FinalizeArtifact');
  });

  it('FinalizeArtifact takes the request and never answers, after the blob is stored', async () => {
    const immuta = await immutaStandIn();
    const service = await artifactService({ FinalizeArtifact: 'hang' });
    const run = await runAction({
      inputs: stepInputs(immuta, QUICK),
      env: { ...service.env(), ...UPLOAD_TIMEOUT }
    });
    await expectNoDelete(run, immuta, new RegExp(`failed: uploading artifact '${NAME}' ${UPLOAD}`));
    expect(await service.blobNames()).toHaveLength(1);
    expect(service.artifacts.map((a) => a.finalized)).toEqual([false]);
  });
});

describe('a re-run, its earlier artifact to compare and replace: nothing deleted', () => {
  /** This job's attempt 1 kept the script, with the report that proves whose it is. */
  async function rerunWith(faults: Parameters<typeof startArtifactService>[0]['faults']) {
    const immuta = await immutaStandIn();
    const service = await artifactService(faults);
    const report = JSON.stringify({
      kind: 'immuta-deregister-host/report',
      version: 1,
      tenant: immuta.url,
      job: 'deregister',
      attempt: '1',
      hosts: [
        {
          connectionKey: 'snowflake-prod',
          scriptFile: FILE,
          scriptSha256: createHash('sha256').update(snowflakeScript(1)).digest('hex')
        }
      ]
    });
    const id = await service.plant(
      NAME,
      zip([
        { name: FILE, data: Buffer.from(snowflakeScript(1)) },
        { name: REPORT, data: Buffer.from(report) }
      ])
    );
    const run = await runAction({
      inputs: stepInputs(immuta, QUICK),
      env: { ...service.env(), ...UPLOAD_TIMEOUT, GITHUB_RUN_ATTEMPT: '2' }
    });
    return { immuta, service, id, run };
  }

  it.each([
    [
      'the download URL of the earlier artifact never comes (GetSignedArtifactURL hangs)',
      { GetSignedArtifactURL: 'hang' }
    ],
    [
      'the blob store sends half the earlier artifact, then nothing (the package would wait 30 s a try, five tries)',
      { blob: 'stall-read' }
    ]
  ] as const)('%s', async (_, faults) => {
    const { immuta, service, id, run } = await rerunWith(faults);
    // A re-run reads what the earlier attempt kept before it asks Immuta for anything more (to
    // tell that the host is the one that attempt kept): it stops there, having generated nothing.
    expect(run.code).toBe(1);
    expect(run.signal).toBeNull();
    expect(run.wallMs).toBeLessThan(PROMPT_MS);
    const error = run.errors.at(-1)!;
    expect(error).toMatch(
      new RegExp(
        `What earlier attempts of this workflow run kept could not be read \\(downloading artifact ${id} \\('${NAME}'\\) ${OPERATION}`
      )
    );
    expect(error).toMatch(/If it is only slow, raise timeout-seconds or max-attempts/);
    expect(error).toMatch(/Nothing was generated or deleted\.$/);
    expect(run.log).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
    expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    expect(immuta.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(methods(service)).not.toContain('DeleteArtifact');
    expect(methods(service)).not.toContain('CreateArtifact');
  });

  it('the delete of the earlier artifact is taken and never answered: no upload, and the earlier artifact is not lost', async () => {
    const { immuta, service, id, run } = await rerunWith({ DeleteArtifact: 'hang' });
    await expectNoDelete(
      run,
      immuta,
      new RegExp(`failed: deleting artifact '${NAME}' \\(ID ${id}\\) ${OPERATION}`)
    );
    expect(methods(service)).not.toContain('CreateArtifact');
    expect(service.artifacts.map((a) => a.database_id)).toEqual([id]);
  });

  it('with every request answered in time, the same re-run replaces its artifact and deletes the host', async () => {
    const { immuta, service, id, run } = await rerunWith({});
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Replaced artifact '${NAME}' (ID ${id})`);
    expect(immuta.sent('DELETE')).toHaveLength(1);
    expect(methods(service).slice(-3)).toEqual([
      'DeleteArtifact',
      'CreateArtifact',
      'FinalizeArtifact'
    ]);
  });
});

describe('after the delete: a record of step 3 that is never answered fails the step, it does not hang', () => {
  it('the record after the first statement: the step fails, and nothing more is sent to Snowflake', async () => {
    const keys = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
    });
    const immuta = await immutaStandIn();
    let records = 0;
    const service = await artifactService({
      // The script's artifact and the first two records are answered.
      CreateArtifact: (r: Record<string, unknown>) =>
        r.name !== NAME && ++records > 2 ? 'half' : undefined
    });
    const sf: SnowflakeStandIn = await startSnowflakeStandIn({
      account: 'XY12345',
      user: 'IMMUTA_CLEANUP',
      publicKey: keys.publicKey
    });
    closers.push(() => sf.close());
    const run = await runAction({
      inputs: stepInputs(immuta, {
        ...QUICK,
        'run-script': 'snowflake',
        'snowflake-account': 'xy12345',
        'snowflake-host': sf.url,
        'snowflake-user': 'immuta_cleanup',
        'snowflake-private-key': keys.privateKey
      }),
      env: { ...service.env(), ...UPLOAD_TIMEOUT }
    });
    expect(run.code).toBe(1);
    expect(run.signal).toBeNull();
    expect(run.wallMs).toBeLessThan(PROMPT_MS);
    expect(run.outputs).toMatchObject({ deleted: 'true', 'script-status': 'failed' });
    expect(immuta.sent('DELETE')).toHaveLength(1);
    expect(run.errors.at(-1)).toMatch(
      new RegExp(`Keeping the record of step 3 failed .*${UPLOAD}.*it sent nothing more`)
    );
    expect(sf.ranTexts).toEqual(['DROP DATABASE IF EXISTS IMMUTA_SYSTEM']);
  });
});
