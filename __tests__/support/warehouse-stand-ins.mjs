// Loopback stand-ins for the two warehouse APIs the action's third step calls, built from the
// vendors' documented requests and answers: Snowflake's SQL API v2 and Databricks' Statement
// Execution API 2.0. Each records what it was sent and checks what the vendor would check.
import { createHash, createPublicKey, createVerify, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { splitQuery, defaultSplitterOptions } from 'dbgate-query-splitter';

/** The statements of a script, as Snowflake counts them for a multi-statement request. */
function statementsOf(script) {
  return splitQuery(script, {
    ...defaultSplitterOptions,
    stringsBegins: ["'", '"'],
    stringsEnds: { "'": "'", '"': '"' },
    stringEscapes: { "'": '\\', '"': '\\' },
    allowDollarDollarString: true,
    ignoreComments: true
  })
    .map((s) => (typeof s === 'string' ? s : s.text).trim())
    .filter((s) => s.replace(/--[^\n]*/g, '').trim() !== '');
}

async function listen(handler) {
  const sockets = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    handler(req, res, Buffer.concat(chunks).toString('utf8'));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  };
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function takeFault(faults, method, path) {
  const i = faults.findIndex(
    (f) => (!f.method || f.method === method) && (!f.path || f.path.test(path))
  );
  if (i === -1) return undefined;
  const fault = faults[i];
  if (--fault.times <= 0) faults.splice(i, 1);
  return fault;
}

/**
 * Snowflake's SQL API. options: account and user (as the JWT must name them, upper case),
 * publicKey (PEM: JWTs are verified against it, their iss naming its fingerprint), or token and
 * tokenType; pendingPolls (how many polls answer 202 before the end); failAt (the 1-based
 * statement that fails with 422, in a message worded after the API notes: Snowflake names the
 * failing statement's position); neverEnds (every poll answers 202).
 * fault({method, path (RegExp), times, status, body, headers, resetAfterHandling}).
 */
export async function startSnowflakeStandIn(options) {
  const requests = [];
  const executions = new Map(); // requestId -> how many times the script was executed
  const statements = new Map(); // handle -> { polls, script, requestId }
  const byRequestId = new Map(); // requestId -> handle
  const faults = [];
  const pendingPolls = options.pendingPolls ?? 1;
  // What Snowflake keeps for the user (RSA_PUBLIC_KEY_FP): the public key's SHA-256, base64.
  const fingerprint =
    options.publicKey &&
    `SHA256:${createHash('sha256')
      .update(createPublicKey(options.publicKey).export({ type: 'spki', format: 'der' }))
      .digest('base64')}`;

  function authError(req) {
    const type = req.headers['x-snowflake-authorization-token-type'];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return 'no bearer token';
    if (options.token) {
      if (type !== (options.tokenType ?? 'PROGRAMMATIC_ACCESS_TOKEN')) return `token type ${type}`;
      return bearer === options.token ? undefined : 'wrong token';
    }
    if (type !== 'KEYPAIR_JWT') return `token type ${type}`;
    const [h, c, sig] = bearer.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    if (header.alg !== 'RS256') return `alg ${header.alg}`;
    const key = createPublicKey(options.publicKey);
    const ok = createVerify('RSA-SHA256')
      .update(`${h}.${c}`)
      .verify(key, Buffer.from(sig, 'base64url'));
    if (!ok) return 'bad signature';
    const qualified = `${options.account}.${options.user}`;
    if (claims.sub !== qualified) return `sub ${claims.sub}`;
    if (claims.iss !== `${qualified}.${fingerprint}`) return `iss ${claims.iss}`;
    const now = Math.floor(Date.now() / 1000);
    if (!(claims.exp > now && claims.exp - claims.iat <= 3600 && claims.iat <= now + 60)) {
      return 'lifetime';
    }
    return undefined;
  }

  const server = await listen((req, res, body) => {
    const url = new URL(req.url, 'http://x');
    const entry = {
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      at: Date.now()
    };
    requests.push(entry);
    const fault = takeFault(faults, req.method, url.pathname);
    if (fault?.status && !fault.resetAfterHandling) {
      return json(
        res,
        fault.status,
        fault.body ?? { code: '390505', message: 'Injected fault' },
        fault.headers
      );
    }
    const problem = authError(req);
    if (problem) {
      entry.refused = problem;
      return json(res, 401, { code: '390144', message: 'JWT token is invalid.' });
    }
    if (!/^[\w.-]+\/[\w.-]+/.test(req.headers['user-agent'] ?? '')) {
      return json(res, 400, { code: '390142', message: 'User-Agent must be name/version.' });
    }

    if (req.method === 'POST' && url.pathname === '/api/v2/statements') {
      const sent = JSON.parse(body);
      const requestId = url.searchParams.get('requestId');
      const retry = url.searchParams.get('retry') === 'true';
      // A resend of a known request answers for the first; it never runs the script again.
      if (retry && byRequestId.has(requestId)) {
        const handle = byRequestId.get(requestId);
        return json(res, 202, {
          code: '333334',
          statementHandle: handle,
          statementStatusUrl: `/api/v2/statements/${handle}`
        });
      }
      if (sent.parameters?.MULTI_STATEMENT_COUNT !== '0') {
        return json(res, 422, {
          code: '000008',
          message: 'Actual statement count did not match the desired statement count 1.'
        });
      }
      executions.set(requestId, (executions.get(requestId) ?? 0) + 1);
      const handle = randomUUID();
      byRequestId.set(requestId, handle);
      statements.set(handle, { polls: 0, script: sent.statement, requestId });
      if (fault?.resetAfterHandling) return req.socket.destroy();
      return json(res, 202, {
        code: '333334',
        message: 'Asynchronous execution in progress.',
        statementHandle: handle,
        statementStatusUrl: `/api/v2/statements/${handle}`
      });
    }
    const poll = /^\/api\/v2\/statements\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (poll && statements.has(poll[1])) {
      const state = statements.get(poll[1]);
      if (poll[2]) {
        state.cancelled = true;
        return json(res, 200, { code: '000604', message: 'Statement cancelled.' });
      }
      if (state.polls++ < pendingPolls || options.neverEnds) {
        return json(res, 202, {
          code: '333334',
          statementHandle: poll[1],
          statementStatusUrl: `/api/v2/statements/${poll[1]}`
        });
      }
      const list = statementsOf(state.script);
      if (options.failAt) {
        return json(res, 422, {
          code: '100132',
          sqlState: '02000',
          message: `Multiple SQL statements failed: statement ${options.failAt} of ${list.length}: SQL compilation error: Role 'IMMUTA_SNOWFLAKE_ROLE' does not exist or not authorized.`,
          statementHandle: poll[1]
        });
      }
      return json(res, 200, {
        code: '090001',
        message: 'Statement executed successfully.',
        statementHandle: poll[1],
        statementHandles: list.map(() => randomUUID())
      });
    }
    json(res, 404, { code: '390404', message: 'Not found' });
  });

  return {
    ...server,
    requests,
    executions,
    fault: (spec) => faults.push({ times: 1, ...spec }),
    /** The scripts Snowflake ran, in order. */
    get scripts() {
      return [...statements.values()].map((s) => s.script);
    },
    get cancelled() {
      return [...statements.values()].some((s) => s.cancelled);
    }
  };
}

/**
 * Databricks' Statement Execution API and its OAuth token endpoint. options: token (a PAT), or
 * clientId and clientSecret (OAuth M2M); warehouseId; failOn (a RegExp: the statement it
 * matches ends FAILED at HTTP 200); polls (how many polls before a terminal state).
 */
export async function startDatabricksStandIn(options) {
  const requests = [];
  const executed = []; // statements in the order they were run
  const states = new Map();
  const issued = new Set();
  const faults = [];

  const server = await listen((req, res, body) => {
    const url = new URL(req.url, 'http://x');
    requests.push({
      method: req.method,
      path: url.pathname,
      headers: req.headers,
      body,
      at: Date.now()
    });
    const fault = takeFault(faults, req.method, url.pathname);
    if (fault?.status)
      return json(
        res,
        fault.status,
        fault.body ?? { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'Injected' },
        fault.headers
      );

    if (req.method === 'POST' && url.pathname === '/oidc/v1/token') {
      const expected = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`;
      const form = new URLSearchParams(body);
      if (
        req.headers.authorization !== expected ||
        form.get('grant_type') !== 'client_credentials' ||
        form.get('scope') !== 'all-apis'
      ) {
        return json(res, 401, {
          error: 'invalid_client',
          error_description: 'Client authentication failed'
        });
      }
      const token = `eyJoauth.${randomUUID()}`;
      issued.add(token);
      return json(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        expires_in: 3600,
        scope: 'all-apis'
      });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || (bearer !== options.token && !issued.has(bearer))) {
      return json(res, 401, { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' });
    }
    if (req.method === 'POST' && url.pathname === '/api/2.0/sql/statements') {
      const sent = JSON.parse(body);
      if (sent.warehouse_id !== options.warehouseId) {
        return json(res, 404, {
          error_code: 'RESOURCE_DOES_NOT_EXIST',
          message: `No warehouse ${sent.warehouse_id}`
        });
      }
      const id = randomUUID();
      executed.push(sent.statement);
      // One statement a request: a second one is a syntax error, reported as a FAILED statement.
      const twoStatements = /;\s*\S/.test(
        sent.statement.replace(/\$\$[\s\S]*?\$\$|'[^']*'|"[^"]*"|`[^`]*`/g, '')
      );
      const fails = twoStatements || options.failOn?.test(sent.statement);
      states.set(id, {
        polls: 0,
        end: fails
          ? {
              state: 'FAILED',
              error: twoStatements
                ? {
                    error_code: 'PARSE_SYNTAX_ERROR',
                    message: "[PARSE_SYNTAX_ERROR] Syntax error at or near ';'. SQLSTATE: 42601"
                  }
                : {
                    error_code: 'PERMISSION_DENIED',
                    message: "User does not have MANAGE on Catalog 'immuta'."
                  }
            }
          : { state: 'SUCCEEDED' },
        sent
      });
      return json(res, 200, { statement_id: id, status: { state: 'PENDING' } });
    }
    const m = /^\/api\/2\.0\/sql\/statements\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (m && states.has(m[1])) {
      const s = states.get(m[1]);
      if (m[2]) {
        s.end = { state: 'CANCELED' };
        return json(res, 200, {});
      }
      const status =
        s.polls++ < (options.polls ?? 1) || options.neverEnds ? { state: 'RUNNING' } : s.end;
      return json(res, 200, { statement_id: m[1], status });
    }
    json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: 'No API found' });
  });

  return {
    ...server,
    requests,
    executed,
    issued,
    fault: (spec) => faults.push({ times: 1, ...spec })
  };
}
