// Issue 21, end to end: step 3 as the bundled action runs it, one statement a request, with its
// records, through the runner's real re-run semantics (a new GITHUB_RUN_ATTEMPT, a new job
// backend ID in ACTIONS_RUNTIME_TOKEN, the earlier attempts' artifacts visible). One warehouse
// stand-in lives across a test's attempts, as the account does: it remembers the request IDs it
// took. Each test is a way a script ran twice, was left stuck, or went green undone on 25613dc.
import { describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { snowflakeScript, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { type DatabricksStandIn, type SnowflakeStandIn } from '../support/warehouse-stand-ins.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import { type ArtifactService } from '../support/artifact-service-stand-in.mjs';
import { stepInputs, trail } from '../support/inputs.js';
import { attemptOf as attempt } from '../support/reruns.js';
import {
  databricksStep as keptDatabricksStep,
  snowflakeStep as keptSnowflakeStep,
  standIns
} from '../support/stand-ins.js';
import { unzip } from '../support/unzip.js';
import { zip } from '../support/zip.js';

const start = standIns();
const immutaWith = start.immuta;
const artifactService = start.artifacts;
const snowflake = start.snowflake;
const databricks = start.databricks;

function snowflakeStep(immuta: ImmutaStandIn, sf: SnowflakeStandIn, extra = {}) {
  return keptSnowflakeStep(immuta, sf, { 'if-missing': 'warn', ...extra });
}

function databricksStep(immuta: ImmutaStandIn, db: DatabricksStandIn, extra = {}) {
  return keptDatabricksStep(immuta, db, { 'if-missing': 'warn', ...extra });
}

/** The records of step 3 in the run, read back from the blob store, oldest first. */
async function records(service: ArtifactService) {
  const found = [];
  for (const a of service.artifacts.filter((a) => a.name.startsWith('immuta-step3-'))) {
    const files = unzip((await service.zipOf(a.name))!);
    const [text] = [...files.values()];
    found.push({ name: a.name, ...JSON.parse(text!.toString('utf8')) });
  }
  return found.sort((a, b) => a.attempt - b.attempt || a.sequence - b.sequence);
}

/** The statements of the stand-in's Snowflake script that change something, in order. */
const SNOWFLAKE_DROPS = [
  'DROP DATABASE IF EXISTS IMMUTA_SYSTEM',
  'DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT',
  'DROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE',
  'REVOKE ROLE IMMUTA_SNOWFLAKE_ROLE FROM USER "ops@example.com"',
  'EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE IF EXISTS IMMUTA_WH; END; $$'
];

/**
 * Resolves once the warehouse stand-in sees the first poll of the statement's request, from a
 * request that came now or later (not one an earlier attempt sent).
 */
async function firstPollOf(sf: SnowflakeStandIn, statement: string) {
  const since = Date.now();
  const post = await sf.waitFor(
    (r) =>
      r.at >= since &&
      r.method === 'POST' &&
      !r.check &&
      JSON.parse(r.body).statement.includes(statement)
  );
  return sf.waitFor((r) => r.method === 'GET' && !r.check && r.at >= post.at);
}

describe('a script never runs twice', () => {
  it('a matrix over two tenants with one key and one script: each leg records under a name of its own, and "Re-run all jobs" runs neither script again', async () => {
    const staging = await immutaWith();
    const prod = await immutaWith();
    const service = await artifactService();
    const [sfStaging, sfProd] = [await snowflake(), await snowflake()];
    const leg = (immuta: ImmutaStandIn, sf: SnowflakeStandIn, n: number, name: string) =>
      runAction({
        inputs: snowflakeStep(immuta, sf),
        env: attempt(service, n, 'deregister', name)
      });

    for (const run of [
      await leg(staging, sfStaging, 1, 'staging'),
      await leg(prod, sfProd, 1, 'prod')
    ]) {
      expect(run.code).toBe(0);
      expect(run.outputs['script-status']).toBe('ran');
      // No record clashed with the other leg's, so nothing was said about one.
      expect(run.warnings).toEqual([]);
    }
    for (const run of [
      await leg(staging, sfStaging, 2, 'staging'),
      await leg(prod, sfProd, 2, 'prod')
    ]) {
      expect(run.code).toBe(0);
      expect(run.outputs).toMatchObject({
        status: 'already-absent',
        'script-status': 'already-ran'
      });
    }
    expect(sfStaging.ranTexts).toEqual(SNOWFLAKE_DROPS);
    expect(sfProd.ranTexts).toEqual(SNOWFLAKE_DROPS);
    // Each leg's records name its own tenant, under names no other leg or host uses.
    const written = await records(service);
    const byTenant = new Map<string, Set<string>>();
    for (const r of written)
      byTenant.set(r.tenant, (byTenant.get(r.tenant) ?? new Set()).add(r.name));
    expect([...byTenant.keys()].sort()).toEqual([prod.url, staging.url].sort());
    const [a, b] = [...byTenant.values()];
    expect([...a!].some((name) => b!.has(name))).toBe(false);
  }, 120_000);

  it('host snow beside host snow-script-run-1: the record of snow never takes the other host’s default artifact name, and a re-run of snow runs nothing again', async () => {
    const immuta = await immutaWith((state) => {
      state.hosts['snow'] = { ...state.hosts['snowflake-prod']!, nativeIntegrationId: 11 };
      state.hosts['snow-script-run-1'] = {
        ...state.hosts['snowflake-prod']!,
        nativeIntegrationId: 12
      };
      state.integrations[11] = { ...state.integrations[1]!, script: snowflakeScript(11) };
      state.integrations[12] = { ...state.integrations[1]!, script: snowflakeScript(12) };
    });
    const service = await artifactService();
    const sf = await snowflake();
    // Job B keeps snow-script-run-1's script under its default artifact name.
    const b = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': 'snow-script-run-1',
        'upload-artifact': 'true'
      }),
      env: attempt(service, 1, 'retire-b')
    });
    expect(b.code).toBe(0);
    expect(b.outputs['artifact-name']).toBe('immuta-cleanup-script-snow-script-run-1');
    const a1 = await runAction({
      inputs: snowflakeStep(immuta, sf, { 'connection-key': 'snow' }),
      env: attempt(service, 1, 'retire-a')
    });
    expect(a1.code).toBe(0);
    expect(a1.warnings).toEqual([]);
    const a2 = await runAction({
      inputs: snowflakeStep(immuta, sf, { 'connection-key': 'snow' }),
      env: attempt(service, 2, 'retire-a')
    });
    expect(a2.code).toBe(0);
    expect(a2.outputs['script-status']).toBe('already-ran');
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
    expect(
      service.artifacts.filter((x) => x.name === 'immuta-cleanup-script-snow-script-run-1')
    ).toHaveLength(1);
  }, 120_000);
});

