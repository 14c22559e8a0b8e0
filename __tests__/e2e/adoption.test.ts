// What a team adopting the action relies on: the outputs a workflow guards on, a summary that
// can leave the script out, and an error that says why a secret came through empty.
import { afterEach, describe, expect, it } from '@jest/globals';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';

let immuta: StandIn | undefined;
afterEach(async () => {
  await immuta?.close();
  immuta = undefined;
});

describe('outputs a workflow guards on', () => {
  it('names the technology and hostname, even when the delete then fails', async () => {
    immuta = await startImmutaStandIn({ permissions: { delete: false } });
    const run = await runAction({
      inputs: stepInputs(immuta, { 'connection-key': 'databricks-uc' })
    });
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({
      technology: 'Databricks',
      hostname: 'dbc-1234.cloud.databricks.com',
      'integration-id': '2',
      status: 'failed'
    });
  });
});

describe('summary-script: false', () => {
  it('keeps the script out of the summary, but in the output and the file', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'summary-script': 'false' }) });
    expect(run.code).toBe(0);
    expect(run.summary).not.toContain('DROP DATABASE');
    expect(run.summary).not.toContain('<details>');
    expect(run.outputs.script).toContain('DROP DATABASE IF EXISTS IMMUTA_SYSTEM;');
  });

  it('keeps the scripts out of a batch summary too', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': 'snowflake-prod\ndatabricks-uc',
        'summary-script': 'false'
      })
    });
    expect(run.code).toBe(0);
    expect(run.summary).toContain(
      '| `snowflake-prod` (Snowflake, acme-prod.snowflakecomputing.com) | 1 | deregistered | 42 |  |'
    );
    expect(run.summary).not.toMatch(/DROP|<details>/);
  });
});

describe('an empty api-key', () => {
  it('names the usual cause: a secret the job cannot see', async () => {
    immuta = await startImmutaStandIn();
    const run = await runAction({ inputs: stepInputs(immuta, { 'api-key': '' }) });
    expect(run.code).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Input 'api-key' is required but was empty\. The usual cause is a secret this job cannot see: one stored in an environment the job does not name \(environment:\), or a run from a fork or by Dependabot/
    );
    expect(immuta.requests).toEqual([]);
  });
});
