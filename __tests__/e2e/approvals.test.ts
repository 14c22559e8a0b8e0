// Issue 23, who approved: the run's review history read with github-token (the job's own token
// by default, as the runner evaluates ${{ github.token }}), from a loopback stand-in of GitHub's
// REST API (GITHUB_API_URL), into the report and the job summary. A failure to read it is a
// warning, never a failed step; what the API answers is anyone's text, shown escaped.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import { startImmutaStandIn, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import {
  review,
  RUN_ID,
  startGitHubApi,
  type Fault,
  type GitHubApi
} from '../support/github-stand-ins.mjs';
import { JOB_TOKEN, runAction, type ActionRun } from '../support/run-action.mjs';
import { stepInputs, visibleLog } from '../support/inputs.js';
import { forgedCommands } from '../support/runner-commands.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function immuta(): Promise<ImmutaStandIn> {
  const standIn = await startImmutaStandIn();
  closers.push(() => standIn.close());
  return standIn;
}

async function github(reviews: unknown[] = [review()], options = {}): Promise<GitHubApi> {
  const standIn = await startGitHubApi({ reviews: { [RUN_ID]: reviews }, ...options });
  closers.push(() => standIn.close());
  return standIn;
}

async function reportOf(
  run: ActionRun
): Promise<Record<string, unknown> & { approvals: Record<string, unknown> | null }> {
  return JSON.parse(await fs.readFile(run.outputs['report-path']!, 'utf8'));
}

const APPROVALS_PATH = `/repos/acme/data-platform/actions/runs/${RUN_ID}/approvals`;

describe('who approved', () => {
  it('is read with the job’s token and recorded in the report, the summary and the log', async () => {
    const tenant = await immuta();
    const api = await github([
      review({ login: 'alice', environments: ['immuta-plan'], comment: '' }),
      review({ login: 'bob', comment: 'Reviewed the plan: go.' })
    ]);
    const run = await runAction({ inputs: stepInputs(tenant), env: api.env });
    expect(run.code).toBe(0);
    expect(run.warnings).toEqual([]);
    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request!.path).toBe(APPROVALS_PATH);
    expect(request!.headers.authorization).toBe(`token ${JOB_TOKEN}`);
    expect(request!.headers['x-github-api-version']).toBe('2022-11-28');
    expect(request!.headers['user-agent']).toMatch(/^immuta-deregister-host\/\d+\.\d+\.\d+/);
    const report = await reportOf(run);
    expect(report.approvals).toEqual({
      source: `GET ${APPROVALS_PATH}`,
      readAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      reviews: [
        { login: 'alice', state: 'approved', comment: '', environments: ['immuta-plan'] },
        {
          login: 'bob',
          state: 'approved',
          comment: 'Reviewed the plan: go.',
          environments: ['production']
        }
      ],
      error: null
    });
    expect(run.summary).toContain(`### Who approved: the review history of workflow run ${RUN_ID}`);
    expect(run.summary).toContain('| `immuta-plan` | `alice` | approved |  |');
    expect(run.summary).toContain('| `production` | `bob` | approved | Reviewed the plan\\: go. |');
    expect(run.log).toContain(
      'The review history of this workflow run: immuta-plan: approved by alice; production: approved by bob.'
    );
    // The job's token is a secret of the run: masked, and shown nowhere.
    expect(run.stdout).toContain(`::add-mask::${JOB_TOKEN}`);
    const shown = [visibleLog(run.log), run.summary, JSON.stringify(report)].join('\n');
    expect(shown).not.toContain(JOB_TOKEN);
  }, 60_000);

  it('a run that waited for no reviewer says so', async () => {
    const tenant = await immuta();
    const api = await github([]);
    const run = await runAction({ inputs: stepInputs(tenant), env: api.env });
    expect(run.code).toBe(0);
    expect((await reportOf(run)).approvals).toMatchObject({ reviews: [], error: null });
    expect(run.summary).toContain('GitHub lists no review for this run');
  }, 60_000);

  it('with github-token empty, GitHub is not asked and nothing is said', async () => {
    const tenant = await immuta();
    const api = await github();
    const run = await runAction({
      inputs: stepInputs(tenant, { 'github-token': '' }),
      env: api.env
    });
    expect(run.code).toBe(0);
    expect(api.requests).toEqual([]);
    expect((await reportOf(run)).approvals).toBeNull();
    expect(run.summary).not.toContain('Who approved');
    expect(run.stdout).not.toMatch(/Loaded @actions\/github/);
  }, 60_000);

  it('outside a workflow run (no GITHUB_API_URL) @actions/github is not even loaded', async () => {
    const tenant = await immuta();
    const run = await runAction({ inputs: stepInputs(tenant), env: { GITHUB_API_URL: undefined } });
    expect(run.code).toBe(0);
    expect((await reportOf(run)).approvals).toBeNull();
    expect(run.stdout).not.toMatch(/Loaded @actions\/github/);
  }, 60_000);

  it('a comment, login and environment full of runner commands, Markdown and invisible characters are shown inert', async () => {
    const tenant = await immuta();
    const api = await github([
      review({
        login: 'mallory`|',
        comment:
          'LGTM\n::error::forged\n##[warning]forged too\n**bold** [link](javascript:alert(1)) <img src=x onerror=alert(1)> | cell\u200b\u202e',
        environments: ['prod|uction\n::error::env']
      })
    ]);
    const run = await runAction({ inputs: stepInputs(tenant), env: api.env });
    expect(run.code).toBe(0);
    expect(forgedCommands(run.stdout)).toEqual([]);
    const row = run.summary.split('\n').find((l) => l.includes('mallory'))!;
    expect(row).toBe(
      '| `prod\\|uction ::error::env` | ``mallory`\\|`` | approved | LGTM \\:\\:error\\:\\:forged \\#\\#\\[warning\\]forged too \\*\\*bold\\*\\* \\[link\\]\\(javascript\\:alert\\(1\\)\\) &lt;img src=x onerror=alert\\(1\\)&gt; \\| cell\\\\u\\{200b\\}\\\\u\\{202e\\} |'
    );
    const { approvals } = await reportOf(run);
    expect(approvals!.reviews).toEqual([
      {
        login: 'mallory`|',
        state: 'approved',
        comment:
          'LGTM ::error::forged ##[warning]forged too **bold** [link](javascript:alert(1)) <img src=x onerror=alert(1)> | cell\\u{200b}\\u{202e}',
        environments: ['prod|uction ::error::env']
      }
    ]);
  }, 60_000);

  it('a token the API echoes back, raw or in base64, is cut out of the warning and the report', async () => {
    const tenant = await immuta();
    const base64 = Buffer.from(`x-access-token:${JOB_TOKEN}`).toString('base64');
    const api = await github();
    api.fault({
      status: 401,
      body: {
        message: `Bad credentials: token ${JOB_TOKEN} (${base64}) ::error::forged`,
        documentation_url: 'https://docs.github.com/rest'
      }
    });
    const run = await runAction({ inputs: stepInputs(tenant), env: api.env });
    expect(run.code).toBe(0);
    expect(run.warnings).toHaveLength(1);
    expect(run.warnings[0]).toMatch(
      /GitHub refused github-token \(401: Bad credentials: token \*\*\* \(\S*\*\*\*\S*\) ::error::forged - https:\/\/docs\.github\.com\/rest\)/
    );
    const shown = [visibleLog(run.log), run.summary, JSON.stringify(await reportOf(run))].join(
      '\n'
    );
    expect(shown).not.toContain(JOB_TOKEN);
    expect(shown).not.toContain(Buffer.from(JOB_TOKEN).toString('base64').slice(4, 40));
    expect(forgedCommands(run.stdout)).toEqual([]);
  }, 60_000);
});

