// Findings of an outside attack on the bundled action (dist/index.js run as a process), kept as
// tests: each failed on the action as it stood then.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import {
  defaultState,
  startImmutaStandIn,
  type ImmutaStandIn
} from '../support/immuta-stand-in.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type SnowflakeStandIn
} from '../support/warehouse-stand-ins.mjs';
import { runAction } from '../support/run-action.mjs';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { stepInputs } from '../support/inputs.js';

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});

let azurite: Azurite;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function immutaWith(state = defaultState()): Promise<ImmutaStandIn> {
  const standIn = await startImmutaStandIn({ state });
  closers.push(() => standIn.close());
  return standIn;
}

async function service(faults: Record<string, unknown> = {}): Promise<ArtifactService> {
  const s = await startArtifactService({ azurite, faults: faults as never });
  closers.push(() => s.close());
  return s;
}

async function snowflake(options: { failOn?: RegExp } = {}): Promise<SnowflakeStandIn> {
  const standIn = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'IMMUTA_CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  closers.push(() => standIn.close());
  return standIn;
}

function snowflakeStep(immuta: ImmutaStandIn, warehouse: SnowflakeStandIn, extra = {}) {
  return stepInputs(immuta, {
    'upload-artifact': 'true',
    'if-missing': 'warn',
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': warehouse.url,
    'snowflake-user': 'immuta_cleanup',
    'snowflake-private-key': keys.privateKey,
    ...extra
  });
}

/** The cleanup scripts the warehouse was sent (not the pre-flight SELECT 1). */
const scriptsSent = (w: SnowflakeStandIn) => w.scripts.filter((s) => s !== 'SELECT 1');