describe('a record is written before the first statement and after each one', () => {
  it('the first record cannot be written: step 3 does not start, the step fails saying the script is kept, and a re-run runs it once', async () => {
    const immuta = await immutaWith();
    const faults: Record<string, unknown> = {
      CreateArtifact: (r: Record<string, unknown>) =>
        r.name === 'immuta-cleanup-script-snowflake-prod' ? undefined : 403
    };
    const service = await artifactService(faults);
    const sf = await snowflake();
    const first = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) });
    expect(first.code).toBe(1);
    expect(first.outputs).toMatchObject({ deleted: 'true' });
    expect(first.errors.at(-1)).toMatch(
      /Step 3 did not start: keeping its record before the first statement failed .*Nothing ran in Snowflake\. The cleanup script is kept \(artifact 'immuta-cleanup-script-snowflake-prod'\); a re-run of this job runs it\./
    );
    expect(sf.scripts).toEqual([]);

    delete faults.CreateArtifact;
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(second.outputs['script-status']).toBe('ran');
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 120_000);

  it('a record that cannot be written midway stops the step, failed: nothing more is sent, and a re-run settles the statement it was about to send and goes on', async () => {
    const immuta = await immutaWith();
    let uploads = 0;
    const faults: Record<string, unknown> = {
      CreateArtifact: (r: Record<string, unknown>) =>
        r.name !== 'immuta-cleanup-script-snowflake-prod' && ++uploads > 2 ? 403 : undefined
    };
    const service = await artifactService(faults);
    const sf = await snowflake();
    const first = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) });
    expect(first.code).toBe(1);
    expect(first.outputs['script-status']).toBe('failed');
    expect(first.errors.at(-1)).toMatch(
      /Keeping the record of step 3 failed .*it sent nothing more/
    );
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS.slice(0, 1));

    delete faults.CreateArtifact;
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 120_000);

  it('SIGINT from the runner mid-script: the statement in flight is cancelled on Snowflake and the record says so, within the grace period; a re-run sends it anew under a new request ID', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ neverEnds: /DROP USER/ });
    let signalled = 0;
    const first = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attempt(service, 1),
      onStart: (child) =>
        void firstPollOf(sf, SNOWFLAKE_DROPS[1]!).then(() => {
          signalled = Date.now();
          child.kill('SIGINT');
        })
    });
    const ended = Date.now();
    expect(signalled).toBeGreaterThan(0);
    // The runner sends SIGTERM 7.5 s after SIGINT and kills the process 2.5 s after that.
    expect(ended - signalled).toBeLessThan(7500);
    expect(first.code).toBe(1);
    expect(sf.cancels).toHaveLength(1);
    expect(first.errors.at(-1)).toMatch(
      /The job was cancelled \(SIGINT\)\. Statement 3 of 6 \(DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT\) was cancelled/
    );
    const last = (await records(service)).at(-1)!;
    expect(last.stop).toBe('cancelled');
    expect(last.statements[2]).toMatchObject({ outcome: 'cancelled', generation: 0 });
    const cancelledId = sf.requests.find(
      (r) =>
        r.method === 'POST' &&
        !r.check &&
        JSON.parse(r.body).statement.endsWith('DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT')
    )!.query!.requestId;

    sf.options.neverEnds = undefined;
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
    const again = sf.ran.find((r) => r.text.startsWith('DROP USER'))!;
    expect(again.requestId).not.toBe(cancelledId);
  }, 120_000);

  it('an attempt cut off while resuming, its statement still running: the next attempt asks Snowflake under that request ID, and the statement runs once', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ failOn: /DROP USER/, failTimes: 1 });
    expect(
      (await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) })).code
    ).toBe(1);

    // Attempt 2 resumes at statement 3, which runs for a while; the job is killed meanwhile.
    sf.options.slowOn = /DROP USER/;
    sf.options.slowMs = 4000;
    const second = await runAction({
      inputs: snowflakeStep(immuta, sf),
      env: attempt(service, 2),
      onStart: (child) =>
        void firstPollOf(sf, SNOWFLAKE_DROPS[1]!).then(() => child.kill('SIGKILL'))
    });
    expect(second.signal).toBe('SIGKILL');

    const third = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 3) });
    expect(third.code).toBe(0);
    expect(third.log).toMatch(
      /Statement 3 may have run in attempt 2: asking Snowflake how its request ended/
    );
    // One request ran DROP USER: attempt 3 was answered for attempt 2's, not run anew.
    const dropUser = sf.requests.filter(
      (r) =>
        r.method === 'POST' &&
        !r.check &&
        JSON.parse(r.body).statement.endsWith('DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT')
    );
    const ids = dropUser.map((r) => r.query!.requestId);
    expect(new Set(ids.slice(1)).size).toBe(1);
    expect(dropUser.at(-1)!.query!.retry).toBe('true');
    await new Promise((resolve) => setTimeout(resolve, 4500));
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 120_000);
});

