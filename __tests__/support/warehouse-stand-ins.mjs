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
  // A string body goes out as it is (a proxy's page, say), with the fault's content type.
  const raw = typeof body === 'string';
  res.writeHead(status, {
    'content-type': raw ? 'text/html; charset=utf-8' : 'application/json',
    ...headers
  });
  res.end(raw ? body : JSON.stringify(body));
}

/** Statements with their offsets, as Snowflake's multi-statement runner sees them. */
function statementsWithOffsets(script) {
  return splitQuery(script, {
    ...defaultSplitterOptions,
    stringsBegins: ["'", '"'],
    stringsEnds: { "'": "'", '"': '"' },
    stringEscapes: { "'": '\\', '"': '\\' },
    allowDollarDollarString: true,
    ignoreComments: true,
    returnRichInfo: true
  })
    .filter((s) => s.text.replace(/--[^\n]*/g, '').trim() !== '')
    .map((s) => ({ text: s.text.trim(), at: s.trimStart ?? s.start }));
}

/** The first fault for this request; the pre-flight check's requests only meet check faults. */
function takeFault(faults, method, path, check = false) {
  const i = faults.findIndex(
    (f) =>
      (!f.method || f.method === method) &&
      (!f.path || f.path.test(path)) &&
      Boolean(f.check) === check
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
 * statement of the request that fails with 422) or failOn (a RegExp: the first statement it
 * matches fails); failMessage (the failing statement's own error); failWithoutPosition (the 422
 * names no position); neverEnds (every poll answers 202).
 * fault({method, path (RegExp), times, status, body (a string goes out as a page), headers,
 * resetAfterHandling}).
 *
 * A failed multi-statement request: Snowflake runs it as a Snowflake Scripting block
 * (SYSTEM$MULTISTMT, named in snowflakedb/drivers PR #1235), stops at the failing statement and
 * returns none of the earlier statements' results (snowflakedb/snowflake-connector-nodejs issue
 * #884). The error is the block's uncaught-exception envelope around the statement's own error,
 * "Uncaught exception of type 'STATEMENT_ERROR' on line 2 at position 4 : SQL compilation
 * error: ..." (Snowflake's documentation, Snowflake Scripting AWAIT example), with the child's
 * error code and SQL state; line counts from 1 and position from 0 in the text sent. That the
 * multi-statement path uses the same envelope is inferred, not checked against a live account.
 */
export async function startSnowflakeStandIn(options) {
  const requests = [];
  const executions = new Map(); // requestId -> how many times the script was executed
  const statements = new Map(); // handle -> { polls, script, requestId, check }
  const ran = []; // every statement Snowflake ran, in order, over all requests
  const cancels = []; // handles a cancel was sent for
  let checks = 0; // SELECT 1 requests (the action's pre-flight check)
  let resends = 0; // POSTs that came with retry=true
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
    const handleOf = /^\/api\/v2\/statements\/([^/]+)/.exec(url.pathname)?.[1];
    const check =
      url.pathname === '/api/v2/statements'
        ? /"statement":"SELECT 1"/.test(body)
        : Boolean(handleOf && statements.get(handleOf)?.check);
    const fault = takeFault(faults, req.method, url.pathname, check);
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
      if (retry) resends++;
      if (sent.statement === 'SELECT 1') entry.check = true;
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
      const check = sent.statement === 'SELECT 1';
      if (check) checks++;
      else executions.set(requestId, (executions.get(requestId) ?? 0) + 1);
      const handle = randomUUID();
      byRequestId.set(requestId, handle);
      statements.set(handle, { polls: 0, script: sent.statement, requestId, check });
      if (fault?.resetAfterHandling) return req.socket.destroy();
      // Without async=true Snowflake waits for the statement (up to 45 s) and answers as a poll
      // at its end would.
      if (url.searchParams.get('async') !== 'true') {
        statements.get(handle).polls = pendingPolls;
        return answer(handle, statements.get(handle), res);
      }
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
      entry.check = state.check;
      if (poll[2]) {
        state.cancelled = true;
        cancels.push(poll[1]);
        return json(res, 200, { code: '000604', message: 'Statement cancelled.' });
      }
      return answer(poll[1], state, res);
    }
    json(res, 404, { code: '390404', message: 'Not found' });
  });

  /** What a poll of the statement answers: still running, failed at a statement, or done. */
  function answer(handle, state, res) {
    if (state.polls++ < pendingPolls || (options.neverEnds && !state.check)) {
      return json(res, 202, {
        code: '333334',
        statementHandle: handle,
        statementStatusUrl: `/api/v2/statements/${handle}`
      });
    }
    const list = statementsOf(state.script);
    if (!state.done && !state.check) {
      state.done = true;
      const placed = statementsWithOffsets(state.script);
      const failing = options.failOn
        ? placed.findIndex((p) => options.failOn.test(p.text))
        : (options.failAt ?? 0) - 1;
      state.failing = failing >= 0 && failing < placed.length ? placed[failing] : undefined;
      ran.push(...placed.slice(0, state.failing ? failing : placed.length).map((p) => p.text));
    }
    if (state.failing) {
      const own =
        options.failMessage ??
        "SQL compilation error:\nRole 'IMMUTA_SNOWFLAKE_ROLE' does not exist or not authorized.";
      const { line, column } = state.failing.at;
      return json(res, 422, {
        code: '002003',
        sqlState: '02000',
        message: options.failWithoutPosition
          ? own
          : `Uncaught exception of type 'STATEMENT_ERROR' on line ${line + 1} at position ${column} : ${own}`,
        statementHandle: handle
      });
    }
    return json(res, 200, {
      code: '090001',
      message: 'Statement executed successfully.',
      statementHandle: handle,
      statementHandles: list.map(() => randomUUID())
    });
  }

  return {
    ...server,
    requests,
    executions,
    ran,
    cancels,
    fault: (spec) => faults.push({ times: 1, ...spec }),
    /** The scripts Snowflake ran, in order (not the pre-flight SELECT 1). */
    get scripts() {
      return [...statements.values()].filter((s) => !s.check).map((s) => s.script);
    },
    get cancelled() {
      return [...statements.values()].some((s) => s.cancelled);
    },
    get checks() {
      return checks;
    },
    get resends() {
      return resends;
    }
  };
}

