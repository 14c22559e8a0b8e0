// Issue 23, end to end: keyless step 3 with GitHub's OIDC token, on the bundle as the runner runs
// it. A loopback issuer stands in for the runner's ID token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL,
// answering {"value": "<jwt>"}, RS256 with a JWKS); the Snowflake and Databricks stand-ins check
// the token as the vendors do (signature, issuer, audience, subject, expiry) and refuse it in
// their shapes. Each test is a way keyless sign-in is used, refused, renewed or attacked.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  defaultState,
  startImmutaStandIn,
  type ImmutaStandIn
} from '../support/immuta-stand-in.mjs';
import {
  startDatabricksStandIn,
  startSnowflakeStandIn,
  type DatabricksOptions,
  type SnowflakeOptions
} from '../support/warehouse-stand-ins.mjs';
import { startOidcIssuer, type OidcIssuer } from '../support/github-stand-ins.mjs';
import { runAction, type ActionRun } from '../support/run-action.mjs';
import {
  RUN_BACKEND_ID,
  startArtifactService,
  startAzurite,
  type Azurite
} from '../support/artifact-service-stand-in.mjs';
import { stepInputs, trail, visibleLog } from '../support/inputs.js';
import { forgedCommands } from '../support/runner-commands.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function immutaWith(
  edit: (state: ReturnType<typeof defaultState>) => void = () => {},
  latencyMs = 0
) {
  const state = defaultState();
  edit(state);
  const standIn = await startImmutaStandIn({ state, latencyMs });
  closers.push(() => standIn.close());
  return standIn;
}

async function issuer(options: Parameters<typeof startOidcIssuer>[0] = {}) {
  const standIn = await startOidcIssuer(options);
  closers.push(() => standIn.close());
  return standIn;
}

const PRODUCTION = 'repo:acme/data-platform:environment:production';

async function snowflake(gh: OidcIssuer, options: Partial<SnowflakeOptions> = {}) {
  const standIn = await startSnowflakeStandIn({
    oidc: { jwks: gh.jwks, subject: PRODUCTION, audiences: ['snowflakecomputing.com'] },
    ...options
  });
  closers.push(() => standIn.close());
  return standIn;
}

async function databricks(
  gh: OidcIssuer,
  options: Partial<DatabricksOptions> = {},
  audience?: string
) {
  const standIn = await startDatabricksStandIn({ warehouseId: 'abc123def456', ...options });
  // The policy's audience is the workspace token endpoint, known once the stand-in listens.
  standIn.options.oidc ??= {
    jwks: gh.jwks,
    subject: PRODUCTION,
    audiences: [audience ?? `${standIn.url}/oidc/v1/token`],
    clientId: '6a1f-sp-application-id'
  };
  closers.push(() => standIn.close());
  return standIn;
}

function snowflakeOidcStep(
  immuta: ImmutaStandIn,
  host: string,
  extra: Record<string, string | undefined> = {}
) {
  return stepInputs(immuta, {
    'run-script': 'snowflake',
    'snowflake-account': 'xy12345',
    'snowflake-host': host,
    'snowflake-auth': 'oidc',
    ...extra
  });
}

function databricksOidcStep(
  immuta: ImmutaStandIn,
  host: string,
  extra: Record<string, string | undefined> = {}
) {
  immuta.placeHost('databricks-uc', host);
  return stepInputs(immuta, {
    'connection-key': 'databricks-uc',
    'run-script': 'databricks',
    'databricks-host': host,
    'databricks-auth': 'oidc',
    'databricks-client-id': '6a1f-sp-application-id',
    'databricks-warehouse-id': 'abc123def456',
    ...extra
  });
}

/** Everything a reader, a later step or an artifact could see of the run. */
async function everythingShown(run: ActionRun, extra: string[] = []): Promise<string> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(file);
      else files.push(await fs.readFile(file, 'utf8'));
    }
  };
  await walk(run.runnerTemp);
  return [visibleLog(run.log), run.summary, JSON.stringify(run.outputs), ...files, ...extra].join(
    '\n'
  );
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