describe('Snowflake re-runs converge', () => {
  it('a statement fails with the documented 422 100132 answer: the re-run sends it again as a new request, and the run converges', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ failOn: /DROP USER/, failTimes: 1 });
    const first = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) });
    expect(first.code).toBe(1);
    expect(first.outputs).toMatchObject({ 'script-status': 'failed', 'statements-run': '2' });
    expect(first.errors.at(-1)).toMatch(
      /Statement 3 of 6 \(DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT\) failed: JavaScript execution error: Uncaught Execution of multiple statements failed on statement "DROP USER IF EXISTS IMMUTA_SYS\.\.\." \(at line 2, position 0\)\. SQL compilation error: Role 'IMMUTA_SNOWFLAKE_ROLE' does not exist or not authorized\. \(100132\) Snowflake names the statement itself/
    );
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(second.outputs).toMatchObject({ 'script-status': 'ran', 'statements-run': '4' });
    const third = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 3) });
    expect(third.outputs['script-status']).toBe('already-ran');
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 120_000);

  it('after the action’s own cancel at script-timeout-seconds, the re-run sends the statement as a new request', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ neverEnds: /DROP USER/ });
    const step = () => snowflakeStep(immuta, sf, { 'script-timeout-seconds': '3' });
    const first = await runAction({ inputs: step(), env: attempt(service, 1) });
    expect(first.code).toBe(1);
    expect(sf.cancels).toHaveLength(1);
    sf.options.neverEnds = undefined;
    const second = await runAction({ inputs: step(), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(first.errors.at(-1)).toMatch(
      /Statement 3 of 6 .* was cancelled: It did not finish within script-timeout-seconds\. A cancel was sent to Snowflake; it ended cancelled/
    );
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 120_000);

  it('after "No active warehouse selected", the re-run sends the statement as a new request', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ noWarehouseTimes: 1 });
    const first = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) });
    expect(first.code).toBe(1);
    expect(first.errors.at(-1)).toMatch(/No active warehouse selected in the current session/);
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(second.outputs['script-status']).toBe('ran');
    expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
  }, 120_000);
});

