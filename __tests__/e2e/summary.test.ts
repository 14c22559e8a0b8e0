// The job summary's "Next step" follows what became of the cleanup script: a reader must never
// be told to run by hand a script the step already ran.
import { afterEach, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type DatabricksStandIn,
  type SnowflakeStandIn
} from '../support/warehouse-stand-ins.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';

let immuta: StandIn | undefined;
let snowflake: SnowflakeStandIn | undefined;
let databricks: DatabricksStandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  await snowflake?.close();
  await databricks?.close();
  immuta = snowflake = databricks = undefined;
});

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
});

/** The text under "### Next step", up to the next heading or block. */
function nextStep(summary: string): string {
  const match = /### Next step\n\n([^\n]+)/.exec(summary);
  if (!match) throw new Error(`no Next step in the summary:\n${summary}`);
  return match[1]!;
}

async function snowflakeRun(extra: Record<string, string> = {}, options = {}) {
  immuta ??= await startImmutaStandIn();
  snowflake = await startSnowflakeStandIn({
    account: 'XY12345',
    user: 'IMMUTA_CLEANUP',
    publicKey: keys.publicKey,
    ...options
  });
  return runAction({
    inputs: stepInputs(immuta, {
      'run-script': 'snowflake',
      'snowflake-account': 'xy12345',
      'snowflake-host': snowflake.url,
      'snowflake-user': 'immuta_cleanup',
      'snowflake-private-key': keys.privateKey,
      ...extra
    })
  });
}

describe('the summary’s next step', () => {
  it('without run-script: run the cleanup script by hand in Snowflake', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(0);
    expect(nextStep(run.summary)).toMatch(
      /^Run the cleanup script \(saved at `.*immuta-cleanup-snowflake-prod\.sql`\) in Snowflake as a user with ACCOUNTADMIN/
    );
  });

  it('after the script ran in Snowflake: nothing left to do, no "by hand"', async () => {
    const run = await snowflakeRun();
    expect(run.code).toBe(0);
    expect(run.summary).toMatch(/### Cleanup script in Snowflake: ran/);
    expect(nextStep(run.summary)).toBe(
      'Nothing left to do: the host is deregistered and the cleanup script ran in Snowflake.'
    );
    expect(run.summary).not.toMatch(/Run the cleanup script/);
  });

  it('after the script failed at statement 3 in Snowflake: the rest of it, from statement 3 on', async () => {
    const run = await snowflakeRun({}, { failOn: /^DROP USER/ });
    expect(run.code).toBe(1);
    expect(run.summary).toMatch(/### Cleanup script in Snowflake: failed/);
    // Without an artifact (upload-artifact: false) a re-run could not go on: none is offered,
    // and the file is named for what it is, gone once a hosted runner's job ends.
    expect(nextStep(run.summary)).toMatch(
      /^The host is deregistered, but the cleanup script stopped in Snowflake at statement 3: fix what the error below names, then run the rest of the script by hand in Snowflake as a privileged user, from statement 3 on \(statements 1 to 2 ran\); it is shown below and in this step's `script` output \(the file `.*immuta-cleanup-snowflake-prod\.sql` is gone once a hosted runner's job ends\)\. Without an artifact \(upload-artifact: false\) a re-run cannot go on\.$/
    );
  });

  it('after the second statement failed in Databricks: from statement 2 on', async () => {
    immuta = await startImmutaStandIn();
    immuta.state.integrations[2]!.script = [
      'REVOKE USE CATALOG ON CATALOG immuta FROM `immuta-sp`;',
      'DROP CATALOG IF EXISTS immuta CASCADE;',
      ''
    ].join('\n');
    databricks = await startDatabricksStandIn({
      token: 'dapi0123456789abcdef',
      warehouseId: 'abc123def456',
      failOn: /^DROP CATALOG/
    });
    immuta.placeHost('databricks-uc', databricks.url);
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': 'databricks-uc',
        'run-script': 'databricks',
        'databricks-host': databricks.url,
        'databricks-token': 'dapi0123456789abcdef',
        'databricks-warehouse-id': 'abc123def456'
      })
    });
    expect(run.code).toBe(1);
    expect(nextStep(run.summary)).toMatch(
      /cleanup script stopped in Databricks at statement 2: .* by hand in Databricks as a privileged user, from statement 2 on \(statement 1 ran\); it is shown below/
    );
  });

  it('in a dry run with run-script: nothing deleted, nothing ran, and the step would run it itself', async () => {
    const run = await snowflakeRun({ 'dry-run': 'true' });
    expect(run.code).toBe(0);
    expect(run.summary).toMatch(/### Cleanup script in Snowflake: not run/);
    expect(nextStep(run.summary)).toBe(
      'Dry run: nothing was deleted and nothing ran. Run again with `dry-run: false` to delete the host; the step then runs the cleanup script in Snowflake itself (run-script), as listed below.'
    );
  });

  it('in a dry run without run-script: run the script by hand after the delete', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'dry-run': 'true' }) });
    expect(run.code).toBe(0);
    expect(nextStep(run.summary)).toMatch(
      /^Dry run: nothing was deleted\. Run again with `dry-run: false` to delete the host; then: Run the cleanup script .* in Snowflake/
    );
  });

  it('with the host already gone and no script kept: run the earlier run’s script by hand', async () => {
    immuta = await startImmutaStandIn();
    delete immuta.state.hosts['snowflake-prod'];
    const run = await snowflakeRun({ 'if-missing': 'warn' });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('skipped');
    expect(nextStep(run.summary)).toMatch(
      /^Nothing was deleted, and nothing says this workflow run deleted the host: if the key is misspelt, correct it\. If an earlier run deleted the host, run the cleanup script that run kept/
    );
    expect(snowflake!.requests).toEqual([]);
  });
});