describe('snowflake-auth: oidc', () => {
  it('signs every SQL API request with GitHub’s token as Bearer WIF.OIDC.<jwt>, with no key, token or user', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const sf = await snowflake(gh);
    const envFile = path.join(
      await fs.mkdtemp(path.join(process.env.IMMUTA_TEST_TMP ?? '/tmp', 'env-')),
      'github-env'
    );
    await fs.writeFile(envFile, '');
    const run = await runAction({
      inputs: snowflakeOidcStep(immuta, sf.url),
      env: { ...gh.env, GITHUB_ENV: envFile }
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({
      status: 'deregistered',
      'script-status': 'ran',
      'statements-run': '6'
    });
    // Asked for once, for Snowflake's default audience, with the job's request token.
    expect(gh.tokenRequests).toHaveLength(1);
    expect(gh.tokenRequests[0]!.query).toMatchObject({
      'api-version': '2.0',
      audience: 'snowflakecomputing.com'
    });
    expect(gh.tokenRequests[0]!.headers.authorization).toBe(`Bearer ${gh.requestToken}`);
    const jwt = gh.issued[0]!.jwt;
    // Every request, the checks and each statement and poll, carried it; none was refused.
    expect(sf.requests.length).toBeGreaterThan(12);
    for (const request of sf.requests) {
      expect(request.headers.authorization).toBe(`Bearer WIF.OIDC.${jwt}`);
      expect(request.headers['x-snowflake-authorization-token-type']).toBeUndefined();
      expect(request.refused).toBeUndefined();
      expect(request.wif).toMatchObject({ sub: PRODUCTION, aud: 'snowflakecomputing.com' });
    }
    expect(run.log).toContain(
      `Got GitHub's ID token for this job: sub "${PRODUCTION}", aud "snowflakecomputing.com", iss "https://token.actions.githubusercontent.com"`
    );
    // Masked at once, and in memory only: no file, output, GITHUB_ENV, summary or log holds it.
    expect(run.stdout).toContain(`::add-mask::${jwt}`);
    expect(await fs.readFile(envFile, 'utf8')).toBe('');
    const shown = await everythingShown(run);
    expect(shown).not.toContain(jwt);
    expect(shown).not.toContain(jwt.split('.')[2]!);
    expect(shown).not.toContain(gh.requestToken);
  }, 60_000);

  it('asks for oidc-audience when given, and Snowflake checks that audience', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const sf = await snowflake(gh, {
      oidc: { jwks: gh.jwks, subject: PRODUCTION, audiences: ['https://acme.snowflake.example'] }
    });
    const run = await runAction({
      inputs: snowflakeOidcStep(immuta, sf.url, {
        'oidc-audience': 'https://acme.snowflake.example'
      }),
      env: gh.env
    });
    expect(run.code).toBe(0);
    expect(gh.issued.map((t) => t.audience)).toEqual(['https://acme.snowflake.example']);
  }, 60_000);

  it('without permissions: id-token: write it is bad input, naming that permission, and nothing is sent', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const sf = await snowflake(gh);
    const run = await runAction({ inputs: snowflakeOidcStep(immuta, sf.url) });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      expect.stringMatching(
        /^Input 'snowflake-auth' is oidc, but this job cannot ask GitHub for an ID token: ACTIONS_ID_TOKEN_REQUEST_URL is not set\. Give the job `permissions: id-token: write`/
      )
    ]);
    expect(immuta.requests).toEqual([]);
    expect(sf.requests).toEqual([]);
    expect(gh.requests).toEqual([]);
  }, 60_000);

  it.each([
    [
      'a token for another audience',
      { audiences: ['https://acme.snowflake.example'] },
      {},
      /the audience snowflakecomputing\.com is not allowed/
    ],
    [
      'the subject of a job without the environment',
      {},
      { subject: 'repo:acme/data-platform:ref:refs/heads/main' },
      /the subject repo:acme\/data-platform:ref:refs\/heads\/main does not match/
    ],
    ['a token another key signed', {}, { sign: false }, /the token signature is invalid/]
  ])(
    'is refused at the pre-flight check for %s: nothing generated or deleted, the reason and the sub and aud shown',
    async (_what, policy, claims, reason) => {
      const immuta = await immutaWith();
      const gh = await issuer(claims);
      const sf = await snowflake(gh, {
        oidc: {
          jwks: gh.jwks,
          subject: PRODUCTION,
          audiences: ['snowflakecomputing.com'],
          ...policy
        }
      });
      const run = await runAction({ inputs: snowflakeOidcStep(immuta, sf.url), env: gh.env });
      expect(run.code).toBe(1);
      expect(trail(immuta)).toEqual(['GET /data/connection/snowflake-prod']);
      expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
      const sub = gh.issued[0]!.claims.sub;
      const error = run.errors.at(-1)!;
      expect(error).toMatch(
        /^The pre-flight check in Snowflake failed, so nothing was generated or deleted in Immuta: POST \/api\/v2\/statements answered 401\. Snowflake said: Workload identity federation failed: /
      );
      expect(error).toMatch(reason);
      expect(error).toContain(
        `Snowflake refused GitHub's ID token (sub "${sub}", aud "snowflakecomputing.com", iss "https://token.actions.githubusercontent.com"). The service user's WORKLOAD_IDENTITY must be TYPE = OIDC with ISSUER = 'https://token.actions.githubusercontent.com' and SUBJECT equal to that sub`
      );
      expect(run.summary).toContain('nothing was generated or deleted');
      expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
    },
    60_000
  );

  it('a token that expires between the pre-flight check and the delete, and again mid-script, is fetched anew before each does', async () => {
    // Tokens live 2 s; Immuta answers after 700 ms: the pre-flight check's token has expired by
    // the script check, and the script's statements outlive several more.
    const immuta = await immutaWith(() => {}, 700);
    const gh = await issuer({ lifetimeSeconds: 2 });
    const sf = await snowflake(gh, { pendingPolls: 3 });
    const run = await runAction({ inputs: snowflakeOidcStep(immuta, sf.url), env: gh.env });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
    expect(sf.requests.filter((r) => r.refused)).toEqual([]);
    // Each request carried a token that was current when it was sent.
    const byJwt = new Map(gh.issued.map((t) => [t.jwt, t.claims]));
    for (const request of sf.requests) {
      const claims = byJwt.get(
        String(request.headers.authorization).replace('Bearer WIF.OIDC.', '')
      )!;
      expect(claims.exp * 1000).toBeGreaterThan(request.at);
    }
    // Renewed along the way: the run outlives more than one token. (Which request first carries a
    // new one depends on the machine's speed, so that is not asserted.)
    expect(gh.issued.length).toBeGreaterThanOrEqual(3);
    expect(new Set(sf.requests.map((r) => r.headers.authorization)).size).toBeGreaterThan(1);
  }, 60_000);

  it('when GitHub’s token service fails after the delete, the statement that needs a new token is not sent', async () => {
    const immuta = await immutaWith();
    const gh = await issuer({ lifetimeSeconds: 2 });
    const sf = await snowflake(gh);
    // The delete outlasts the token in hand, and by then the token service answers 500.
    immuta.fault({
      method: 'DELETE',
      path: '/data/object/snowflake-prod',
      delayMs: 2000,
      before: async () => gh.fault({ status: 500, body: { message: 'Internal error' }, times: 50 })
    });
    const run = await runAction({ inputs: snowflakeOidcStep(immuta, sf.url), env: gh.env });
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({
      deleted: 'true',
      'script-status': 'failed',
      'statements-run': '0'
    });
    expect(run.errors.at(-1)).toMatch(
      /^Running the cleanup script in Snowflake failed: Statement 1 of 6 \(USE ROLE ACCOUNTADMIN\) was not sent: GitHub gave no ID token for audience "snowflakecomputing\.com": .*Error Code : 500/
    );
    expect(sf.scripts).toEqual([]);
    expect(sf.requests.filter((r) => r.refused)).toEqual([]);
  }, 60_000);

  it.each<[string, Parameters<OidcIssuer['fault']>[0], RegExp]>([
    [
      'answers an HTML page with 200',
      { status: 200, body: '<html><body>Sign in</body></html>' },
      /GitHub gave no ID token for audience "snowflakecomputing\.com": .*Response json body do not have ID Token field/
    ],
    [
      'answers a value that is no JWT',
      { value: '<script>alert(1)</script>' },
      /What GitHub's token service answered for audience "snowflakecomputing\.com" is not an ID token: it is not a JWT \(25 characters\)/
    ],
    [
      'refuses with 403',
      { status: 403, body: { message: 'Forbidden ::error::forged' } },
      /GitHub gave no ID token .*Error Code : 403/
    ],
    [
      'never answers',
      { hang: true },
      /GitHub gave no ID token for audience "snowflakecomputing\.com": no answer within 2 s \(timeout-seconds\)/
    ]
  ])(
    'when the ID token endpoint %s, the pre-flight check fails and nothing is deleted',
    async (_what, fault, reason) => {
      const immuta = await immutaWith();
      const gh = await issuer();
      const sf = await snowflake(gh);
      gh.fault({ ...fault, times: 20 });
      const run = await runAction({
        inputs: snowflakeOidcStep(immuta, sf.url, { 'timeout-seconds': '2' }),
        env: gh.env
      });
      expect(run.code).toBe(1);
      expect(run.errors.at(-1)).toMatch(
        /^The pre-flight check in Snowflake failed, so nothing was generated or deleted in Immuta: /
      );
      expect(run.errors.at(-1)).toMatch(reason);
      expect(trail(immuta)).toEqual(['GET /data/connection/snowflake-prod']);
      expect(sf.requests).toEqual([]);
      expect(forgedCommands(run.stdout)).toEqual([]);
    },
    60_000
  );

  it('a token whose sub holds runner commands and Markdown forges nothing when the refusal shows it', async () => {
    const immuta = await immutaWith();
    const hostile =
      'repo:acme/x:environment:prod\n::error::forged ##[warning]forged **bold** <img src=x> | cell';
    const gh = await issuer({ subject: hostile });
    const sf = await snowflake(gh);
    const run = await runAction({ inputs: snowflakeOidcStep(immuta, sf.url), env: gh.env });
    expect(run.code).toBe(1);
    expect(forgedCommands(run.stdout)).toEqual([]);
    // Shown as JSON quotes it: the line break as \n, on the error's one line.
    expect(run.errors.at(-1)).toContain(
      'sub "repo:acme/x:environment:prod\\n::error::forged ##[warning]forged **bold** <img src=x> | cell"'
    );
    expect(run.summary).not.toMatch(/<img|\*\*bold|\n::error/);
    expect(run.summary).toContain('\\*\\*bold\\*\\* &lt;img src=x&gt; \\| cell');
  }, 60_000);

  it('a Snowflake that echoes the Authorization header, raw or in base64, shows *** in its place', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const sf = await snowflake(gh);
    sf.fault({
      method: 'POST',
      path: /^\/api\/v2\/statements$/,
      check: true,
      status: 401,
      body: (_handle: string, req: { headers: { authorization: string } }) => ({
        code: '390144',
        message: `Refused ${req.headers.authorization} (${base64(req.headers.authorization)}) (${base64(req.headers.authorization.replace('Bearer WIF.OIDC.', ''))})`
      })
    });
    const run = await runAction({ inputs: snowflakeOidcStep(immuta, sf.url), env: gh.env });
    expect(run.code).toBe(1);
    const jwt = gh.issued[0]!.jwt;
    expect(run.errors.at(-1)).toMatch(
      /Snowflake said: Refused Bearer WIF\.OIDC\.\*\*\* \(\S*\*\*\*\S*\) \(\*\*\*\)/
    );
    const shown = await everythingShown(run);
    for (const form of [jwt, base64(jwt), base64(`Bearer WIF.OIDC.${jwt}`).slice(24, 200)]) {
      expect(shown).not.toContain(form);
    }
  }, 60_000);
});

