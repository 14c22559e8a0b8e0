// "Re-run all jobs" and "Re-run failed jobs" start a new attempt of the same workflow run, which
// sees the artifacts of earlier attempts; the jobs of a matrix are neighbours in one run and may
// share an artifact name. Step 3 never runs twice, and never runs another host's script.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  startImmutaStandIn,
  snowflakeScript,
  type ImmutaStandIn as StandIn
} from '../support/immuta-stand-in.mjs';
import { startSnowflakeStandIn, type SnowflakeStandIn } from '../support/warehouse-stand-ins.mjs';
import { runAction } from '../support/run-action.mjs';
import {
  startArtifactService,
  startAzurite,
  type ArtifactService,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { stepInputs } from '../support/inputs.js';
import { zip } from '../support/zip.js';
import { unzip } from '../support/unzip.js';
import { recordName } from '../../src/step3/record.js';
import { SNOWFLAKE_DROPS as DROPS } from '../support/stand-ins.js';

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});

let azurite: Azurite;
let immuta: StandIn | undefined;
let service: ArtifactService | undefined;
const warehouses: SnowflakeStandIn[] = [];
beforeAll(async () => (azurite = await startAzurite()), 60_000);
afterAll(async () => azurite?.stop());
afterEach(async () => {
  await immuta?.close();
  await service?.close();
  for (const w of warehouses.splice(0)) await w.close();
  immuta = service = undefined;
});

async function snowflake(options: { failOn?: RegExp } = {}): Promise<SnowflakeStandIn> {
  const standIn = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'IMMUTA_CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  warehouses.push(standIn);
  return standIn;
}

function inputs(warehouseUrl: string, extra: Record<string, string> = {}) {
  return stepInputs(immuta!, {
    'upload-artifact': 'true',
    'if-missing': 'warn',
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': warehouseUrl,
    'snowflake-user': 'immuta_cleanup',
    'snowflake-private-key': keys.privateKey,
    ...extra
  });
}

const attempt = (n: number, job = 'deregister') => ({
  ...service!.env(),
  GITHUB_RUN_ATTEMPT: String(n),
  GITHUB_JOB: job
});

/** The statements of the script that took effect in the warehouse, in order. */
const scriptsRun = (w: SnowflakeStandIn) => w.ranTexts;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** An artifact as an earlier attempt of the action leaves it: the script and its report. */
function keptArtifact(key: string, script: string, recorded: Record<string, unknown> = {}) {
  const file = `immuta-cleanup-${key}.sql`;
  const report = {
    kind: 'immuta-deregister-host/report',
    version: 1,
    tenant: immuta!.url,
    job: 'deregister',
    attempt: '1',
    dryRun: false,
    stage: 'before-delete',
    startedAt: new Date().toISOString(),
    writtenAt: new Date().toISOString(),
    hosts: [
      {
        connectionKey: key,
        integrationId: 1,
        technology: 'Snowflake',
        hostname: 'acme-prod.snowflakecomputing.com',
        status: 'kept',
        deleted: false,
        childCount: null,
        scriptFile: file,
        scriptSha256: sha256(script),
        timings: {},
        error: null,
        ...recorded
      }
    ]
  };
  return zip([
    { name: file, data: Buffer.from(script) },
    { name: `immuta-cleanup-${key}.report.json`, data: Buffer.from(JSON.stringify(report)) }
  ]);
}