describe('a review history that cannot be read is a warning, never a failed step', () => {
  /** A port nothing listens on. */
  async function closedPort(): Promise<string> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return `http://127.0.0.1:${port}`;
  }

  it.each<[string, Partial<Fault> | 'closed' | 'no actions: read', RegExp]>([
    [
      'a token without actions: read (403)',
      'no actions: read',
      /github-token may not read this run's review history \(403: Resource not accessible by integration - https:\/\/docs\.github\.com\/rest\/actions\/workflow-runs#get-the-review-history-for-a-workflow-run\); give the job `permissions: actions: read`/
    ],
    [
      'a 404',
      {
        status: 404,
        body: {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest',
          status: '404'
        }
      },
      /GitHub answered 404 \(Not Found - https:\/\/docs\.github\.com\/rest\): github-token cannot see workflow run 4242 of acme\/data-platform/
    ],
    [
      'a proxy’s HTML page with 200',
      { status: 200, body: '<html><body>Proxy login</body></html>' },
      /GitHub's answer is not the review history's documented shape \(text, not JSON: “<html><body>Proxy login<\/body><\/html>”\); a proxy or a sign-on page may have answered in its place/
    ],
    [
      'JSON of another shape',
      { status: 200, body: { total_count: 1 } },
      /documented shape \(not a list\)/
    ],
    [
      'a 502 from a gateway',
      { status: 502, body: '<html>Bad gateway</html>' },
      /GitHub answered 502 \(<html>Bad gateway<\/html>\)/
    ],
    ['a reset connection', { reset: true }, /the request to http:\/\/127\.0\.0\.1:\d+ failed \(/],
    ['no answer at all', { hang: true }, /GitHub did not answer within 2 s \(timeout-seconds\)/],
    [
      'an answer that never ends',
      { endless: true },
      /failed \(its answer is larger than 1024 KiB\)/
    ],
    ['nothing listening', 'closed', /the request to http:\/\/127\.0\.0\.1:\d+ failed \(/]
  ])(
    '%s',
    async (_what, fault, reason) => {
      const tenant = await immuta();
      const api = await github(
        [review()],
        fault === 'no actions: read' ? { actionsRead: false } : {}
      );
      if (typeof fault === 'object') api.fault(fault);
      const env = fault === 'closed' ? { GITHUB_API_URL: await closedPort() } : api.env;
      const run = await runAction({
        inputs: stepInputs(tenant, { 'timeout-seconds': '2' }),
        env,
        timeoutMs: 30_000
      });
      expect(run.code).toBe(0);
      expect(run.outputs.status).toBe('deregistered');
      expect(run.errors).toEqual([]);
      expect(run.warnings).toHaveLength(1);
      expect(run.warnings[0]).toMatch(
        new RegExp(
          `^The review history of workflow run ${RUN_ID} could not be read, so the report and the summary do not say who approved: `
        )
      );
      expect(run.warnings[0]).toMatch(reason);
      expect(run.warnings[0]).toMatch(/The step goes on\.$/);
      const { approvals } = await reportOf(run);
      expect(approvals).toMatchObject({ reviews: null, error: expect.stringMatching(reason) });
      expect(run.summary).toContain('It could not be read (');
      // The host was deleted all the same, in the usual time.
      expect(tenant.state.hosts['snowflake-prod']).toBeUndefined();
      expect(run.wallMs).toBeLessThan(20_000);
    },
    60_000
  );

  it('a step that fails still records who approved', async () => {
    const tenant = await immuta();
    tenant.fault({ method: 'DELETE', path: '/data/object/snowflake-prod', status: 403 });
    const api = await github();
    const run = await runAction({ inputs: stepInputs(tenant), env: api.env });
    expect(run.code).toBe(1);
    expect((await reportOf(run)).approvals).toMatchObject({
      reviews: [{ login: 'octocat', state: 'approved', environments: ['production'] }]
    });
    expect(run.summary).toContain('## Immuta: the step failed');
    expect(run.summary).toContain('| `production` | `octocat` | approved | Ship it\\! |');
  }, 60_000);
});

describe('re-runs and neighbours', () => {
  it('a re-run records the run’s whole review history as it stands then, its own approval included', async () => {
    const tenant = await immuta();
    const api = await github([review({ login: 'alice', comment: 'first attempt' })]);
    const first = await runAction({ inputs: stepInputs(tenant), env: api.env });
    expect(first.code).toBe(0);
    const firstReport = await fs.readFile(first.outputs['report-path']!, 'utf8');
    // "Re-run all jobs": the job waits for the environment's reviewers again; bob approves.
    api.options.reviews[RUN_ID]!.push(review({ login: 'bob', comment: 'approving the re-run' }));
    const second = await runAction({
      inputs: stepInputs(tenant, { 'if-missing': 'warn' }),
      env: { ...api.env, GITHUB_RUN_ATTEMPT: '2' }
    });
    expect(second.code).toBe(0);
    const report = await reportOf(second);
    expect(report).toMatchObject({ attempt: '2' });
    expect((report.approvals!.reviews as { login: string }[]).map((r) => r.login)).toEqual([
      'alice',
      'bob'
    ]);
    expect(second.summary).toContain('for every job and attempt of the run');
    // The first attempt's report is as it was.
    expect(await fs.readFile(first.outputs['report-path']!, 'utf8')).toBe(firstReport);
  }, 60_000);

  it('matrix legs each record the same history; one leg’s failed read warns that leg only', async () => {
    const tenant = await immuta();
    const api = await github([review()]);
    api.fault({ status: 503, body: { message: 'Service Unavailable' } });
    const legs = await Promise.all(
      ['snowflake-prod', 'databricks-uc'].map((key) =>
        runAction({ inputs: stepInputs(tenant, { 'connection-key': key }), env: api.env })
      )
    );
    for (const run of legs) expect(run.code).toBe(0);
    const warned = legs.filter((run) => run.warnings.length > 0);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.warnings[0]).toMatch(/GitHub answered 503 \(Service Unavailable\)/);
    const fine = legs.find((run) => run.warnings.length === 0)!;
    expect((await reportOf(fine)).approvals).toMatchObject({
      reviews: [{ login: 'octocat', state: 'approved' }]
    });
  }, 60_000);

  it('a batch records it once, in its report and summary', async () => {
    const tenant = await immuta();
    const api = await github([review({ login: 'carol' })]);
    const run = await runAction({
      inputs: stepInputs(tenant, { 'connection-key': 'snowflake-prod\ndatabricks-uc' }),
      env: api.env
    });
    expect(run.code).toBe(0);
    expect(api.requests).toHaveLength(1);
    expect((await reportOf(run)).approvals).toMatchObject({ reviews: [{ login: 'carol' }] });
    expect(run.summary.match(/### Who approved/g)).toHaveLength(1);
  }, 60_000);
});