describe('databricks-auth: oidc', () => {
  it('exchanges GitHub’s token at /oidc/v1/token (RFC 8693) and sends Databricks’ token as Bearer', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const db = await databricks(gh);
    const run = await runAction({ inputs: databricksOidcStep(immuta, db.url), env: gh.env });
    expect(run.code).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'deregistered', 'script-status': 'ran' });
    // The audience the Databricks SDK's github-oidc asks for on a workspace: its token endpoint.
    expect(gh.issued.map((t) => t.audience)).toEqual([`${db.url}/oidc/v1/token`]);
    const exchange = db.requests.find((r) => r.path === '/oidc/v1/token')!;
    expect(exchange.headers.authorization).toBeUndefined();
    expect(exchange.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(exchange.form).toEqual({
      client_id: '6a1f-sp-application-id',
      subject_token: gh.issued[0]!.jwt,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      scope: 'all-apis'
    });
    expect(db.exchanges).toHaveLength(1);
    const access = db.exchanges[0]!.token;
    const statements = db.requests.filter((r) => r.path.startsWith('/api/2.0/sql/statements'));
    expect(statements.length).toBeGreaterThan(2);
    for (const request of statements)
      expect(request.headers.authorization).toBe(`Bearer ${access}`);
    const shown = await everythingShown(run);
    expect(shown).not.toContain(access);
    expect(shown).not.toContain(gh.issued[0]!.jwt);
    expect(run.stdout).toContain(`::add-mask::${access}`);
  }, 60_000);

  it('a token endpoint that echoes the exchange’s body, raw or in base64, shows *** for GitHub’s token', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const db = await databricks(gh);
    db.fault({
      method: 'POST',
      path: /^\/oidc\/v1\/token$/,
      status: 400,
      body: (_req: unknown, body: string) => ({
        error: 'invalid_request',
        error_description: `Could not read ${body} (${base64(body)}) (${base64(`x${body}`)})`
      })
    });
    const run = await runAction({ inputs: databricksOidcStep(immuta, db.url), env: gh.env });
    expect(run.code).toBe(1);
    const jwt = gh.issued[0]!.jwt;
    expect(run.errors.at(-1)).toContain('subject_token=***&');
    const shown = await everythingShown(run);
    expect(shown).not.toContain(jwt);
    // The characters of each base64 that the token's bytes alone decide, at both alignments.
    const body = db.requests[0]!.body;
    for (const text of [body, `x${body}`]) {
      const at = text.indexOf(jwt);
      const inner = base64(text).slice(
        Math.ceil((at * 8) / 6),
        Math.floor(((at + jwt.length) * 8) / 6)
      );
      expect(inner.length).toBeGreaterThan(100);
      expect(shown).not.toContain(inner);
    }
  }, 60_000);

  it('a warehouse that echoes the exchanged token on a 401 shows *** in its place', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const db = await databricks(gh);
    db.fault({
      method: 'POST',
      path: /^\/api\/2\.0\/sql\/statements$/,
      check: true,
      status: 401,
      body: (req: { headers: { authorization: string } }) => ({
        error_code: 'UNAUTHENTICATED',
        message: `Invalid access token: ${req.headers.authorization} (${base64(req.headers.authorization)})`
      })
    });
    const run = await runAction({ inputs: databricksOidcStep(immuta, db.url), env: gh.env });
    expect(run.code).toBe(1);
    const access = db.exchanges[0]!.token;
    expect(run.errors.at(-1)).toContain('Databricks said: Invalid access token: Bearer *** (');
    expect(run.errors.at(-1)).toContain(
      "Databricks refused the token it gave for GitHub's ID token (sub"
    );
    const shown = await everythingShown(run);
    expect(shown).not.toContain(access);
    expect(shown).not.toContain(base64(`Bearer ${access}`).slice(10, 40));
  }, 60_000);

  it('a trailing slash on databricks-host changes neither the audience nor the endpoint', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const db = await databricks(gh);
    const run = await runAction({ inputs: databricksOidcStep(immuta, `${db.url}/`), env: gh.env });
    expect(run.code).toBe(0);
    expect(gh.issued.map((t) => t.audience)).toEqual([`${db.url}/oidc/v1/token`]);
    expect(db.requests[0]!.path).toBe('/oidc/v1/token');
  }, 60_000);

  it('an exchange the federation policy refuses stops the pre-flight check, passing on why and the sub and aud', async () => {
    const immuta = await immutaWith();
    const gh = await issuer({ subject: 'repo:acme/data-platform:environment:staging' });
    const db = await databricks(gh);
    const run = await runAction({ inputs: databricksOidcStep(immuta, db.url), env: gh.env });
    expect(run.code).toBe(1);
    expect(trail(immuta)).toEqual(['GET /data/connection/databricks-uc']);
    expect(db.requests.map((r) => r.path)).toEqual(['/oidc/v1/token']);
    expect(run.errors.at(-1)).toBe(
      `The pre-flight check in Databricks failed, so nothing was generated or deleted in Immuta: POST /oidc/v1/token answered 400. Databricks said: Token federation policy did not match: the subject repo:acme/data-platform:environment:staging does not match. Databricks refused GitHub's ID token for service principal 6a1f-sp-application-id (sub "repo:acme/data-platform:environment:staging", aud "${db.url}/oidc/v1/token", iss "https://token.actions.githubusercontent.com"). The principal's federation policy must name issuer https://token.actions.githubusercontent.com, subject equal to that sub, and that aud among its audiences (oidc-audience sets the aud asked for); databricks-client-id must be the principal's application ID.`
    );
  }, 60_000);

  it('a policy naming the account ID as audience works with oidc-audience set to it', async () => {
    const immuta = await immutaWith();
    const gh = await issuer();
    const db = await databricks(gh, {}, '0d26daa6-5e44-4c97-a497-ef015f91254a');
    const run = await runAction({
      inputs: databricksOidcStep(immuta, db.url, {
        'oidc-audience': '0d26daa6-5e44-4c97-a497-ef015f91254a'
      }),
      env: gh.env
    });
    expect(run.code).toBe(0);
    expect(gh.issued.map((t) => t.audience)).toEqual(['0d26daa6-5e44-4c97-a497-ef015f91254a']);
  }, 60_000);

  it('renews Databricks’ token, with a fresh GitHub token each time, before either expires mid-script', async () => {
    const immuta = await immutaWith((state) => {
      state.integrations[2]!.script = [
        'DROP SCHEMA IF EXISTS immuta.a CASCADE;',
        'DROP SCHEMA IF EXISTS immuta.b CASCADE;',
        'DROP SCHEMA IF EXISTS immuta.c CASCADE;',
        'DROP CATALOG IF EXISTS immuta CASCADE;',
        ''
      ].join('\n');
    });
    const gh = await issuer({ lifetimeSeconds: 2 });
    const db = await databricks(gh, { polls: 3 });
    const run = await runAction({ inputs: databricksOidcStep(immuta, db.url), env: gh.env });
    expect(run.code).toBe(0);
    expect(run.outputs['script-status']).toBe('ran');
    expect(db.requests.filter((r) => r.refused)).toEqual([]);
    expect(db.exchanges.length).toBeGreaterThan(1);
    // Each exchange was given a token of its own.
    const given = db.requests
      .filter((r) => r.path === '/oidc/v1/token')
      .map((r) => r.form!.subject_token);
    expect(new Set(given).size).toBe(given.length);
  }, 60_000);
});