describe('a neighbouring job never runs another host’s script', () => {
  it('a matrix leg whose host is already gone does not run the script another tenant’s leg kept under the same artifact name', async () => {
    // A matrix over two tenants (staging and prod), one connection key: the legs share GITHUB_JOB
    // and the default artifact name. Staging's host is there; prod's was deleted by hand earlier.
    const stagingState = defaultState();
    stagingState.integrations[1].script =
      'USE ROLE ACCOUNTADMIN;\nDROP DATABASE IF EXISTS IMMUTA_STAGING;\nDROP USER IF EXISTS IMMUTA_STAGING_SYSTEM;\n';
    const staging = await immutaWith(stagingState);
    const prod = await immutaWith();
    delete prod.state.hosts['snowflake-prod'];
    const artifacts = await service();
    const env = { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' };

    const stagingWarehouse = await snowflake();
    const stagingLeg = await runAction({
      inputs: snowflakeStep(staging, stagingWarehouse),
      env
    });
    expect(stagingLeg.code).toBe(0);
    expect(stagingLeg.outputs).toMatchObject({ deleted: 'true', 'script-status': 'ran' });

    const prodWarehouse = await snowflake();
    const prodLeg = await runAction({ inputs: snowflakeStep(prod, prodWarehouse), env });
    expect(prodLeg.outputs.status).toBe('already-absent');
    // Staging's cleanup script (another tenant's host) must never reach prod's warehouse, and
    // prod's leg must not claim its cleanup ran.
    expect(scriptsSent(prodWarehouse)).toEqual([]);
    expect(prodLeg.outputs['script-status']).not.toBe('ran');
    expect(prodLeg.outputs['script-status']).not.toBe('already-ran');
  }, 120_000);

  it('a re-run of a matrix leg whose host is already gone does not report as already-ran a script another tenant’s leg ran elsewhere', async () => {
    // Two tenants whose integration 1 yields the same script text; one key; legs share
    // GITHUB_JOB and the default artifact name. Staging's leg ran its script in staging's
    // warehouse; prod's host is gone and its cleanup never ran.
    const staging = await immutaWith();
    const prod = await immutaWith();
    delete prod.state.hosts['snowflake-prod'];
    const artifacts = await service();
    const stagingWarehouse = await snowflake();
    const stagingLeg = await runAction({
      inputs: snowflakeStep(staging, stagingWarehouse),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' }
    });
    expect(stagingLeg.outputs['script-status']).toBe('ran');

    const prodWarehouse = await snowflake();
    const prodLeg = await runAction({
      inputs: snowflakeStep(prod, prodWarehouse),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'deregister' }
    });
    expect(prodLeg.outputs.status).toBe('already-absent');
    // Nothing ran in prod's warehouse, in this attempt or any other: "already-ran" with 6
    // statements would tell the user prod is clean when it is not.
    expect(prodLeg.outputs['script-status']).not.toBe('already-ran');
    expect(prodLeg.log).not.toMatch(/Attempt 1 of this workflow run ran this cleanup script/);
  }, 120_000);

  it('a matrix leg never deletes the artifact another leg uploaded in the same attempt, even one holding the same script', async () => {
    // Two tenants whose integration 1 yields the same script text; one key; the legs share
    // GITHUB_JOB and the default artifact name, and run in the same (first) attempt.
    const staging = await immutaWith();
    const prod = await immutaWith();
    const artifacts = await service();
    const env = { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' };
    const stagingLeg = await runAction({
      inputs: stepInputs(staging, { 'upload-artifact': 'true' }),
      env
    });
    expect(stagingLeg.code).toBe(0);
    const stagingArtifactId = stagingLeg.outputs['artifact-id'];
    expect(stagingArtifactId).toMatch(/^\d+$/);

    const prodLeg = await runAction({
      inputs: stepInputs(prod, { 'upload-artifact': 'true' }),
      env
    });
    // No earlier attempt uploaded staging's artifact: it is not prod's to replace. Staging's
    // artifact-id output (what a later job downloads by) must still name an artifact.
    expect(prodLeg.log).not.toMatch(/Replaced artifact .* left by an earlier attempt/);
    expect(artifacts.calls.filter((c) => c.method === 'DeleteArtifact')).toEqual([]);
    expect(artifacts.artifacts.map((a) => a.database_id)).toContain(stagingArtifactId);
  }, 120_000);

  it('the first attempt of a job never runs a script that another job of the run kept for a host of the same key', async () => {
    // Job "other" (another tenant, or any job naming the same key) keeps a script under the
    // default name. The deregister job, in the run's first attempt, finds its host gone: no
    // earlier attempt of it exists, so no kept script can be its own.
    const otherState = defaultState();
    otherState.integrations[1].script = 'GRANT ROLE ACCOUNTADMIN TO USER MALLORY;\n';
    const other = await immutaWith(otherState);
    const tenant = await immutaWith();
    delete tenant.state.hosts['snowflake-prod'];
    const artifacts = await service();
    const otherJob = await runAction({
      inputs: stepInputs(other, { 'upload-artifact': 'true' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'other' }
    });
    expect(otherJob.code).toBe(0);

    const warehouse = await snowflake();
    const run = await runAction({
      inputs: snowflakeStep(tenant, warehouse),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' }
    });
    expect(run.outputs.status).toBe('already-absent');
    expect(scriptsSent(warehouse)).toEqual([]);
    expect(run.outputs['script-status']).not.toBe('ran');
  }, 120_000);
});

describe('a re-run never runs the script twice', () => {
  it('after Snowflake’s answer to the script was lost, the re-run does not send it again under a new requestId', async () => {
    const tenant = await immutaWith();
    const artifacts = await service();
    // One Snowflake account for both attempts, as in life.
    const warehouse = await snowflake();
    // Snowflake takes the script, and the answer is lost on the way back.
    warehouse.fault({
      method: 'POST',
      path: /^\/api\/v2\/statements$/,
      times: 1,
      resetAfterHandling: true
    });
    const first = await runAction({
      inputs: snowflakeStep(tenant, warehouse, { 'max-attempts': '1' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' }
    });
    expect(first.code).toBe(1);
    expect(first.outputs.deleted).toBe('true');
    // Snowflake accepted (and so runs) the script once.
    expect([...warehouse.executions.values()].reduce((a, b) => a + b, 0)).toBe(1);

    // "Re-run failed jobs".
    const second = await runAction({
      inputs: snowflakeStep(tenant, warehouse),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'deregister' }
    });
    expect(second.outputs.status).toBe('already-absent');
    // The statement Snowflake already took is not executed a second time: the re-run asks
    // Snowflake about the first request (same requestId, retry=true), then goes on.
    expect(second.code).toBe(0);
    expect([...warehouse.executions.values()].every((n) => n === 1)).toBe(true);
    expect(warehouse.ranTexts.filter((t) => t.startsWith('DROP DATABASE'))).toHaveLength(1);
  }, 120_000);
});

describe('a dry run never runs the script', () => {
  it('"Re-run all jobs" after the apply job’s script failed: the dry-run preview job runs none of it', async () => {
    // One workflow: a preview job (dry run, run-script for its pre-flight check and the list of
    // statements, if-missing: warn so that a re-run previews what is left) and an apply job.
    const tenant = await immutaWith();
    const artifacts = await service();
    const warehouse = await snowflake({ failOn: /DROP USER/ });
    const preview = await runAction({
      inputs: snowflakeStep(tenant, warehouse, { 'dry-run': 'true' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'preview' }
    });
    expect(preview.code).toBe(0);
    expect(preview.outputs['script-status']).toBe('skipped');
    const apply = await runAction({
      inputs: snowflakeStep(tenant, warehouse),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'apply' }
    });
    expect(apply.code).toBe(1);
    expect(apply.outputs).toMatchObject({ deleted: 'true', 'script-status': 'failed' });
    // The role the script lacked is granted (a new stand-in: one that no longer fails).
    const fixed = await snowflake();

    // "Re-run all jobs": the preview job runs first, as a dry run, and finds the host gone.
    const rerunPreview = await runAction({
      inputs: snowflakeStep(tenant, fixed, { 'dry-run': 'true' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'preview' }
    });
    expect(rerunPreview.outputs.status).toBe('already-absent');
    expect(scriptsSent(fixed)).toEqual([]);
    expect(rerunPreview.outputs['script-status']).toBe('skipped');
  }, 120_000);

  it('a dry run whose host an earlier attempt deleted lists the kept script and runs none of it', async () => {
    const tenant = await immutaWith();
    const artifacts = await service();
    const warehouse = await snowflake();
    // Attempt 1 deleted the host and kept the script, without running it.
    const first = await runAction({
      inputs: stepInputs(tenant, { 'upload-artifact': 'true' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' }
    });
    expect(first.outputs.deleted).toBe('true');
    const dry = await runAction({
      inputs: snowflakeStep(tenant, warehouse, { 'dry-run': 'true' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'deregister' }
    });
    expect(dry.code).toBe(0);
    expect(scriptsSent(warehouse)).toEqual([]);
    expect(dry.outputs['script-status']).toBe('skipped');
    expect(dry.outputs['statements-run']).toBe('0');
  }, 120_000);
});

describe('a dry run never runs the script on Databricks either', () => {
  it('a dry run whose host an earlier attempt deleted does not send DROP CATALOG … CASCADE', async () => {
    const tenant = await immutaWith();
    const artifacts = await service();
    const databricks = await startDatabricksStandIn({
      token: 'dapi-token-1234567890',
      warehouseId: 'wh1'
    });
    closers.push(() => databricks.close());
    // Immuta's record names the stand-in's workspace, and attempt 1's report keeps it.
    tenant.placeHost('databricks-uc', databricks.url);
    const first = await runAction({
      inputs: stepInputs(tenant, { 'connection-key': 'databricks-uc', 'upload-artifact': 'true' }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '1', GITHUB_JOB: 'deregister' }
    });
    expect(first.outputs.deleted).toBe('true');
    const dry = await runAction({
      inputs: stepInputs(tenant, {
        'connection-key': 'databricks-uc',
        'upload-artifact': 'true',
        'if-missing': 'warn',
        'dry-run': 'true',
        'run-script': 'databricks',
        'databricks-host': databricks.url,
        'databricks-token': 'dapi-token-1234567890',
        'databricks-warehouse-id': 'wh1'
      }),
      env: { ...artifacts.env(), GITHUB_RUN_ATTEMPT: '2', GITHUB_JOB: 'deregister' }
    });
    expect(dry.code).toBe(0);
    expect(databricks.executed.filter((s) => s !== 'SELECT 1')).toEqual([]);
    expect(dry.outputs['script-status']).toBe('skipped');
  }, 120_000);
});

describe('summary-script: false keeps the script out of the job summary', () => {
  it('a failing statement that names a user is not quoted in the summary when summary-script is false', async () => {
    const tenant = await immutaWith();
    // Statement 5 is REVOKE ROLE IMMUTA_SNOWFLAKE_ROLE FROM USER "ops@example.com".
    const warehouse = await startSnowflakeStandIn({
      account: 'XY12345',
      user: 'IMMUTA_CLEANUP',
      publicKey: keys.publicKey,
      failOn: /^REVOKE ROLE/
    });
    closers.push(() => warehouse.close());
    const run = await runAction({
      inputs: snowflakeStep(tenant, warehouse, {
        'upload-artifact': 'false',
        'summary-script': 'false'
      })
    });
    expect(run.code).toBe(1);
    expect(run.outputs['script-status']).toBe('failed');
    // The summary outlives the artifact; with summary-script: false the script's text, the
    // users and roles it names included, stays in the file and the artifact only.
    expect(run.summary).not.toContain('ops@example.com');
    expect(run.summary).not.toMatch(/REVOKE ROLE/);
  }, 60_000);
});

describe('bad warehouse input stops the step before any request', () => {
  it.each([
    ['a cluster’s HTTP path', '/sql/protocolv1/o/1234567890/0123-456789-abcdefgh'],
    [
      'a path that climbs out of /sql/1.0/warehouses',
      '/sql/1.0/warehouses/../../../api/2.0/clusters/delete'
    ],
    ['an ID followed by more path', 'abc123/../../api/2.0/clusters/delete']
  ])(
    'databricks-warehouse-id holding %s is refused, naming the input, with nothing sent',
    async (_what, value) => {
      const tenant = await immutaWith();
      const databricks = await startDatabricksStandIn({
        token: 'dapi-token-1234567890',
        warehouseId: 'abc123'
      });
      closers.push(() => databricks.close());
      tenant.placeHost('databricks-uc', databricks.url);
      const run = await runAction({
        inputs: stepInputs(tenant, {
          'connection-key': 'databricks-uc',
          'run-script': 'databricks',
          'databricks-host': databricks.url,
          'databricks-token': 'dapi-token-1234567890',
          'databricks-warehouse-id': value,
          'dry-run': 'true'
        })
      });
      expect(run.code).toBe(1);
      expect(run.errors[0]).toMatch(/Input 'databricks-warehouse-id'/);
      expect(tenant.requests).toEqual([]);
      expect(databricks.requests).toEqual([]);
    },
    60_000
  );
});
