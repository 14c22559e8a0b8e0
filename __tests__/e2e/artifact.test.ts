import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import {
  startImmutaStandIn,
  snowflakeScript,
  databricksScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService as Service,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';

let azurite: Azurite;
let immuta: StandIn | undefined;
let service: Service | undefined;
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  await immuta?.close();
  await service?.close();
  immuta = service = undefined;
});

const NAME = 'immuta-cleanup-script-snowflake-prod';
const withArtifact = (extra: Record<string, string> = {}) =>
  stepInputs(immuta!, { 'upload-artifact': 'true', ...extra });

describe('the cleanup script lands in the blob store as an artifact', () => {
  it('uploads a zip holding the script byte for byte, before the delete, and links it', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({
      inputs: withArtifact({ 'retention-days': '5' }),
      env: service.env()
    });
    expect(run.code).toBe(0);

    const stored = service.artifacts.find((a) => a.name === NAME)!;
    expect(stored.finalized).toBe(true);
    expect(run.outputs['artifact-id']).toBe(stored.database_id);
    expect(run.outputs['artifact-url']).toBe(
      `https://github.com/acme/data-platform/actions/runs/4242/artifacts/${stored.database_id}`
    );
    const zip = (await service.zipOf(NAME))!;
    expect(zip.subarray(0, 4)).toEqual(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
    const files = unzip(zip);
    // The script, and the report as it stood before the delete: the audit record goes with it.
    expect([...files.keys()].sort()).toEqual([
      'immuta-cleanup-snowflake-prod.report.json',
      'immuta-cleanup-snowflake-prod.sql'
    ]);
    const report = JSON.parse(files.get('immuta-cleanup-snowflake-prod.report.json')!.toString());
    expect(report).toMatchObject({
      stage: 'before-delete',
      hosts: [{ connectionKey: 'snowflake-prod', status: 'kept', deleted: false, integrationId: 1 }]
    });
    expect(files.get('immuta-cleanup-snowflake-prod.sql')).toEqual(Buffer.from(snowflakeScript(1)));

    const days = (Date.parse(stored.expires_at!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(4.9);
    expect(days).toBeLessThanOrEqual(5);
    expect(run.summary).toContain(`[${stored.database_id}](${run.outputs['artifact-url']})`);
    expect(run.log.indexOf('Uploaded the cleanup script as artifact')).toBeLessThan(
      run.log.indexOf('Deregistered host')
    );
  });

  it('keeps the repository default retention when retention-days is empty', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(run.code).toBe(0);
    expect(service.artifacts[0].expires_at).toBeUndefined();
  });

  it('replaces an artifact of the same name from an earlier attempt, then deletes', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    // The first attempt kept the script, then failed at the delete.
    immuta.fault({ method: 'DELETE', status: 500, body: '{"message":"database busy"}' });
    const first = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(first.code).toBe(1);
    expect(first.errors[0]).toMatch(/^Deleting the host failed/);
    expect(service.artifacts.filter((a) => a.name === NAME)).toHaveLength(1);

    const second = await runAction({
      inputs: withArtifact(),
      env: { ...service.env(), GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(second.code).toBe(0);
    expect(second.outputs.status).toBe('deregistered');
    expect(service.calls.map((c) => c.method)).toContain('DeleteArtifact');
    const left = service.artifacts.filter((a) => a.name === NAME);
    expect(left).toHaveLength(1);
    expect(second.outputs['artifact-id']).toBe(left[0].database_id);
    expect(second.outputs['artifact-id']).not.toBe(first.outputs['artifact-id']);
    expect(
      unzip((await service.zipOf(NAME))!)
        .get('immuta-cleanup-snowflake-prod.sql')!
        .toString()
    ).toBe(snowflakeScript(1));
  });

  it('gives each host of a matrix its own artifact in the same run', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const runs = await Promise.all(
      ['snowflake-prod', 'databricks-uc'].map((key, job) =>
        runAction({
          inputs: withArtifact({ 'connection-key': key }),
          // Matrix jobs share the run and differ in the job.
          env: { ...service!.env(undefined, `matrix-job-${job}`) }
        })
      )
    );
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    expect(service.artifacts.map((x) => x.name).sort()).toEqual([
      'immuta-cleanup-script-databricks-uc',
      NAME
    ]);
    const databricks = unzip((await service.zipOf('immuta-cleanup-script-databricks-uc'))!);
    expect(databricks.get('immuta-cleanup-databricks-uc.sql')!.toString()).toBe(
      databricksScript(2)
    );
    expect(await service.blobNames()).toHaveLength(2);
  });
});

describe("one job's artifact never destroys another's", () => {
  it('keys that differ only in characters artifact names refuse get artifacts of their own', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const keys = ['snow/prod', 'snow:prod'];
    immuta.state.hosts['snow/prod'] = { ...immuta.state.hosts['snowflake-prod'] };
    immuta.state.hosts['snow:prod'] = { ...immuta.state.hosts['databricks-uc'] };
    const runs = [];
    for (const [job, key] of keys.entries()) {
      runs.push(
        await runAction({
          inputs: withArtifact({ 'connection-key': key }),
          env: service.env(undefined, `matrix-job-${job}`)
        })
      );
    }
    expect(runs.map((r) => r.code)).toEqual([0, 0]);
    expect(runs.map((r) => r.outputs['artifact-name'])).toEqual([
      'immuta-cleanup-script-snow%2Fprod',
      'immuta-cleanup-script-snow%3Aprod'
    ]);
    const first = unzip((await service.zipOf('immuta-cleanup-script-snow%2Fprod'))!);
    const second = unzip((await service.zipOf('immuta-cleanup-script-snow%3Aprod'))!);
    expect(first.get('immuta-cleanup-snow%2Fprod.sql')!.toString()).toBe(snowflakeScript(1));
    expect(second.get('immuta-cleanup-snow%3Aprod.sql')!.toString()).toBe(databricksScript(2));
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
  });

  it("a shared artifact-name: the second matrix leg keeps its script beside the first leg's, which it leaves", async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const shared = { 'artifact-name': 'cleanup-scripts' };
    const first = await runAction({
      inputs: withArtifact({ ...shared, 'connection-key': 'snowflake-prod' }),
      env: service.env(undefined, 'matrix-job-0')
    });
    expect(first.code).toBe(0);
    const second = await runAction({
      inputs: withArtifact({ ...shared, 'connection-key': 'databricks-uc' }),
      env: service.env(undefined, 'matrix-job-1')
    });
    expect(second.code).toBe(0);
    expect(second.log).toMatch(
      /Artifact 'cleanup-scripts' \(ID \d+\) was uploaded by another job of this attempt \(a matrix leg with the same artifact name\); it is left as it is\. This step keeps its cleanup script as artifact 'cleanup-scripts-deregister'\./
    );
    expect(second.outputs['artifact-name']).toBe('cleanup-scripts-deregister');
    expect(immuta.state.hosts['databricks-uc']).toBeUndefined();
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    const kept = unzip((await service.zipOf('cleanup-scripts'))!);
    expect(kept.get('immuta-cleanup-snowflake-prod.sql')!.toString()).toBe(snowflakeScript(1));
    const own = unzip((await service.zipOf('cleanup-scripts-deregister'))!);
    expect(own.get('immuta-cleanup-databricks-uc.sql')!.toString()).toBe(databricksScript(2));
  });

  it('a script that changed since the earlier attempt is not replaced either: the re-run keeps its own beside it', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    immuta.fault({ method: 'DELETE', status: 500, body: '{"message":"database busy"}' });
    const first = await runAction({ inputs: withArtifact(), env: service.env() });
    expect(first.code).toBe(1);
    immuta.state.integrations[1].script = `${snowflakeScript(1)}DROP ROLE EXTRA;\n`;
    const second = await runAction({
      inputs: withArtifact(),
      env: { ...service.env(undefined, 'job-attempt-2'), GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(second.code).toBe(0);
    expect(second.log).toMatch(
      /holds a script that an earlier attempt of this job got from Immuta, not the one Immuta gave now; it is left as it is/
    );
    expect(second.outputs['artifact-name']).toBe(`${NAME}-deregister`);
    expect(service.calls.map((c) => c.method)).not.toContain('DeleteArtifact');
    expect(
      unzip((await service.zipOf(NAME))!)
        .get('immuta-cleanup-snowflake-prod.sql')!
        .toString()
    ).toBe(snowflakeScript(1));
  });

  it('gives a key holding a legacy runner command a default name that holds none', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const key = 'evil#\u200b#[add-mask]Uploaded';
    immuta.state.hosts[key] = { ...immuta.state.hosts['snowflake-prod'] };
    const run = await runAction({
      inputs: withArtifact({ 'connection-key': key }),
      env: service.env()
    });
    expect(run.code).toBe(0);
    expect(run.outputs['artifact-name']).toBe(
      'immuta-cleanup-script-evil%23%E2%80%8B%23[add-mask]Uploaded'
    );
    // The artifact client logs the name as it is: the name itself must be harmless.
    const invisible = /[\p{Cc}\p{Cf}\p{Mn}\p{Default_Ignorable_Code_Point}]/gu;
    const plain = run.stdout.split('\n').filter((l) => !l.startsWith('::'));
    expect(plain.filter((l) => l.replace(invisible, '').includes('##['))).toEqual([]);
    expect(plain).toContainEqual(
      expect.stringContaining('Uploading artifact: immuta-cleanup-script-evil%23')
    );
  });
});

describe('when the artifact cannot be kept, nothing is deleted and the file stays', () => {
  async function expectNoDelete(run: ActionRun, why: RegExp) {
    expect(run.code).toBe(1);
    const error = run.errors.at(-1);
    expect(error).toMatch(why);
    expect(error).toMatch(
      /Nothing was deleted; the script is saved at .*set upload-artifact: false/
    );
    expect(immuta!.sent('DELETE')).toHaveLength(0);
    expect(immuta!.state.hosts['snowflake-prod']).toBeDefined();
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
  }

  it('the results service answers 5xx until the client gives up', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults: { CreateArtifact: 500 } });
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    await expectNoDelete(run, /Failed to CreateArtifact: Failed to make request after 5 attempts/);
    expect(service.calls.filter((c) => c.method === 'CreateArtifact')).toHaveLength(5);
  }, 90_000);

  it('the blob store refuses the upload', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite, faults: { blob: 'refuse' } });
    const run = await runAction({ inputs: withArtifact(), env: service.env() });
    await expectNoDelete(
      run,
      /Uploading the cleanup script as artifact 'immuta-cleanup-script-snowflake-prod' failed: .*(authenticat|signature|403)/i
    );
    expect(service.calls.map((c) => c.method)).not.toContain('FinalizeArtifact');
  });

  // Known from the runner's environment before anything else: the step stops at input checking,
  // before it asks Immuta anything, as for any other mistake in its setup.
  async function expectStopBeforeAnyRequest(run: ActionRun, why: RegExp) {
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/^Input 'upload-artifact' is true/);
    expect(run.errors[0]).toMatch(why);
    expect(run.errors[0]).toMatch(/Nothing was sent\. Set upload-artifact: false/);
    expect(immuta!.requests).toHaveLength(0);
    expect(immuta!.state.hosts['snowflake-prod']).toBeDefined();
  }

  it('GitHub Enterprise Server fails up front, telling the user to set upload-artifact: false', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const run = await runAction({
      inputs: withArtifact(),
      env: { ...service.env(), GITHUB_SERVER_URL: 'https://github.acme-corp.internal' }
    });
    await expectStopBeforeAnyRequest(
      run,
      /looks like GitHub Enterprise Server \(https:\/\/github\.acme-corp\.internal\), where artifacts v2\+ are not available/
    );
    expect(service.calls).toEqual([]);
  });

  it('outside a runner, with no runtime token', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'upload-artifact': 'true' }) });
    await expectStopBeforeAnyRequest(
      run,
      /ACTIONS_RUNTIME_TOKEN is not set: artifact uploads work only inside a GitHub Actions runner/
    );
  });
});

describe('retention-days above 90', () => {
  it.each([
    ['90', 90],
    ['400', 400]
  ])(
    '365 with a repository maximum of %s days: kept for the lesser, and the host deregistered',
    async (limit, days) => {
      // Passed on, as actions/upload-artifact passes it; @actions/artifact's warning with it.
      immuta = await startImmutaStandIn();
      service = await startArtifactService({ azurite });
      const run = await runAction({
        inputs: withArtifact({ 'retention-days': '365' }),
        env: { ...service.env(), GITHUB_RETENTION_DAYS: limit }
      });
      expect(run.code).toBe(0);
      expect(run.outputs.status).toBe('deregistered');
      const [stored] = service.artifacts;
      const kept = (Date.parse(stored!.expires_at!) - Date.now()) / 86_400_000;
      const expected = Math.min(days, 365);
      expect(kept).toBeGreaterThan(expected - 0.1);
      expect(kept).toBeLessThanOrEqual(expected);
      if (days < 365) {
        expect(run.warnings).toContain(
          `Retention days cannot be greater than the maximum allowed retention set within the repository. Using ${days} instead.`
        );
      } else expect(run.warnings).toEqual([]);
    }
  );
});
