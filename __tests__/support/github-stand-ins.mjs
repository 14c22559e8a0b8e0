// Loopback stand-ins for GitHub's side of a job: the runner's OIDC token endpoint (what
// ACTIONS_ID_TOKEN_REQUEST_URL names, answering {"value": "<jwt>"} as the runner's does, the JWT
// RS256-signed with a key its JWKS publishes) and the REST API's review history of a workflow
// run (GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals, in its documented shape).
// verifyIdToken checks a token as Snowflake and Databricks do: signature by the JWKS key the
// header names, issuer, audience, subject, expiry.
import {
  createPublicKey,
  createSign,
  createVerify,
  generateKeyPairSync,
  randomUUID
} from 'node:crypto';
import { JOB_TOKEN } from './run-action.mjs';
import { listen, reply } from './loopback.mjs';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const REPOSITORY = 'acme/data-platform';
export const RUN_ID = '4242';

/** JSON as GitHub sends it; a string body goes out as a page. */
function send(res, status, body, headers = {}) {
  reply(res, status, body, headers, 'application/json; charset=utf-8');
}

/** The first matching fault, used up `times` times; a fault of `hang` never answers. */
function takeFault(faults) {
  const fault = faults[0];
  if (fault && --fault.times <= 0) faults.shift();
  return fault;
}

/** A fault's answer: a status and body, a connection reset, silence, or a body that never ends. */
function answerFault(fault, req, res) {
  if (fault.reset) return req.socket.destroy();
  if (fault.hang) return undefined;
  if (fault.endless) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    const timer = setInterval(() => res.write(`${JSON.stringify({ pad: 'x'.repeat(4096) })},`), 5);
    res.on('close', () => clearInterval(timer));
    return undefined;
  }
  return send(res, fault.status ?? 500, fault.body ?? { message: 'Injected' }, fault.headers);
}

/**
 * The runner's ID token endpoint and GitHub's issuer. options (changeable through `options`):
 * subject (default repo:acme/data-platform:environment:production), lifetimeSeconds (exp - iat,
 * 300 by default; GitHub's tokens live minutes), claims (more claims, or ones that replace
 * GitHub's), sign (false sends an unsigned token's parts, as a forger would).
 * fault({status, body (a string goes out as a page), value (the "value" answered, as is),
 * reset, hang, times}). `issued` holds every token it gave, with its audience and claims;
 * `jwks` is what /.well-known/jwks publishes.
 */
export async function startOidcIssuer(given = {}) {
  const options = {
    subject: `repo:${REPOSITORY}:environment:production`,
    lifetimeSeconds: 300,
    claims: {},
    ...given
  };
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  const jwks = {
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }]
  };
  const requestToken = `idreq-${randomUUID()}`;
  const requests = [];
  const issued = [];
  const faults = [];

  function mint(audience) {
    const now = Math.floor(Date.now() / 1000);
    const environment = /:environment:(.+)$/.exec(options.subject)?.[1];
    const claims = {
      jti: randomUUID(),
      sub: options.subject,
      aud: audience,
      ref: 'refs/heads/main',
      repository: REPOSITORY,
      repository_owner: REPOSITORY.split('/')[0],
      run_id: RUN_ID,
      run_attempt: '1',
      actor: 'octocat',
      event_name: 'workflow_dispatch',
      ...(environment ? { environment } : {}),
      iss: GITHUB_ISSUER,
      nbf: now - 5,
      iat: now,
      exp: now + options.lifetimeSeconds,
      ...options.claims
    };
    const header = { typ: 'JWT', alg: 'RS256', x5t: 'stand-in', kid };
    const unsigned = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    const signature =
      options.sign === false
        ? b64('not a signature')
        : createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url');
    const jwt = `${unsigned}.${signature}`;
    issued.push({ jwt, audience, claims, at: Date.now() });
    return jwt;
  }

  const server = await listen((req, res) => {
    const url = new URL(req.url, 'http://x');
    const entry = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      at: Date.now()
    };
    requests.push(entry);
    if (url.pathname === '/.well-known/jwks') return send(res, 200, jwks);
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(res, 200, {
        issuer: GITHUB_ISSUER,
        jwks_uri: `${GITHUB_ISSUER}/.well-known/jwks`,
        id_token_signing_alg_values_supported: ['RS256']
      });
    }
    const fault = takeFault(faults);
    if (fault) {
      if (fault.value !== undefined) return send(res, 200, { value: fault.value });
      return answerFault(fault, req, res);
    }
    if (req.headers.authorization !== `Bearer ${requestToken}`) {
      // Inferred shape: the token service's refusal of a request without the job's token.
      return send(res, 401, { message: 'The user is not authorized to access this resource.' });
    }
    const audience =
      url.searchParams.get('audience') ?? `https://github.com/${REPOSITORY.split('/')[0]}`;
    entry.audience = audience;
    return send(res, 200, { value: mint(audience) });
  });

  return {
    ...server,
    options,
    requests,
    issued,
    jwks,
    requestToken,
    fault: (spec) => faults.push({ times: 1, ...spec }),
    /** The variables the runner sets for a job with `permissions: id-token: write`. */
    get env() {
      return {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${server.url}/_apis/distributedtask/hubs/Actions/plans/5e7a/jobs/1d2c/idtoken?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken
      };
    },
    /** The token requests that reached the endpoint (not the JWKS reads). */
    get tokenRequests() {
      return requests.filter((r) => r.path.endsWith('/idtoken'));
    }
  };
}

