import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import {
  startImmutaStandIn,
  snowflakeScript,
  databricksScript
} from '../support/immuta-stand-in.mjs';
import { startArtifactService } from '../support/artifact-service-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';
import { unzip } from '../support/unzip.js';

type StandIn = Awaited<ReturnType<typeof startImmutaStandIn>>;
type Service = Awaited<ReturnType<typeof startArtifactService>>;
let immuta: StandIn | undefined;
let service: Service | undefined;
afterEach(async () => {
  await immuta?.close();
  await service?.close();
  immuta = service = undefined;
});

const NAME = 'immuta-cleanup-script-snowflake-prod';

describe('the cleanup script as a workflow artifact', () => {
  it('uploads the script before the delete and links it', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'upload-artifact': 'true', 'retention-days': '5' }),
      env: service.env()
    });
    expect(run.code).toBe(0);
    const stored = service.artifacts.find((a) => a.name === NAME)!;
    expect(stored.finalized).toBe(true);
    expect(run.outputs['artifact-id']).toBe(stored.database_id);
    expect(run.outputs['artifact-url']).toBe(
      `https://github.com/acme/data-platform/actions/runs/4242/artifacts/${stored.database_id}`
    );
    const files = unzip(service.zipOf(NAME)!);
    expect([...files.keys()]).toEqual(['immuta-cleanup-snowflake-prod.sql']);
    expect(files.get('immuta-cleanup-snowflake-prod.sql')!.toString('utf8')).toBe(
      snowflakeScript(1)
    );
    const days = (Date.parse(stored.expires_at!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(4.9);
    expect(days).toBeLessThanOrEqual(5);
    expect(run.summary).toContain(`[${stored.database_id}](${run.outputs['artifact-url']})`);
    expect(run.log.indexOf('Uploaded the cleanup script as artifact')).toBeLessThan(
      run.log.indexOf('Deregistered host')
    );
  });

  it('replaces an artifact of the same name from an earlier attempt, then deletes', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService();
    // The first attempt kept the script, then failed at the delete.
    immuta.fault({ method: 'DELETE', status: 500, body: '{"message":"database busy"}' });
    const first = await runAction({
      inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
      env: service.env()
    });
    expect(first.code).toBe(1);
    expect(service.artifacts.filter((a) => a.name === NAME)).toHaveLength(1);

    const second = await runAction({
      inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
      env: service.env()
    });
    expect(second.code).toBe(0);
    expect(second.outputs.status).toBe('deregistered');
    expect(service.calls.map((c) => c.method)).toContain('DeleteArtifact');
    const left = service.artifacts.filter((a) => a.name === NAME);
    expect(left).toHaveLength(1);
    expect(second.outputs['artifact-id']).toBe(left[0].database_id);
    expect(second.outputs['artifact-id']).not.toBe(first.outputs['artifact-id']);
  });

  it('gives each host of a matrix its own artifact in the same run', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService();
    const [a, b] = await Promise.all(
      ['snowflake-prod', 'databricks-uc'].map((key) =>
        runAction({
          inputs: stepInputs(immuta!, { 'upload-artifact': 'true', 'connection-key': key }),
          env: service!.env()
        })
      )
    );
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(service.artifacts.map((x) => x.name).sort()).toEqual([
      'immuta-cleanup-script-databricks-uc',
      NAME
    ]);
    expect(
      unzip(service.zipOf('immuta-cleanup-script-databricks-uc')!)
        .get('immuta-cleanup-databricks-uc.sql')!
        .toString()
    ).toBe(databricksScript(2));
  });
});

describe('when the artifact cannot be kept, nothing is deleted', () => {
  async function expectNoDelete(run: Awaited<ReturnType<typeof runAction>>, why: RegExp) {
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(why);
    expect(run.errors.at(-1)).toMatch(
      /Nothing was deleted; the script is saved at .*set upload-artifact: false/
    );
    expect(immuta!.sent('DELETE')).toHaveLength(0);
    expect(await fs.readFile(run.outputs['script-path'], 'utf8')).toBe(snowflakeScript(1));
    expect(run.outputs.script).toBe(snowflakeScript(1));
  }

  it('the results service refuses CreateArtifact', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ faults: { CreateArtifact: 403 } });
    const run = await runAction({
      inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
      env: service.env()
    });
    await expectNoDelete(
      run,
      /Failed to CreateArtifact: Received non-retryable error: Failed request: \(403\)/
    );
  });

  it('the blob store refuses the upload', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ faults: { blob: 403 } });
    const run = await runAction({
      inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
      env: service.env()
    });
    await expectNoDelete(
      run,
      /Uploading the cleanup script as artifact 'immuta-cleanup-script-snowflake-prod' failed/
    );
  });

  it('GitHub Enterprise Server fails up front', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService();
    const run = await runAction({
      inputs: stepInputs(immuta, { 'upload-artifact': 'true' }),
      env: { ...service.env(), GITHUB_SERVER_URL: 'https://github.acme-corp.internal' }
    });
    await expectNoDelete(
      run,
      /looks like GitHub Enterprise Server \(https:\/\/github\.acme-corp\.internal\), where artifacts v2\+ are not available/
    );
    expect(service.calls).toEqual([]);
  });

  it('outside a runner, with no runtime token', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'upload-artifact': 'true' }) });
    await expectNoDelete(run, /ACTIONS_RUNTIME_TOKEN is not set/);
  });
});