describe('a 200 counts as "ran" only with the proof of what ran', () => {
  it.each([
    [
      'a bare {"code":"090001"}',
      () => ({ code: '090001', message: 'Statement executed successfully.' })
    ],
    [
      'no statementHandles for a multi-statement request',
      (handle: string) => ({
        code: '090001',
        statementHandle: handle,
        resultSetMetaData: { numRows: 1, format: 'jsonv2', rowType: [] },
        data: [['Multiple statements executed successfully.']]
      })
    ],
    [
      'fewer handles than statements',
      (handle: string) => ({
        code: '090001',
        statementHandle: handle,
        resultSetMetaData: { numRows: 1, format: 'jsonv2', rowType: [] },
        data: [['Multiple statements executed successfully.']],
        statementHandles: [randomUUID()]
      })
    ]
  ])(
    '%s: the statement is in doubt, never "ran", and a re-run settles it',
    async (_, body) => {
      const immuta = await immutaWith();
      const service = await artifactService();
      const sf = await snowflake();
      sf.fault({ method: 'GET', path: /^\/api\/v2\/statements\/[^/]+$/, status: 200, body });
      const first = await runAction({
        inputs: snowflakeStep(immuta, sf),
        env: attempt(service, 1)
      });
      expect(first.code).toBe(1);
      expect(first.outputs).toMatchObject({ 'script-status': 'failed', 'statements-run': '0' });
      expect(first.errors.at(-1)).toMatch(/answered 200.*proves nothing/);
      const second = await runAction({
        inputs: snowflakeStep(immuta, sf),
        env: attempt(service, 2)
      });
      expect(second.code).toBe(0);
      expect(second.outputs['script-status']).toBe('ran');
      expect(sf.ranTexts).toEqual(SNOWFLAKE_DROPS);
    },
    120_000
  );
});