function b64(text) {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/**
 * Checks a GitHub ID token as a relying party does: RS256, signed by the key of the JWKS its
 * header names, from `issuer`, for one of `audiences`, about `subject`, not expired and already
 * valid (a minute of clock skew). Returns { claims } or { reason }.
 */
export function verifyIdToken(
  jwt,
  { jwks, issuer = GITHUB_ISSUER, audiences, subject, now = Date.now() }
) {
  const parts = String(jwt).split('.');
  if (parts.length !== 3) return { reason: 'the token is not a JWT' };
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  } catch {
    return { reason: 'the token cannot be decoded' };
  }
  if (header.alg !== 'RS256') return { reason: `the token's algorithm ${header.alg} is not RS256` };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { reason: `no key ${header.kid} in the issuer's JWKS` };
  const ok = createVerify('RSA-SHA256')
    .update(`${parts[0]}.${parts[1]}`)
    .verify(createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(parts[2], 'base64url'));
  if (!ok) return { reason: 'the token signature is invalid', claims };
  if (claims.iss !== issuer) return { reason: `the issuer ${claims.iss} is not trusted`, claims };
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.some((a) => audiences.includes(a))) {
    return { reason: `the audience ${claims.aud} is not allowed`, claims };
  }
  if (claims.sub !== subject) return { reason: `the subject ${claims.sub} does not match`, claims };
  if (!(typeof claims.exp === 'number' && claims.exp * 1000 > now)) {
    return { reason: 'the token has expired', claims, expired: true };
  }
  if (typeof claims.nbf === 'number' && claims.nbf * 1000 > now + 60_000) {
    return { reason: 'the token is not valid yet', claims };
  }
  return { claims };
}

/** One review of a run, in the documented shape of the review history's entries. */
export function review({
  login = 'octocat',
  state = 'approved',
  comment = 'Ship it!',
  environments = ['production']
} = {}) {
  return {
    environments: environments.map((name, i) => ({
      id: 161088068 + i,
      node_id: 'MDExOkVudmlyb25tZW50MTYxMDg4MDY4',
      name,
      url: `https://api.github.com/repos/${REPOSITORY}/environments/${encodeURIComponent(name)}`,
      html_url: `https://github.com/${REPOSITORY}/deployments/activity_log?environments_filter=${encodeURIComponent(name)}`,
      created_at: '2020-11-23T22:00:40Z',
      updated_at: '2020-11-23T22:00:41Z'
    })),
    state,
    user: {
      login,
      id: 1,
      node_id: 'MDQ6VXNlcjE=',
      avatar_url: 'https://github.com/images/error/octocat_happy.gif',
      gravatar_id: '',
      url: `https://api.github.com/users/${login}`,
      html_url: `https://github.com/${login}`,
      type: 'User',
      site_admin: false
    },
    comment
  };
}

/**
 * GitHub's REST API, as much as the review history needs. options (changeable): token (the one
 * it accepts, JOB_TOKEN by default), actionsRead (false: the token lacks `actions: read`),
 * reviews (run ID -> entries, `review()` makes one), everyRun (the entries of a run not in
 * reviews; undefined: such a run is not found). Refusals are GitHub's documented ones:
 * 401 Bad credentials, 403 Resource not accessible by integration, 404 Not Found, each
 * {message, documentation_url, status}. fault({status, body, reset, hang, endless, times}).
 */
export async function startGitHubApi(given = {}) {
  const options = { token: JOB_TOKEN, actionsRead: true, reviews: { [RUN_ID]: [] }, ...given };
  const requests = [];
  const faults = [];
  const docs =
    'https://docs.github.com/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run';
  const server = await listen((req, res) => {
    const url = new URL(req.url, 'http://x');
    requests.push({ method: req.method, path: url.pathname, headers: req.headers, at: Date.now() });
    const fault = takeFault(faults);
    if (fault) return answerFault(fault, req, res);
    const given = /^(?:token|Bearer) (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given !== options.token) {
      return send(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401'
      });
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/approvals$/.exec(url.pathname);
    const reviews = m ? (options.reviews[m[3]] ?? options.everyRun) : undefined;
    if (req.method !== 'GET' || !m || `${m[1]}/${m[2]}` !== REPOSITORY || reviews === undefined) {
      return send(res, 404, { message: 'Not Found', documentation_url: docs, status: '404' });
    }
    if (!options.actionsRead) {
      return send(res, 403, {
        message: 'Resource not accessible by integration',
        documentation_url: docs,
        status: '403'
      });
    }
    return send(res, 200, reviews);
  });
  return {
    ...server,
    options,
    requests,
    fault: (spec) => faults.push({ times: 1, ...spec }),
    get env() {
      return { GITHUB_API_URL: server.url };
    }
  };
}
