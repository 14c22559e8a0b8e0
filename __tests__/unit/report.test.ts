import { describe, expect, it } from '@jest/globals';
import { lineCount, type Outcome } from '../../src/flow/outcome.js';
import type { ScriptRun, StatementResult } from '../../src/warehouse/types.js';
import {
  failureMarkdown,
  nextStep,
  summaryMarkdown,
  SUMMARY_SCRIPT_LIMIT
} from '../../src/reports/summary.js';
import { batchSummary } from '../../src/reports/batch-summary.js';
import { emptyRecord, type HostRecord } from '../../src/reports/record.js';
import type { BatchOutcome } from '../../src/flow/batch.js';

const outcome: Outcome = {
  status: 'deregistered',
  connectionKey: 'snowflake-prod',
  deleted: true,
  integrationId: 1,
  technology: 'Snowflake',
  hostname: 'acme-prod.snowflakecomputing.com',
  childCount: 42,
  script: 'DROP DATABASE IF EXISTS IMMUTA;\n',
  kept: {
    path: '/tmp/immuta-cleanup-snowflake-prod.sql',
    inOutput: true,
    artifactId: 99,
    artifactUrl: 'https://github.com/acme/repo/actions/runs/1/artifacts/99'
  },
  artifact: {
    artifactId: 99,
    artifactUrl: 'https://github.com/acme/repo/actions/runs/1/artifacts/99',
    artifactName: 'immuta-cleanup-script-snowflake-prod'
  },
  objectState: undefined,
  absentBecause: undefined
};

describe('summaryMarkdown', () => {
  it('shows host, integration, status, count, artifact link and the script', () => {
    const md = summaryMarkdown(outcome);
    expect(md).toContain(
      '| Host | `snowflake-prod` (Snowflake, acme-prod.snowflakecomputing.com) |'
    );
    expect(md).toContain('## Immuta: Deregistered host `snowflake-prod` and its 42 child objects.');
    expect(md).toContain('| Integration | 1 |');
    expect(md).toContain('| Deleted | yes, with 42 child objects |');
    expect(md).toContain(
      '| Artifact | `immuta-cleanup-script-snowflake-prod` (ID [99](https://github.com/acme/repo/actions/runs/1/artifacts/99)) |'
    );
    expect(md).toContain('<details><summary>Cleanup script (1 line)</summary>');
    expect(md).toContain('```sql\nDROP DATABASE IF EXISTS IMMUTA;\n```');
    expect(md).toMatch(/in Snowflake as a user with ACCOUNTADMIN/);
  });

  it('fences a script holding backticks so it cannot break out', () => {
    const md = summaryMarkdown({ ...outcome, script: 'SELECT ```x```;' });
    expect(md).toContain('````sql\nSELECT ```x```;\n````');
  });

  it('escapes pipes in table cells', () => {
    expect(summaryMarkdown({ ...outcome, connectionKey: 'a|b' })).toContain('`a\\|b`');
  });

  it('truncates a huge script and says where the rest is', () => {
    const md = summaryMarkdown({ ...outcome, script: 'x'.repeat(SUMMARY_SCRIPT_LIMIT + 10) });
    expect(md).toContain('truncated: 10 more characters are in the file and the artifact');
    expect(md.length).toBeLessThan(SUMMARY_SCRIPT_LIMIT + 2000);
  });

  it('says a dry run deleted nothing', () => {
    const md = summaryMarkdown({
      ...outcome,
      status: 'dry-run',
      deleted: false,
      childCount: undefined,
      objectState: 'active'
    });
    expect(md).toContain('## Immuta: Dry run: host');
    expect(md).toContain('| Deleted | no |');
    expect(md).toContain('| State in Immuta | active |');
    expect(md).toContain('Run again with `dry-run: false`');
  });

  it('reports an unknown child count as unknown', () => {
    expect(summaryMarkdown({ ...outcome, childCount: undefined })).toContain(
      'yes (child count unknown)'
    );
  });
});

describe('nextStep', () => {
  it('names the platform where the script runs', () => {
    expect(nextStep({ ...outcome, technology: 'Databricks' })).toMatch(
      /Databricks as a metastore admin/
    );
    expect(nextStep({ ...outcome, technology: 'Other' })).toMatch(/as a privileged user/);
  });
  it('says Lake Formation needs nothing more', () => {
    expect(
      nextStep({ ...outcome, technology: 'AWS Lake Formation', script: undefined, kept: undefined })
    ).toMatch(/no cleanup script/);
  });
  it('points an already-absent host at the earlier run', () => {
    expect(
      nextStep({ ...outcome, status: 'already-absent', script: undefined, kept: undefined })
    ).toMatch(/earlier run/);
  });
});