describe('every statement gets the session it needs', () => {
  it('Snowflake: a bare USE <db> and SET variables reach every later statement, in the first attempt and a resumed one', async () => {
    const script = [
      'USE ROLE ACCOUNTADMIN;',
      'USE IMMUTA_DB;',
      "SET OLD_ROLE = 'IMMUTA_ROLE';",
      'DROP SCHEMA IF EXISTS IMMUTA_SCHEMA;',
      'DROP ROLE IF EXISTS IDENTIFIER($OLD_ROLE);',
      'DROP TABLE IF EXISTS AUDIT_LOG;',
      ''
    ].join('\n');
    const immuta = await immutaWith((state) => (state.integrations[1]!.script = script));
    const service = await artifactService();
    const sf = await snowflake({ failOn: /DROP ROLE/, failTimes: 1 });
    expect(
      (await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) })).code
    ).toBe(1);
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(0);
    expect(sf.ran.map((r) => [r.text, r.role, r.database, r.variables.OLD_ROLE])).toEqual([
      ['DROP SCHEMA IF EXISTS IMMUTA_SCHEMA', 'ACCOUNTADMIN', 'IMMUTA_DB', 'IMMUTA_ROLE'],
      ['DROP ROLE IF EXISTS IDENTIFIER($OLD_ROLE)', 'ACCOUNTADMIN', 'IMMUTA_DB', 'IMMUTA_ROLE'],
      ['DROP TABLE IF EXISTS AUDIT_LOG', 'ACCOUNTADMIN', 'IMMUTA_DB', 'IMMUTA_ROLE']
    ]);
  }, 120_000);

  it('Databricks: USE CATALOG reaches the statements after it, as the request’s catalog field', async () => {
    const immuta = await immutaWith(
      (state) =>
        (state.integrations[2]!.script =
          'USE CATALOG immuta;\nDROP SCHEMA IF EXISTS immuta_system CASCADE;\n')
    );
    const service = await artifactService();
    const db = await databricks();
    const run = await runAction({ inputs: databricksStep(immuta, db), env: attempt(service, 1) });
    expect(run.code).toBe(0);
    expect(db.ran.find((r) => r.statement.startsWith('DROP SCHEMA'))).toMatchObject({
      catalog: 'immuta'
    });
  }, 60_000);
});

describe('the pre-flight check proves the session can run the script', () => {
  it('a Snowflake user with no warehouse fails it: nothing is generated or deleted', async () => {
    const immuta = await immutaWith();
    const sf = await snowflake({ defaultWarehouse: null });
    const run = await runAction({
      inputs: snowflakeStep(immuta, sf, { 'upload-artifact': 'false' })
    });
    expect(run.code).toBe(1);
    expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
    expect(trail(immuta)).toEqual(['GET /data/connection/snowflake-prod']);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^The pre-flight check in Snowflake failed, so nothing was generated or deleted in Immuta: Snowflake has no warehouse in use .*Set snowflake-warehouse, or give the user a DEFAULT_WAREHOUSE/
      )
    ]);
  }, 60_000);
});