describe('a re-run after the script ran runs nothing again', () => {
  it('attempts 2 and 3 say attempt 1 ran it, exit 0, and send nothing to Snowflake', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const first = await snowflake();
    const one = await runAction({ inputs: inputs(first.url), env: attempt(1) });
    expect(one.code).toBe(0);
    expect(one.outputs).toMatchObject({ deleted: 'true', 'script-status': 'ran' });
    expect(scriptsRun(first)).toEqual(DROPS);
    // What step 3 did is in records of its own (one before the first statement, one after each),
    // next to the script's artifact, which stays as it was.
    const names = service.artifacts.map((a) => a.name);
    expect(names.filter((n) => !n.startsWith('immuta-step3-'))).toEqual([
      'immuta-cleanup-script-snowflake-prod'
    ]);
    expect(names.filter((n) => n.startsWith('immuta-step3-'))).toHaveLength(7);
    const scriptArtifact = service.artifacts.find(
      (a) => a.name === 'immuta-cleanup-script-snowflake-prod'
    )!;

    for (const n of [2, 3]) {
      const again = await snowflake();
      const rerun = await runAction({ inputs: inputs(again.url), env: attempt(n) });
      expect(rerun.code).toBe(0);
      expect(rerun.outputs).toMatchObject({
        status: 'already-absent',
        deleted: 'false',
        'script-status': 'already-ran',
        'statements-run': '6'
      });
      expect(rerun.log).toMatch(
        /Attempt 1 of this workflow run ran this cleanup script in Snowflake \(artifact 'immuta-cleanup-script-snowflake-prod' \(ID \d+\)\); nothing ran again\./
      );
      expect(rerun.summary).toContain('Cleanup script in Snowflake: already ran');
      expect(scriptsRun(again)).toEqual([]);
    }
    // Nothing was deleted or replaced: the script's artifact is the one attempt 1 uploaded.
    expect(service.calls.filter((c) => c.method === 'DeleteArtifact')).toEqual([]);
    expect(
      service.artifacts.filter((a) => a.name === 'immuta-cleanup-script-snowflake-prod')
    ).toEqual([scriptArtifact]);
  }, 120_000);

  it('a re-run of another run does not read this run’s records', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const first = await snowflake();
    expect((await runAction({ inputs: inputs(first.url), env: attempt(1) })).code).toBe(0);
    const other = await snowflake();
    const run = await runAction({
      inputs: inputs(other.url),
      env: { ...service.env('another-run'), GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('skipped');
    expect(other.requests).toEqual([]);
  }, 60_000);
});

describe('"Re-run failed jobs" with the inputs of the first attempt (if-missing: error)', () => {
  it('goes on to step 3 when an earlier attempt kept this host’s script: a re-run cannot change its inputs', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const first = await snowflake({ failOn: /^DROP USER/ });
    const strict = (url: string) => ({ ...inputs(url), 'if-missing': 'error' });
    const one = await runAction({ inputs: strict(first.url), env: attempt(1) });
    expect(one.code).toBe(1);
    expect(one.outputs).toMatchObject({ deleted: 'true', 'script-status': 'failed' });

    const again = await snowflake();
    const two = await runAction({ inputs: strict(again.url), env: attempt(2) });
    expect(two.code).toBe(0);
    expect(two.outputs).toMatchObject({ status: 'already-absent', 'script-status': 'ran' });
    expect(two.log).toMatch(
      /Host 'snowflake-prod' is gone: attempt 1 of this workflow run kept its cleanup script and record \(artifact 'immuta-cleanup-script-snowflake-prod' \(ID \d+\)\) just before deleting it, so it counts as deleted since then, whatever if-missing says\./
    );
    // Attempt 1 ran statements 1 and 2; this one went on at statement 3.
    expect(scriptsRun(again)).toEqual(DROPS.slice(1));
  }, 60_000);

  it('still fails for a host no earlier attempt kept a script of (a misspelt key)', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    await service.plant(
      'immuta-cleanup-script-snowflake-typo',
      keptArtifact('snowflake-prod', snowflakeScript(1))
    );
    const w = await snowflake();
    const run = await runAction({
      inputs: { ...inputs(w.url), 'if-missing': 'error', 'connection-key': 'snowflake-typo' },
      env: attempt(2)
    });
    expect(run.code).toBe(1);
    expect(run.errors).toContainEqual(expect.stringMatching(/Immuta has no host 'snowflake-typo'/));
    expect(w.requests).toEqual([]);
  }, 60_000);
});