describe('nextStep after run-script', () => {
  const statement = (outcome: StatementResult['outcome']): StatementResult => ({
    text: 'DROP USER X',
    outcome,
    durationMs: undefined,
    error: undefined
  });
  const run = (status: ScriptRun['status'], outcomes: StatementResult['outcome'][]): ScriptRun => ({
    platform: 'snowflake',
    status,
    statements: outcomes.map(statement),
    statementsRun: outcomes.filter((o) => o === 'ran').length,
    durationMs: 1000,
    error: status === 'failed' ? 'Statement failed.' : undefined,
    note: undefined
  });

  it('has nothing left to do once the script ran', () => {
    const text = nextStep({ ...outcome, scriptRun: run('ran', ['ran', 'ran']) });
    expect(text).toBe(
      'Nothing left to do: the host is deregistered and the cleanup script ran in Snowflake.'
    );
  });
  it.each([
    [
      ['failed', 'not-run'],
      /from statement 1 on \(none ran\), from artifact `immuta-cleanup-script-snowflake-prod`\.$/
    ],
    [['ran', 'failed', 'not-run'], /from statement 2 on \(statement 1 ran\)/],
    [['ran', 'ran', 'ran', 'failed'], /from statement 4 on \(statements 1 to 3 ran\)/],
    [
      ['ran', 'cancelled', 'not-run'],
      /then use \*\*Re-run failed jobs\*\*: the re-run finds the host gone, takes the script from artifact `immuta-cleanup-script-snowflake-prod` and goes on at statement 2\./
    ]
  ] as const)('after a failed run %j, says where to pick up', (outcomes, said) => {
    const text = nextStep({ ...outcome, scriptRun: run('failed', [...outcomes]) });
    expect(text).toMatch(/^The host is deregistered, but the cleanup script stopped in Snowflake/);
    expect(text).toMatch(said);
  });
  it('after a statement in doubt, says a re-run asks Snowflake, or where to check by hand', () => {
    const text = nextStep({ ...outcome, scriptRun: run('failed', ['ran', 'in-doubt', 'not-run']) });
    expect(text).toMatch(
      /at statement 2, which may or may not have run \(see the error below\): use \*\*Re-run failed jobs\*\*: .* asks Snowflake how statement 2 ended, then goes on from there\. Or run the rest .* from statement 2 or 3 on \(check in Snowflake whether statement 2 ran\)/
    );
  });
  it('without an artifact, offers no re-run and points at what outlives the job', () => {
    const text = nextStep({
      ...outcome,
      artifact: undefined,
      scriptRun: run('failed', ['ran', 'failed'])
    });
    expect(text).not.toMatch(/Re-run failed jobs/);
    expect(text).toMatch(
      /from statement 2 on \(statement 1 ran\); it is shown below and in this step's `script` output \(the file `\/tmp\/immuta-cleanup-snowflake-prod\.sql` is gone once a hosted runner's job ends\)\. Without an artifact \(upload-artifact: false\) a re-run cannot go on\.$/
    );
  });
  it('has nothing left to do when an earlier attempt ran the script', () => {
    expect(nextStep({ ...outcome, scriptRun: run('already-ran', ['ran-before']) })).toMatch(
      /^Nothing left to do: .*an earlier attempt of this workflow run ran its cleanup script in Snowflake/
    );
  });
  it('in a dry run, says the step would run the script itself', () => {
    const text = nextStep({
      ...outcome,
      status: 'dry-run',
      scriptRun: run('skipped', ['not-run'])
    });
    expect(text).toMatch(/nothing ran\. .*runs the cleanup script in Snowflake itself/);
    expect(text).not.toMatch(/Run the cleanup script/);
  });
});

describe('lineCount', () => {
  it('does not count the final line break as a line', () => {
    expect(lineCount('a\nb\n')).toBe(2);
    expect(lineCount('a\r\nb')).toBe(2);
  });
});

describe('a delete whose outcome is unknown', () => {
  it('one host: the failure summary says the deletion is unknown, not that nothing was deleted', () => {
    const md = failureMarkdown('Deleting the host failed: no answer.', 'unknown');
    expect(md).toContain('Whether this step deleted the host is **unknown**');
    expect(md).toContain('if it is gone');
    expect(md).not.toContain('did not delete');
    expect(failureMarkdown('x', false)).toContain('This step did not delete the host.');
    expect(failureMarkdown('x', true)).toContain('**was deleted**');
  });

  const record = (key: string, fields: Partial<HostRecord>): HostRecord => ({
    ...emptyRecord(key),
    technology: 'Snowflake',
    scriptFile: `immuta-cleanup-${key}.sql`,
    ...fields
  });
  const batch = (records: HostRecord[]): BatchOutcome => ({
    records,
    folder: '/nowhere',
    reportPath: '/nowhere/report.json',
    planPath: undefined,
    planSha256: undefined,
    artifact: undefined,
    refused: undefined,
    changes: [],
    dryRun: false,
    plan: false
  });
  const lost =
    'Deleting the host failed: DELETE /data/object/x got no response. ' + 'x'.repeat(400);

  it('a batch: hosts in doubt are named, with their scripts, apart from the hosts not deleted', async () => {
    const md = await batchSummary(
      batch([
        record('a', { status: 'deregistered', deleted: true }),
        record('b', { status: 'failed', mayHaveDeleted: true, error: lost }),
        record('c', { status: 'failed', mayHaveDeleted: true, error: lost }),
        record('d', { status: 'failed', error: 'Deleting the host failed: 403.' })
      ]),
      { redactHead: (t) => t }
    );
    const next = md.split('### Next step')[1]!.split('\n|')[0]!;
    expect(next).toContain('1 host was not deleted');
    expect(next).toContain('Whether hosts `b`, `c` were deleted is unknown');
    expect(next).toContain('Run the cleanup script of the deleted host (`a`)');
    expect(next).toContain(
      'Then run the cleanup script of hosts `b`, `c` once Immuta shows them gone'
    );
    expect(md).toMatch(
      /^## Immuta: 4 hosts\\: 1 deregistered, 2 failed, may be deleted, 1 failed\./
    );
    // The note says it first, so the cut of a long error cannot take it away.
    expect(md).toContain('| failed, may be deleted |  | Immuta may have deleted it');
  });
});
