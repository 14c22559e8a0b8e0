import { describe, expect, it } from '@jest/globals';
import { changesSince, parsePlan, planOf, serializePlan } from '../../src/flow/plan.js';
import { ownArtifactNames } from '../../src/action/naming.js';
import { emptyRecord, readReport, runReport, serializeReport } from '../../src/reports/record.js';

const TENANT = 'https://acme.immuta.com';
const plan = planOf(
  TENANT,
  [
    { connectionKey: 'a', integrationId: 1, technology: 'Snowflake', hostname: 'h', script: 'x;' },
    { connectionKey: 'b', integrationId: 2, technology: 'Snowflake', hostname: 'h', script: 'y;' }
  ],
  new Date(0)
);

describe('parsePlan', () => {
  it('reads a plan saved with a UTF-8 byte-order mark', () => {
    expect(parsePlan(`\uFEFF${serializePlan(plan)}`)).toEqual(plan);
  });
});

describe('changesSince', () => {
  it('a planned host that is gone is no change; a present one that drifted is', () => {
    expect(
      changesSince(plan, TENANT, [
        { connectionKey: 'a', present: false },
        { connectionKey: 'b', present: true, integrationId: 2, sha256: plan.hosts[1]!.sha256 }
      ])
    ).toEqual([]);
    expect(
      changesSince(plan, TENANT, [
        { connectionKey: 'a', present: false },
        { connectionKey: 'b', present: true, integrationId: 3, sha256: plan.hosts[1]!.sha256 }
      ])
    ).toEqual(["Host 'b': its integration was 2 and is now 3."]);
  });
});

describe('ownArtifactNames', () => {
  it('the name asked for, then one for the job that a re-run finds again, then one per attempt', () => {
    expect(ownArtifactNames('scripts', 'apply', '2')).toEqual([
      'scripts',
      'scripts-apply',
      'scripts-apply-attempt-2'
    ]);
    expect(ownArtifactNames('scripts', 'apply', '3').slice(0, 2)).toEqual(
      ownArtifactNames('scripts', 'apply', '2').slice(0, 2)
    );
  });
  it('encodes what an artifact name may not hold', () => {
    expect(ownArtifactNames('s', 'a/b:c', undefined)[1]).toBe('s-a%2Fb%3Ac');
  });
});

describe('readReport', () => {
  it('reads the tenant, job and attempt a report was written by, and its hosts', () => {
    const report = runReport(
      {
        tenant: TENANT,
        dryRun: true,
        stage: 'before-delete',
        startedAt: '',
        hosts: [{ ...emptyRecord('snow'), technology: 'Snowflake' }]
      },
      new Date(0),
      { job: 'plan', attempt: '1' }
    );
    expect(readReport(serializeReport(report))).toEqual({
      tenant: TENANT,
      job: 'plan',
      attempt: '1',
      dryRun: true,
      hosts: [
        {
          connectionKey: 'snow',
          integrationId: undefined,
          technology: 'Snowflake',
          hostname: undefined,
          scriptFile: undefined,
          scriptSha256: undefined,
          status: 'not-started'
        }
      ]
    });
  });
  it('says nothing for a file that is not a report of this action', () => {
    expect(readReport('{}')).toBeUndefined();
    expect(readReport('not json')).toBeUndefined();
    expect(readReport('{"kind":"immuta-deregister-host/report"}')).toBeUndefined();
    expect(readReport('{"kind":"immuta-deregister-host/report","hosts":[{}]}')).toBeUndefined();
    // A report that does not say it is no dry run proves no delete.
    expect(readReport('{"kind":"immuta-deregister-host/report","hosts":[]}')).toEqual({
      tenant: undefined,
      job: undefined,
      attempt: undefined,
      dryRun: true,
      hosts: []
    });
  });
});