describe('a neighbouring job never runs another host’s script', () => {
  it('job B, whose host is absent, finds job A’s artifact of the same name and runs nothing', async () => {
    immuta = await startImmutaStandIn();
    service = await startArtifactService({ azurite });
    const a = await snowflake();
    const jobA = await runAction({
      inputs: inputs(a.url, { 'artifact-name': 'cleanup' }),
      env: attempt(1, 'retire-a')
    });
    expect(jobA.code).toBe(0);
    const b = await snowflake();
    const jobB = await runAction({
      inputs: inputs(b.url, { 'artifact-name': 'cleanup', 'connection-key': 'snowflake-typo' }),
      env: attempt(1, 'retire-b')
    });
    expect(jobB.code).toBe(0);
    expect(jobB.outputs).toMatchObject({ status: 'already-absent', 'script-status': 'skipped' });
    expect(jobB.warnings).toContainEqual(
      expect.stringMatching(
        /nothing ran in Snowflake, because artifact 'cleanup' \(ID \d+\) holds the script of host 'snowflake-prod', not of 'snowflake-typo': another job of this run uses the same artifact-name/
      )
    );
    expect(b.requests.filter((r) => r.method === 'POST' && /statements$/.test(r.path))).toEqual([]);
  }, 60_000);

  it('a script that is not the one its record names is not run', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    const planted = keptArtifact('snowflake-prod', snowflakeScript(1), {
      scriptSha256: sha256('DROP DATABASE SOMETHING_ELSE;')
    });
    await service.plant('immuta-cleanup-script-snowflake-prod', planted);
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('skipped');
    expect(run.warnings).toContainEqual(
      expect.stringMatching(/is not the one its record names .*: it was changed after it was kept/)
    );
    expect(scriptsRun(w)).toEqual([]);
  }, 60_000);

  it('an artifact without a record of its host (an older version’s) is not run', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      zip([{ name: 'immuta-cleanup-snowflake-prod.sql', data: Buffer.from(snowflakeScript(1)) }])
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    expect(run.code).toBe(0);
    expect(run.warnings).toContainEqual(
      expect.stringMatching(/holds no record of which host its script belongs to/)
    );
    expect(scriptsRun(w)).toEqual([]);
  }, 60_000);

  it('the platform guard uses the recorded technology: a Databricks script never reaches Snowflake', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      keptArtifact('snowflake-prod', 'DROP CATALOG IF EXISTS immuta CASCADE;\n', {
        technology: 'Databricks'
      })
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    expect(run.code).toBe(1);
    expect(run.errors).toContainEqual(
      expect.stringMatching(
        /run-script is snowflake, but the script in artifact .* was kept for a Databricks host\. Nothing ran\./
      )
    );
    expect(scriptsRun(w)).toEqual([]);
  }, 60_000);
  it('finds the script under the job’s own artifact name when the shared one is not this host’s', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    // The shared name holds a neighbour's script; this job kept its own under <name>-<job>.
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      keptArtifact('snowflake-dev', 'DROP DATABASE DEV_ONLY;\n')
    );
    await service.plant(
      'immuta-cleanup-script-snowflake-prod-deregister',
      keptArtifact('snowflake-prod', snowflakeScript(1))
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
    expect(run.log).toMatch(
      /Running the cleanup script that an earlier attempt kept in artifact 'immuta-cleanup-script-snowflake-prod-deregister'/
    );
    expect(scriptsRun(w)).toEqual(DROPS);
  }, 60_000);
});