describe('a re-run that cannot read what earlier attempts left never goes green', () => {
  it('during an artifact-service outage: the step fails and nothing is sent', async () => {
    const immuta = await immutaWith();
    const faults: Record<string, unknown> = {};
    const service = await artifactService(faults);
    const sf = await snowflake({ failOn: /DROP USER/, failTimes: 1 });
    expect(
      (await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) })).code
    ).toBe(1);
    const sent = sf.scripts.length;
    faults.ListArtifacts = 403;
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(1);
    expect(second.errors.at(-1)).toMatch(
      /Looking for the cleanup script an earlier attempt of this run kept failed: .*Nothing ran in Snowflake/
    );
    expect(sf.scripts).toHaveLength(sent);
  }, 120_000);

  it('when the newest record cannot be downloaded: the step fails and nothing is sent', async () => {
    const immuta = await immutaWith();
    const faults: Record<string, unknown> = {};
    const service = await artifactService(faults);
    const sf = await snowflake({ failOn: /DROP USER/, failTimes: 1 });
    expect(
      (await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) })).code
    ).toBe(1);
    const sent = sf.scripts.length;
    faults.GetSignedArtifactURL = (r: Record<string, unknown>) =>
      r.name === 'immuta-cleanup-script-snowflake-prod' ? undefined : 403;
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(1);
    expect(second.errors.at(-1)).toMatch(
      /Reading what earlier attempts of this run did in Snowflake failed: downloading artifact 'immuta-step3-.*Nothing ran, so that nothing runs twice/
    );
    // An outage is waited out; a re-run is the remedy.
    expect(second.errors.at(-1)).toContain("re-run the job when GitHub's artifact service answers");
    expect(sf.scripts).toHaveLength(sent);
  }, 120_000);
});

describe('GitHub’s 500 artifacts a job', () => {
  it.each([
    ['snowflake', 498],
    ['databricks', 249]
  ] as const)(
    'a %s script of %i statements, whose records would pass the limit, is refused before the delete, and a dry run says so',
    async (platform, count) => {
      const script = Array.from({ length: count }, (_, i) => `DROP ROLE IF EXISTS R${i};`).join(
        '\n'
      );
      const immuta = await immutaWith((state) => {
        state.integrations[1]!.script = script;
        state.integrations[2]!.script = script;
      });
      const service = await artifactService();
      const warehouse = platform === 'snowflake' ? await snowflake() : await databricks();
      const inputs = (extra: Record<string, string>) =>
        platform === 'snowflake'
          ? snowflakeStep(immuta, warehouse as SnowflakeStandIn, extra)
          : databricksStep(immuta, warehouse as DatabricksStandIn, extra);
      for (const dryRun of ['true', 'false']) {
        const run = await runAction({
          inputs: inputs({ 'dry-run': dryRun }),
          env: attempt(service, 1)
        });
        expect(run.code).toBe(1);
        expect(run.errors.at(-1)).toMatch(
          new RegExp(
            `^run-script would keep up to 501 artifacts for this script of ${count} statements .*more than the 500 artifacts GitHub lets a job create.* Nothing was deleted\\. Run the script by hand instead \\(run-script: none\\)`
          )
        );
      }
      expect(immuta.sent('DELETE')).toHaveLength(0);
      expect(warehouse.ran).toEqual([]);
    },
    120_000
  );
});

