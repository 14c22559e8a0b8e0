// Issue 23 as units: the keyless inputs (snowflake-auth, databricks-auth, oidc-audience,
// github-token) checked before any request, GitHub's ID token read and refused in every shape a
// stranger could send, and the review history read and shown escaped.
import { describe, expect, it } from '@jest/globals';
import { readWarehouse } from '../../src/warehouse/settings.js';
import { GitHubIdTokens, readIdToken } from '../../src/warehouse/github-oidc.js';
import { InputError } from '../../src/action/input-readers.js';
import { parseInputs } from '../../src/action/inputs.js';
import { readStep } from '../../src/action/step-inputs.js';
import { coreSource } from '../support/input-source.js';
import { Secrets } from '../../src/action/secrets.js';
import { readReviews, type ApprovalRecord } from '../../src/approvals/review-history.js';
import { approvalsLine, approvalsMarkdown } from '../../src/reports/approvals.js';
import { WarehouseError } from '../../src/warehouse/types.js';

const PERMITTED = {
  ACTIONS_ID_TOKEN_REQUEST_URL:
    'https://pipelines.actions.githubusercontent.com/x/idtoken?api-version=2.0',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token-0123456789'
};

function settings(values: Record<string, string>, env: Record<string, string> = PERMITTED) {
  const warnings: string[] = [];
  const result = readWarehouse(
    (name) => values[name] ?? '',
    false,
    (w) => warnings.push(w),
    env
  );
  return { result, warnings };
}