describe('a re-run that finds the script an earlier attempt kept, and no record of step 3', () => {
  it('runs it from statement 1: the first record is written before the first statement, so none ran', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      keptArtifact('snowflake-prod', snowflakeScript(1))
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
    expect(run.log).toMatch(
      /Running the cleanup script that an earlier attempt kept in artifact .*: no attempt started it \(no record of step 3\), so it runs from statement 1\./
    );
    // The record proves attempt 1 deleted the host: no warning says it is missing.
    expect(run.warnings).toEqual([]);
    expect(run.log).toMatch(/Host 'snowflake-prod' is gone: attempt 1 of this workflow run kept/);
    expect(scriptsRun(w)).toEqual(DROPS);
    // Its own records make a third attempt stop.
    const third = await snowflake();
    const again = await runAction({ inputs: inputs(third.url), env: attempt(3) });
    expect(again.outputs['script-status']).toBe('already-ran');
    expect(again.log).toMatch(/Attempt 2 of this workflow run ran this cleanup script/);
    expect(scriptsRun(third)).toEqual([]);
  }, 60_000);

  it('a download of the earlier records that fails runs nothing and fails the step', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    // The script's download works; the record's (the second download) is refused.
    let downloads = 0;
    const faults = {};
    Object.defineProperty(faults, 'GetSignedArtifactURL', {
      enumerable: true,
      get: () => (++downloads > 1 ? 403 : undefined)
    });
    service = await startArtifactService({ azurite, faults });
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      keptArtifact('snowflake-prod', snowflakeScript(1))
    );
    const name = recordName(
      {
        tenant: immuta.url,
        job: 'deregister',
        connectionKey: 'snowflake-prod',
        platform: 'snowflake',
        runId: '4242',
        scriptArtifact: 'immuta-cleanup-script-snowflake-prod',
        scriptSha256: sha256(snowflakeScript(1))
      },
      1,
      0
    );
    await service.plant(
      name,
      zip([{ name: 'immuta-cleanup-snowflake-prod.step3-record.json', data: Buffer.from('{}') }])
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    expect(run.code).toBe(1);
    expect(run.errors).toContainEqual(
      expect.stringMatching(
        /Reading what earlier attempts of this run did in Snowflake failed: .*Nothing ran, so that nothing runs twice/
      )
    );
    expect(scriptsRun(w)).toEqual([]);
  }, 60_000);
});

describe('a kept script read back must be what was kept', () => {
  it('a re-run whose kept artifact does not match its listed digest runs nothing, and says why', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    const planted = keptArtifact('snowflake-prod', snowflakeScript(1));
    const listed = `sha256:${sha256('what was uploaded')}`;
    const id = await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      planted,
      undefined,
      undefined,
      {
        digest: listed
      }
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    // A kept script that cannot be read back as it was kept fails the re-run: it never goes green
    // with the script never run.
    expect(run.code).toBe(1);
    expect(run.outputs['script-status']).toBe('skipped');
    expect(run.errors).toContainEqual(
      expect.stringContaining(
        `Looking for the cleanup script an earlier attempt of this run kept failed: artifact ${id} does not match the digest the results service lists for it (${listed})`
      )
    );
    expect(run.errors.join('\n')).toContain('which no re-run repairs');
    expect(w.requests).toEqual([]);
  }, 60_000);

  it('a re-run whose kept artifact holds the script twice, another host’s copy last, runs nothing', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    service = await startArtifactService({ azurite });
    const file = 'immuta-cleanup-snowflake-prod.sql';
    const honest = unzip(keptArtifact('snowflake-prod', snowflakeScript(1)));
    await service.plant(
      'immuta-cleanup-script-snowflake-prod',
      zip([
        ...[...honest].map(([name, data]) => ({ name, data })),
        { name: file, data: Buffer.from('DROP DATABASE SOMEONE_ELSES;\n') }
      ])
    );
    const w = await snowflake();
    const run = await runAction({ inputs: inputs(w.url), env: attempt(2) });
    // A kept script that cannot be read back as it was kept fails the re-run: it never goes green
    // with the script never run.
    expect(run.code).toBe(1);
    expect(run.outputs['script-status']).toBe('skipped');
    expect(run.errors).toContainEqual(
      expect.stringMatching(/holds "immuta-cleanup-snowflake-prod.sql" more than once/)
    );
    expect(w.requests).toEqual([]);
  }, 60_000);
});