describe('the smaller ways', () => {
  it('a Databricks Retry-After of 50 s never holds the step past script-timeout-seconds: 5', async () => {
    const immuta = await immutaWith();
    const db = await databricks();
    db.fault({
      method: 'POST',
      path: /^\/api\/2\.0\/sql\/statements$/,
      status: 429,
      body: { error_code: 'TOO_MANY_REQUESTS', message: 'Slow down.' },
      headers: { 'retry-after': '50' }
    });
    const run: ActionRun = await runAction({
      inputs: databricksStep(immuta, db, {
        'upload-artifact': 'false',
        'script-timeout-seconds': '5'
      }),
      timeoutMs: 30_000
    });
    expect(run.wallMs).toBeLessThan(15_000);
    expect(run.code).toBe(1);
    expect(run.errors.at(-1)).toMatch(
      /Statement 1 of 1 \(.*\) failed: POST \/api\/2\.0\/sql\/statements answered 429\. .*It asked to wait 50 s \(Retry-After\), past the time script-timeout-seconds leaves\./
    );
    expect(db.executed).toEqual([]);
  }, 60_000);

  it('a Databricks OAuth token that expires mid-script is renewed before it does', async () => {
    const immuta = await immutaWith(
      (state) =>
        (state.integrations[2]!.script = [
          'DROP SCHEMA IF EXISTS immuta.a CASCADE;',
          'DROP SCHEMA IF EXISTS immuta.b CASCADE;',
          'DROP SCHEMA IF EXISTS immuta.c CASCADE;',
          'DROP CATALOG IF EXISTS immuta CASCADE;',
          ''
        ].join('\n'))
    );
    const db = await databricks({
      token: undefined,
      clientId: 'c0ffee-client',
      clientSecret: 'dose-secret-5f4e3d2c',
      tokenSeconds: 2,
      polls: 3
    });
    const run = await runAction({
      inputs: databricksStep(immuta, db, {
        'upload-artifact': 'false',
        'databricks-token': '',
        'databricks-client-id': 'c0ffee-client',
        'databricks-client-secret': 'dose-secret-5f4e3d2c'
      })
    });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
    expect(db.requests.filter((r) => r.refused === 'expired')).toEqual([]);
    expect(db.issued.size).toBeGreaterThan(1);
  }, 60_000);

  it('a Snowflake 202 whose statementStatusUrl is absolute still gets its cancel', async () => {
    const immuta = await immutaWith();
    const sf = await snowflake({ absoluteStatusUrl: true, neverEnds: /DROP DATABASE/ });
    const run = await runAction({
      inputs: snowflakeStep(immuta, sf, {
        'upload-artifact': 'false',
        'script-timeout-seconds': '2'
      })
    });
    expect(run.code).toBe(1);
    expect(sf.cancels).toHaveLength(1);
    expect(run.errors.at(-1)).toMatch(/A cancel was sent to Snowflake; it ended cancelled/);
  }, 60_000);
});