describe('a re-run after the federation policy refused the exchange mid-script', () => {
  let azurite: Azurite;
  beforeAll(async () => (azurite = await startAzurite()), 60_000);
  afterAll(async () => azurite?.stop());

  const SCRIPT = [
    'DROP SCHEMA IF EXISTS immuta.a CASCADE;',
    'DROP SCHEMA IF EXISTS immuta.b CASCADE;',
    'DROP CATALOG IF EXISTS immuta CASCADE;',
    ''
  ].join('\n');
  const RAN = [
    'DROP SCHEMA IF EXISTS immuta.a CASCADE',
    'DROP SCHEMA IF EXISTS immuta.b CASCADE',
    'DROP CATALOG IF EXISTS immuta CASCADE'
  ];

  async function setUp(polls: number) {
    const service = await startArtifactService({ azurite });
    closers.push(() => service.close());
    const immuta = await immutaWith((state) => (state.integrations[2]!.script = SCRIPT));
    const gh = await issuer({ lifetimeSeconds: 2 });
    const db = await databricks(gh, { polls });
    const env = (n: number) => ({
      ...gh.env,
      ...service.env(RUN_BACKEND_ID, `job-deregister-attempt-${n}`),
      GITHUB_RUN_ATTEMPT: String(n)
    });
    const inputs = databricksOidcStep(immuta, db.url, {
      'upload-artifact': 'true',
      'if-missing': 'warn'
    });
    return { immuta, gh, db, env, inputs };
  }

  it('a statement that could not be signed is not sent, and attempt 2 sends it with a new token', async () => {
    const { immuta, db, env, inputs } = await setUp(1);
    // The principal's policy is removed while the delete is under way, and the delete outlasts
    // the token in hand: the first statement needs a new one, which Databricks refuses.
    immuta.fault({
      method: 'DELETE',
      path: '/data/object/databricks-uc',
      delayMs: 2000,
      before: async () => void (db.options.refuseExchangesAfter = 0)
    });
    const first = await runAction({ inputs, env: env(1) });
    expect(first.code).toBe(1);
    expect(first.outputs).toMatchObject({
      deleted: 'true',
      'script-status': 'failed',
      'statements-run': '0'
    });
    expect(first.errors.at(-1)).toMatch(
      /^Running the cleanup script in Databricks failed: Statement 1 of 3 \(DROP SCHEMA IF EXISTS immuta\.a CASCADE\) was not sent: POST \/oidc\/v1\/token answered 401\. Databricks said: the service principal has no federation policy\. Databricks refused GitHub's ID token for service principal 6a1f-sp-application-id \(sub "repo:acme\/data-platform:environment:production"/
    );
    expect(first.summary).toContain('| 1 | `DROP SCHEMA IF EXISTS immuta.a CASCADE` | not run |');
    expect(db.executed).toEqual([]);

    db.options.refuseExchangesAfter = undefined;
    const second = await runAction({ inputs, env: env(2) });
    expect(second.code).toBe(0);
    expect(second.outputs).toMatchObject({
      status: 'already-absent',
      'script-status': 'ran',
      'statements-run': '3'
    });
    expect(db.ran.map((r) => r.statement)).toEqual(RAN);
  }, 120_000);

  it('a statement followed when its token could not be renewed is in doubt, and attempt 2 asks Databricks how it ended', async () => {
    const { gh, db, env, inputs } = await setUp(5);
    // The policy goes as the first statement is sent; it runs for longer than the token lives.
    void db
      .waitFor((r) => r.method === 'POST' && r.path === '/api/2.0/sql/statements' && !r.check)
      .then(() => (db.options.refuseExchangesAfter = 0));
    const first = await runAction({ inputs, env: env(1) });
    expect(first.code).toBe(1);
    expect(first.outputs).toMatchObject({
      deleted: 'true',
      'script-status': 'failed',
      'statements-run': '0'
    });
    expect(first.errors.at(-1)).toMatch(
      /Statement 1 of 3 \(DROP SCHEMA IF EXISTS immuta\.a CASCADE\) may or may not have run: No request about it could be signed \(POST \/oidc\/v1\/token answered 401\. .*\), so it may have run or still be running \(statement_id [0-9a-f-]{36}\); a re-run asks Databricks how it ended\./
    );
    expect(db.executed).toEqual(['DROP SCHEMA IF EXISTS immuta.a CASCADE']);

    db.options.refuseExchangesAfter = undefined;
    db.options.polls = 1;
    const second = await runAction({ inputs, env: env(2) });
    expect(second.code).toBe(0);
    expect(second.log).toMatch(
      /Statement 1 of 3 \(DROP SCHEMA IF EXISTS immuta\.a CASCADE\): Databricks says the request an earlier attempt sent ran\./
    );
    // Sent once in all: attempt 2 read its statement_id back instead of sending it again.
    expect(db.sent('DROP SCHEMA IF EXISTS immuta.a CASCADE')).toBe(1);
    expect(db.ran.map((r) => r.statement)).toEqual(RAN);
    expect(gh.issued.length).toBeGreaterThan(2);
  }, 120_000);
});