/**
 * Databricks' Statement Execution API and its OAuth token endpoint. options: token (a PAT), or
 * clientId and clientSecret (OAuth M2M); warehouseId; failOn (a RegExp: the statement it
 * matches ends FAILED at HTTP 200); polls (how many polls before a terminal state); neverEnds;
 * endState (the state a statement that does not fail ends in: SUCCEEDED, or CLOSED);
 * resultRows (rows of 1 KiB each that every statement returns, cut by row_limit and byte_limit
 * as Databricks does); echoAuthorization (a refused token request quotes the Authorization
 * header it got, as a careless endpoint might).
 * fault({method, path, times, status, body (a string goes out as a page), headers,
 * afterHandling (the request is carried out first, then the fault answers: a gateway that
 * forwarded it and timed out), resetAfterHandling (carried out, then the connection drops)}).
 */
export async function startDatabricksStandIn(options) {
  const requests = [];
  const executed = []; // statements in the order they were run (not the pre-flight SELECT 1)
  const cancels = []; // statement_ids a cancel was sent for
  let checks = 0; // SELECT 1 statements (the action's pre-flight check)
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
    const idOf = /^\/api\/2\.0\/sql\/statements\/([^/]+)/.exec(url.pathname)?.[1];
    const check =
      url.pathname === '/api/2.0/sql/statements'
        ? /"statement":"SELECT 1"/.test(body)
        : Boolean(idOf && states.get(idOf)?.sent.statement === 'SELECT 1');
    const fault = takeFault(faults, req.method, url.pathname, check);
    const faulty = (fault?.status || fault?.resetAfterHandling) && fault;
    if (faulty && !faulty.afterHandling && !faulty.resetAfterHandling)
      return json(
        res,
        faulty.status,
        faulty.body ?? { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'Injected' },
        faulty.headers
      );
    // Carried out, then the answer is replaced or lost on its way back.
    if (faulty) {
      const real = res;
      res = {
        writeHead() {},
        end() {
          if (faulty.resetAfterHandling) return req.socket.destroy();
          json(
            real,
            faulty.status,
            faulty.body ?? { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'Injected' },
            faulty.headers
          );
        }
      };
    }

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
          error_description: options.echoAuthorization
            ? `Client authentication failed for ${req.headers.authorization}`
            : 'Client authentication failed'
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
      if (sent.statement === 'SELECT 1') checks++;
      else executed.push(sent.statement);
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
          : { state: options.endState ?? 'SUCCEEDED' },
        sent
      });
      return json(res, 200, { statement_id: id, status: { state: 'PENDING' } });
    }
    const m = /^\/api\/2\.0\/sql\/statements\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (m && states.has(m[1])) {
      const s = states.get(m[1]);
      if (m[2]) {
        s.end = { state: 'CANCELED' };
        cancels.push(m[1]);
        return json(res, 200, {});
      }
      const status =
        s.polls++ < (options.polls ?? 1) || (options.neverEnds && s.sent.statement !== 'SELECT 1')
          ? { state: 'RUNNING' }
          : s.end;
      return json(res, 200, { statement_id: m[1], status, ...resultOf(s.sent, status) });
    }
    json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: 'No API found' });
  });

  /** The result a finished statement answers with: its rows, cut where the request asked. */
  function resultOf(sent, status) {
    if (status.state !== 'SUCCEEDED' || !options.resultRows) return {};
    const row = ['x'.repeat(1024)];
    const byRows = Math.min(options.resultRows, sent.row_limit ?? Infinity);
    const byBytes = sent.byte_limit === undefined ? Infinity : Math.floor(sent.byte_limit / 1024);
    const rows = Math.max(0, Math.min(byRows, byBytes));
    return {
      manifest: {
        format: 'JSON_ARRAY',
        total_row_count: rows,
        truncated: rows < options.resultRows
      },
      result: { row_count: rows, data_array: Array.from({ length: rows }, () => row) }
    };
  }

  return {
    ...server,
    requests,
    executed,
    cancels,
    issued,
    fault: (spec) => faults.push({ times: 1, ...spec }),
    get checks() {
      return checks;
    },
    /** How many times a statement was sent (a request that came twice counts twice). */
    sent(statement) {
      return requests.filter(
        (r) =>
          r.method === 'POST' &&
          r.path === '/api/2.0/sql/statements' &&
          JSON.parse(r.body).statement === statement
      ).length;
    }
  };
}