function refusal(values: Record<string, string>, env: Record<string, string> = PERMITTED) {
  try {
    settings(values, env);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

const SNOWFLAKE = { 'run-script': 'snowflake', 'snowflake-account': 'myorg-acct' };
const DATABRICKS = {
  'run-script': 'databricks',
  'databricks-host': 'https://dbc-1.cloud.databricks.com',
  'databricks-warehouse-id': 'abc123'
};

describe('snowflake-auth: oidc', () => {
  it('needs no user, key or token, and asks for snowflakecomputing.com', () => {
    const { result, warnings } = settings({ ...SNOWFLAKE, 'snowflake-auth': 'oidc' });
    expect(result).toMatchObject({
      platform: 'snowflake',
      user: undefined,
      host: 'https://myorg-acct.snowflakecomputing.com',
      auth: { kind: 'oidc', audience: 'snowflakecomputing.com' }
    });
    expect(warnings).toEqual([]);
  });

  it('asks for oidc-audience when given', () => {
    const { result } = settings({
      ...SNOWFLAKE,
      'snowflake-auth': 'OIDC',
      'oidc-audience': 'https://snowflake.acme.example'
    });
    expect(result?.auth).toEqual({ kind: 'oidc', audience: 'https://snowflake.acme.example' });
  });

  it.each(['snowflake-private-key', 'snowflake-private-key-passphrase', 'snowflake-token'])(
    'refuses %s beside it: one way to sign in',
    (input) => {
      const error = refusal({
        ...SNOWFLAKE,
        'snowflake-auth': 'oidc',
        [input]: 'something-secret'
      });
      expect(error.input).toBe(input);
      expect(error.message).toMatch(
        /is set, but snowflake-auth is oidc: GitHub's ID token signs in instead/
      );
    }
  );

  it('warns that snowflake-user is not used: Snowflake finds the user from the token', () => {
    const { warnings } = settings({
      ...SNOWFLAKE,
      'snowflake-auth': 'oidc',
      'snowflake-user': 'svc'
    });
    expect(warnings).toEqual([
      "snowflake-user is set but not used with snowflake-auth: oidc: Snowflake finds the user whose WORKLOAD_IDENTITY matches the token's issuer and subject."
    ]);
  });

  it.each([
    ['no variable at all', {}],
    [
      'the URL without the request token',
      { ACTIONS_ID_TOKEN_REQUEST_URL: PERMITTED.ACTIONS_ID_TOKEN_REQUEST_URL }
    ]
  ])('is bad input without permissions: id-token: write (%s)', (_what, env) => {
    const error = refusal({ ...SNOWFLAKE, 'snowflake-auth': 'oidc' }, env);
    expect(error.input).toBe('snowflake-auth');
    expect(error.message).toContain('`permissions: id-token: write`');
    expect(error.message).toContain('ACTIONS_ID_TOKEN_REQUEST_URL is not set');
  });

  it('a value of oidc-audience on two lines is refused', () => {
    expect(refusal({ ...SNOWFLAKE, 'snowflake-auth': 'oidc', 'oidc-audience': 'a\nb' }).input).toBe(
      'oidc-audience'
    );
  });
});

describe('snowflake-auth: key-pair, token, and empty (chosen from the credentials, as before)', () => {
  it('key-pair with a token given is refused; without a key it names the key', () => {
    expect(
      refusal({
        ...SNOWFLAKE,
        'snowflake-auth': 'key-pair',
        'snowflake-user': 'u',
        'snowflake-token': 'pat-0123456789'
      }).input
    ).toBe('snowflake-token');
    expect(
      refusal({ ...SNOWFLAKE, 'snowflake-auth': 'key-pair', 'snowflake-user': 'u' }).message
    ).toMatch(/snowflake-private-key' is required with snowflake-auth: key-pair/);
  });

  it('token needs snowflake-token and still a user', () => {
    expect(refusal({ ...SNOWFLAKE, 'snowflake-auth': 'token', 'snowflake-user': 'u' }).input).toBe(
      'snowflake-token'
    );
    expect(
      refusal({ ...SNOWFLAKE, 'snowflake-auth': 'token', 'snowflake-token': 'pat-0123456789' })
        .input
    ).toBe('snowflake-user');
    const { result } = settings({
      ...SNOWFLAKE,
      'snowflake-auth': 'token',
      'snowflake-user': 'u',
      'snowflake-token': 'pat-0123456789'
    });
    expect(result?.auth).toMatchObject({ kind: 'token', tokenType: 'PROGRAMMATIC_ACCESS_TOKEN' });
  });

  it('empty with no credential says the keyless way too', () => {
    expect(refusal({ ...SNOWFLAKE, 'snowflake-user': 'u' }).message).toContain(
      "sign in keylessly with GitHub's ID token (snowflake-auth: oidc)"
    );
  });

  it('an unknown way is refused with the ones there are', () => {
    expect(refusal({ ...SNOWFLAKE, 'snowflake-auth': 'password' }).message).toBe(
      `Input 'snowflake-auth' must be one of key-pair, token, oidc, but was "password".`
    );
  });

  it('oidc-audience with another way to sign in is a warning, not used', () => {
    const { warnings } = settings({
      ...SNOWFLAKE,
      'snowflake-user': 'u',
      'snowflake-token': 'pat-0123456789',
      'oidc-audience': 'x'
    });
    expect(warnings).toEqual([
      'oidc-audience is set but not used: snowflake-auth is token, not oidc.'
    ]);
  });

  it('with run-script none, the keyless inputs are named as unused too', () => {
    const { result, warnings } = settings({ 'snowflake-auth': 'oidc', 'oidc-audience': 'x' });
    expect(result).toBeUndefined();
    expect(warnings).toEqual([
      'snowflake-auth, oidc-audience are set but not used with run-script: none.'
    ]);
  });
});

describe('databricks-auth: oidc', () => {
  it.each([
    'https://dbc-1.cloud.databricks.com',
    'https://dbc-1.cloud.databricks.com/',
    'https://dbc-1.cloud.databricks.com:443//'
  ])(
    'asks for the workspace token endpoint as audience, whatever the host ends with (%s)',
    (host) => {
      const { result } = settings({
        ...DATABRICKS,
        'databricks-host': host,
        'databricks-auth': 'oidc',
        'databricks-client-id': '3f2a-sp'
      });
      expect(result?.auth).toEqual({
        kind: 'oidc',
        clientId: '3f2a-sp',
        audience: 'https://dbc-1.cloud.databricks.com/oidc/v1/token'
      });
    }
  );

  it('needs the service principal and takes no secret or token', () => {
    expect(refusal({ ...DATABRICKS, 'databricks-auth': 'oidc' }).message).toMatch(
      /databricks-client-id' is required with databricks-auth: oidc: give the service principal's application ID/
    );
    for (const input of ['databricks-client-secret', 'databricks-token']) {
      const error = refusal({
        ...DATABRICKS,
        'databricks-auth': 'oidc',
        'databricks-client-id': '3f2a-sp',
        [input]: 'dose-secret-0123'
      });
      expect(error.input).toBe(input);
    }
  });

  it('is bad input without permissions: id-token: write', () => {
    const error = refusal(
      { ...DATABRICKS, 'databricks-auth': 'oidc', 'databricks-client-id': '3f2a-sp' },
      {}
    );
    expect(error.input).toBe('databricks-auth');
    expect(error.message).toContain('`permissions: id-token: write`');
  });

  it('a client ID without a secret, nothing chosen, points at oidc', () => {
    expect(refusal({ ...DATABRICKS, 'databricks-client-id': '3f2a-sp' }).message).toContain(
      'set databricks-auth: oidc'
    );
  });

  it('token and oauth, chosen, refuse the other way’s inputs', () => {
    expect(
      refusal({
        ...DATABRICKS,
        'databricks-auth': 'token',
        'databricks-token': 'dapi0123',
        'databricks-client-id': 'x'
      }).input
    ).toBe('databricks-client-id');
    expect(
      refusal({
        ...DATABRICKS,
        'databricks-auth': 'oauth',
        'databricks-token': 'dapi0123',
        'databricks-client-id': 'x',
        'databricks-client-secret': 'y'
      }).input
    ).toBe('databricks-token');
  });
});

describe('github-token', () => {
  const base = {
    'immuta-url': 'https://acme.immuta.com',
    'api-key': 'k',
    'connection-key': 'snowflake-prod'
  };
  const parse = (values: Record<string, string>, passed = Object.keys(values)) =>
    parseInputs(
      readStep(
        coreSource(values),
        passed.map((n) => `INPUT_${n.toUpperCase()}`)
      ),
      { RUNNER_TEMP: '/tmp' }
    );

  it('is the token the runner passed', () => {
    expect(parse({ ...base, 'github-token': 'ghs_abc123' }).githubToken).toBe('ghs_abc123');
  });

  it('passed empty reads no review history, and is no mistake to stop for', () => {
    expect(parse({ ...base, 'github-token': '' }).githubToken).toBeUndefined();
  });

  it("outside a runner, action.yml's unevaluated default is no token", () => {
    expect(parse(base).githubToken).toBeUndefined();
    expect(parse({ ...base, 'github-token': '${{ github.token }}' }).githubToken).toBeUndefined();
  });

  it('a token on two lines is refused', () => {
    expect(() => parse({ ...base, 'github-token': 'ghs_a\nghs_b' })).toThrow(
      /Input 'github-token' contains a control character/
    );
  });
});

/** A JWT with these claims; its signature is not checked here (the platforms check it). */
function jwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('sig').toString('base64url')}`;
}

const NOW = 1_800_000_000_000;

describe('readIdToken', () => {
  it('reads iss, sub, aud and exp', () => {
    const token = jwt({
      iss: 'https://token.actions.githubusercontent.com',
      sub: 'repo:acme/data-platform:environment:production',
      aud: ['snowflakecomputing.com', 42],
      exp: NOW / 1000 + 300
    });
    expect(readIdToken(token, NOW)).toEqual({
      jwt: token,
      claims: {
        iss: 'https://token.actions.githubusercontent.com',
        sub: 'repo:acme/data-platform:environment:production',
        aud: ['snowflakecomputing.com'],
        exp: NOW / 1000 + 300
      }
    });
  });

  it.each<[string, unknown, RegExp]>([
    ['an HTML page', '<html><body>Sign in</body></html>', /^it is not a JWT \(33 characters\)$/],
    ['nothing', undefined, /^it holds no token$/],
    ['a JWT whose claims are not JSON', 'abc.def.ghi', /^its claims cannot be read$/],
    ['a JWT without exp', jwt({ sub: 'x' }), /^it has no expiry \(exp\)$/],
    [
      'an expired one',
      jwt({ sub: 'x', exp: NOW / 1000 - 1 }),
      /before it arrived: check the runner's clock$/
    ],
    ['one past 16 KiB', `${'a'.repeat(17_000)}.b.c`, /^it is not a JWT/]
  ])('refuses %s', (_what, value, reason) => {
    expect(readIdToken(value, NOW)).toMatch(reason);
  });
});

describe('GitHubIdTokens', () => {
  const options = (
    get: (audience: string) => Promise<string>,
    secrets = new Secrets(() => {})
  ) => ({
    audience: 'snowflakecomputing.com',
    secrets,
    timeoutMs: 200,
    requestToken: 'request-token-0123456789',
    get,
    log: { info: () => undefined },
    now: () => NOW
  });

  it('masks the token the moment it comes, and the request token from the start', async () => {
    const masked: string[] = [];
    const secrets = new Secrets((s) => masked.push(s));
    const token = jwt({
      sub: 'repo:a/b:environment:prod',
      aud: 'snowflakecomputing.com',
      exp: NOW / 1000 + 60
    });
    const tokens = new GitHubIdTokens(options(async () => token, secrets));
    expect(masked).toContain('request-token-0123456789');
    expect(tokens.claimsSaid()).toBe('aud "snowflakecomputing.com" (asked for)');
    await tokens.fresh();
    expect(masked).toContain(token);
    expect(secrets.redact(`Bearer WIF.OIDC.${token}`)).toBe('Bearer WIF.OIDC.***');
    expect(tokens.claimsSaid()).toBe(
      'sub "repo:a/b:environment:prod", aud "snowflakecomputing.com", iss "none"'
    );
  });

  it('says why GitHub gave none, its words redacted', async () => {
    const tokens = new GitHubIdTokens(
      options(async () => {
        throw new Error(
          'Failed to get ID Token. Error Code : 401 Error Message: bad request-token-0123456789'
        );
      })
    );
    await expect(tokens.fresh()).rejects.toThrow(WarehouseError);
    await expect(tokens.fresh()).rejects.toThrow(
      /^GitHub gave no ID token for audience "snowflakecomputing\.com": Failed to get ID Token\. Error Code : 401 Error Message: bad \*\*\*\. The job needs `permissions: id-token: write`/
    );
  });

  it('gives up on an endpoint that never answers, after timeout-seconds', async () => {
    const tokens = new GitHubIdTokens(options(() => new Promise<string>(() => undefined)));
    await expect(tokens.fresh()).rejects.toThrow(/no answer within 0\.2 s \(timeout-seconds\)/);
  });

  it('refuses a value that is no JWT, saying a proxy may have answered', async () => {
    const tokens = new GitHubIdTokens(options(async () => '<html>login</html>'));
    await expect(tokens.fresh()).rejects.toThrow(
      /is not an ID token: it is not a JWT \(18 characters\)\. A proxy may have answered in its place\./
    );
  });

  it('quotes hostile claims as JSON, on one line', async () => {
    const token = jwt({ sub: '::error::x\n**bold**"', aud: 'a', exp: NOW / 1000 + 60 });
    const tokens = new GitHubIdTokens(options(async () => token));
    await tokens.fresh();
    expect(tokens.claimsSaid()).toBe('sub "::error::x\\n**bold**\\"", aud "a", iss "none"');
  });
});

const REVIEW = {
  environments: [{ id: 1, name: 'production' }],
  state: 'approved',
  user: { login: 'octocat', id: 1 },
  comment: 'Ship it!'
};

describe('readReviews', () => {
  const secrets = new Secrets(() => {});
  secrets.add('ghs_secret0123456789');

  it('reads the documented shape', () => {
    expect(readReviews([REVIEW, { ...REVIEW, state: 'rejected', comment: null }], secrets)).toEqual(
      [
        { login: 'octocat', state: 'approved', comment: 'Ship it!', environments: ['production'] },
        { login: 'octocat', state: 'rejected', comment: '', environments: ['production'] }
      ]
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['a page', '<html>Sign in</html>', /^text, not JSON/],
    ['an object', { message: 'ok' }, /^not a list$/],
    ['a review without a login', [{ ...REVIEW, user: {} }], /^review 1 lacks/],
    [
      'a review without environments',
      [{ ...REVIEW, environments: 'production' }],
      /^review 1 lacks/
    ],
    ['more reviews than any run has', Array(1001).fill(REVIEW), /^1001 reviews/]
  ])('refuses %s', (_what, data, reason) => {
    expect(readReviews(data, secrets)).toMatch(reason);
  });

  it('cuts, redacts and shows what cannot be seen', () => {
    const [review] = readReviews(
      [{ ...REVIEW, comment: `ok\u200b ghs_secret0123456789 ${'x'.repeat(2000)}` }],
      secrets
    ) as { comment: string }[];
    expect(review!.comment).toMatch(/^ok\\u\{200b\} \*\*\* x+…$/);
    expect(review!.comment.length).toBeLessThan(1100);
  });
});

describe('the review history in the summary', () => {
  const record = (reviews: ApprovalRecord['reviews'], error?: string): ApprovalRecord => ({
    source: 'GET /repos/acme/data-platform/actions/runs/4242/approvals',
    readAt: '2026-01-02T03:04:05.000Z',
    reviews,
    error
  });

  it('a row a review, every value escaped', () => {
    const markdown = approvalsMarkdown(
      record([
        {
          login: 'bad`user|x',
          state: 'approved',
          comment: '::error::forged ##[error]x **bold** <img src=x onerror=alert(1)> | cell\nrow',
          environments: ['prod|uction']
        }
      ]),
      '4242'
    );
    const rows = markdown.split('\n').filter((l) => l.startsWith('| `'));
    expect(rows).toEqual([
      '| `prod\\|uction` | ``bad`user\\|x`` | approved | \\:\\:error\\:\\:forged \\#\\#\\[error\\]x \\*\\*bold\\*\\* &lt;img src=x onerror=alert\\(1\\)&gt; \\| cell row |'
    ]);
    expect(markdown).toContain('(GitHub does not say when each review was given)');
  });

  it('says when it could not be read, and when there was no review', () => {
    expect(approvalsMarkdown(record(undefined, 'GitHub answered 403 (x)'), '4242')).toContain(
      'It could not be read (GitHub answered 403 \\(x\\)), so this summary and the report do not say who approved. The step went on.'
    );
    expect(approvalsMarkdown(record([]), '4242')).toContain('GitHub lists no review for this run');
    expect(approvalsLine(record([]))).toBe(
      'The review history of this workflow run lists no review.'
    );
  });
});