describe('tried as an attacker and an unlucky user would', () => {
  it('SIGINT between Databricks’ accept and its answer: the statement is cancelled by its statement_id, and a re-run reads it back before sending it anew', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const db = await databricks({ neverEnds: /^DROP/ });
    const first = await runAction({
      inputs: databricksStep(immuta, db),
      env: attempt(service, 1),
      onStart: (child) =>
        void db
          .waitFor(
            (r) =>
              r.method === 'POST' &&
              !r.check &&
              /^\/api\/2\.0\/sql\/statements$/.test(r.path) &&
              r.body.includes('DROP')
          )
          .then(() => child.kill('SIGINT'))
    });
    expect(first.code).toBe(1);
    expect(db.cancels).toHaveLength(1);
    const rec = await records(service);
    // The accepted record knew the statement_id before the signal was handled.
    const accepted = rec.find((r) => r.event === 'accepted')!;
    expect(accepted.statements[0].statementId).toBe(db.cancels[0]);
    expect(rec.at(-1)!.stop).toBe('cancelled');
    db.options.neverEnds = undefined;
    const second = await runAction({
      inputs: databricksStep(immuta, db),
      env: attempt(service, 2)
    });
    expect(second.code).toBe(0);
    expect(db.ran.map((r) => r.statement)).toEqual(['DROP CATALOG IF EXISTS immuta CASCADE']);
  }, 120_000);

  it('a Databricks statement whose answer was lost: no re-run sends it again or goes green; each names it and what to check', async () => {
    const immuta = await immutaWith(
      (state) =>
        (state.integrations[2]!.script =
          'DROP SCHEMA IF EXISTS immuta.a CASCADE;\nDROP CATALOG IF EXISTS immuta CASCADE;\n')
    );
    const service = await artifactService();
    const db = await databricks();
    db.fault({ method: 'POST', path: /^\/api\/2\.0\/sql\/statements$/, resetAfterHandling: true });
    const first = await runAction({ inputs: databricksStep(immuta, db), env: attempt(service, 1) });
    expect(first.code).toBe(1);
    for (const n of [2, 3]) {
      const again = await runAction({
        inputs: databricksStep(immuta, db),
        env: attempt(service, n)
      });
      expect(again.code).toBe(1);
      expect(db.sent('DROP SCHEMA IF EXISTS immuta.a CASCADE')).toBe(1);
      expect(again.errors.at(-1)).toMatch(
        /Statement 1 of 2 \(DROP SCHEMA IF EXISTS immuta\.a CASCADE\) may have run in attempt 1, and Databricks cannot say.*Check the query history of SQL warehouse abc123def456 for it, then run the rest of the script by hand: from statement 1 if it did not run, from statement 2 if it did\./
      );
    }
    expect(db.sent('DROP CATALOG IF EXISTS immuta CASCADE')).toBe(0);
    expect(first.summary).toContain(
      '| 1 | `DROP SCHEMA IF EXISTS immuta.a CASCADE` | **in doubt** |'
    );
  }, 120_000);

  it('a Databricks statement in doubt that Databricks has forgotten (12 hours on): the re-run stops and says so', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const db = await databricks({ neverEnds: /^DROP/ });
    // The cancel does not reach Databricks: the statement stays in doubt, with its statement_id.
    db.fault({ method: 'POST', path: /\/cancel$/, status: 500, times: 2 });
    const first = await runAction({
      inputs: databricksStep(immuta, db, { 'script-timeout-seconds': '2' }),
      env: attempt(service, 1)
    });
    expect(first.code).toBe(1);
    expect((await records(service)).at(-1)!.statements[0]).toMatchObject({ outcome: 'in-doubt' });
    db.forget();
    db.options.neverEnds = undefined;
    const second = await runAction({
      inputs: databricksStep(immuta, db),
      env: attempt(service, 2)
    });
    expect(second.code).toBe(1);
    expect(second.errors.at(-1)).toMatch(
      /Databricks no longer knows statement_id .* \(it forgets a finished statement after 12 hours\)/
    );
    expect(db.sent('DROP CATALOG IF EXISTS immuta CASCADE')).toBe(1);
  }, 120_000);

  it('a script with an explicit transaction is refused before anything is deleted, and a dry run says so too', async () => {
    const script = 'BEGIN TRANSACTION;\nDROP DATABASE IF EXISTS IMMUTA_SYSTEM;\nCOMMIT;\n';
    for (const dryRun of ['true', 'false']) {
      const immuta = await immutaWith((state) => (state.integrations[1]!.script = script));
      const sf = await snowflake();
      const run = await runAction({
        inputs: snowflakeStep(immuta, sf, { 'upload-artifact': 'false', 'dry-run': dryRun })
      });
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toMatch(
        /run-script cannot run this cleanup script one statement at a time, as it runs every script: statement 1 \(BEGIN TRANSACTION\) opens or ends an explicit transaction.*Nothing was deleted/
      );
      expect(run.outputs.deleted).toBe('false');
      expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
      expect(sf.scripts).toEqual([]);
    }
  }, 60_000);

  it('a record with this record’s name that names another tenant is not believed: the re-run fails and runs nothing', async () => {
    const immuta = await immutaWith();
    const service = await artifactService();
    const sf = await snowflake({ failOn: /DROP USER/, failTimes: 1 });
    expect(
      (await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 1) })).code
    ).toBe(1);
    const newest = (await records(service)).at(-1)!;
    const forged = { ...newest, tenant: 'https://other.example', sequence: newest.sequence + 1 };
    delete (forged as { name?: string }).name;
    await service.plant(
      newest.name.replace(/-\d+$/, `-${newest.sequence + 1}`),
      zip([{ name: 'x.step3-record.json', data: Buffer.from(JSON.stringify(forged)) }])
    );
    const sent = sf.scripts.length;
    const second = await runAction({ inputs: snowflakeStep(immuta, sf), env: attempt(service, 2) });
    expect(second.code).toBe(1);
    expect(second.errors.at(-1)).toMatch(
      /says it is the record of another tenant, not what its name says/
    );
    // A forged record is not an outage: no re-run repairs it.
    expect(second.errors.at(-1)).toContain('which no re-run repairs');
    expect(second.errors.at(-1)).not.toContain('re-run the job when');
    expect(sf.scripts).toHaveLength(sent);
  }, 120_000);
});
