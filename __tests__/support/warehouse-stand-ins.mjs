// Loopback stand-ins for the two warehouse APIs the action's third step calls, built from the
// vendors' documented requests and answers: Snowflake's SQL API v2 and Databricks' Statement
// Execution API 2.0. Each records what it was sent, keeps a session per request as the vendor
// does, and checks what the vendor would check. Where a vendor documents no example, the shape
// used is marked "inferred".
import { createHash, createPublicKey, createVerify, randomUUID } from 'node:crypto';
import { splitQuery, defaultSplitterOptions } from 'dbgate-query-splitter';
import { verifyIdToken } from './github-stand-ins.mjs';
import { listen, reply } from './loopback.mjs';

const SNOWFLAKE_SPLIT = {
  ...defaultSplitterOptions,
  stringsBegins: ["'", '"'],
  stringsEnds: { "'": "'", '"': '"' },
  stringEscapes: { "'": '\\', '"': '\\' },
  allowDollarDollarString: true,
  ignoreComments: true,
  returnRichInfo: true
};

/** The statements of a request's text, with where each starts (line and column from 0). */
function statementsOf(text) {
  return splitQuery(text, SNOWFLAKE_SPLIT)
    .filter((s) => s.text.replace(/--[^\n]*/g, '').trim() !== '')
    .map((s) => ({ text: s.text.trim(), at: s.trimStart ?? s.start }));
}

/** JSON as the warehouses send it; a string body goes out as a page, with the fault's type. */
const json = reply;

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

/** Waiters for a request that matches: the test acts (a signal, say) the moment it comes. */
function watcher(requests) {
  const waiting = [];
  return {
    seen(entry) {
      for (const w of [...waiting]) {
        if (w.match(entry)) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve(entry);
        }
      }
    },
    waitFor(match) {
      const already = requests.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => waiting.push({ match, resolve }));
    }
  };
}

/** Snowflake's names: unquoted ones upper-cased, quoted ones as written. */
function snowflakeName(name) {
  const quoted = /^"((?:[^"]|"")+)"$/.exec(name.trim());
  return quoted ? quoted[1].replace(/""/g, '"') : name.trim().toUpperCase();
}

/**
 * Snowflake's SQL API. options (all may be changed between attempts, through `options`):
 * account and user (as the JWT names them, upper case), publicKey (PEM: JWTs are verified
 * against it), or token and tokenType, or oidc ({jwks, subject, audiences}: a service user's
 * WORKLOAD_IDENTITY, TYPE = OIDC with GitHub's issuer; the token comes as
 * `Bearer WIF.OIDC.<jwt>`, as Snowflake's own REST clients send it, with the type header absent
 * or WORKLOAD_IDENTITY_FEDERATION, and is checked as Snowflake checks it: signature against the
 * issuer's JWKS, issuer, audience in OIDC_AUDIENCE_LIST, subject, expiry; a refusal is the
 * documented 401 {code, message} shape, its code and words for workload identity inferred); pendingPolls (how many polls answer 202 before the end);
 * slowOn and slowMs (a statement it matches runs that long, polled or not); defaultRole and
 * grantedRoles; defaultWarehouse (null: the user has none) and warehouses; failOn (a RegExp: a
 * statement it matches fails), failTimes (that many times, then it runs), failMessage and
 * failCode (its own error); neverEnds (true, or a RegExp: such a statement runs until
 * cancelled); noWarehouseTimes (that many multi-statement requests fail as when the session has
 * no warehouse); absoluteStatusUrl (statementStatusUrl as an absolute URL); identity ({locator,
 * organization, accountName, region}: what CURRENT_ACCOUNT(), CURRENT_ORGANIZATION_NAME(),
 * CURRENT_ACCOUNT_NAME() and CURRENT_REGION() answer; the account of Immuta's stand-in's host by
 * default, in AWS_US_WEST_2, the region a bare locator URL names, when region is left out).
 * fault({method, path (RegExp), times, status, body (a string goes out as a page; a function
 * is given the statement handle in the path), headers, resetAfterHandling (the request is
 * carried out, then the connection drops), check}).
 *
 * A request's session starts from its role, warehouse, database and schema fields (or the
 * user's defaults) and lasts for that request only. A request of several statements is a
 * multi-statement request: it needs a warehouse ("Executing multiple statements in a single
 * query requires that a valid warehouse is available in a session"), and its failure is the
 * documented 422 100132 answer, "JavaScript execution error: Uncaught Execution of multiple
 * statements failed on statement "<text, cut>..." (at line L, position P)." and the statement's
 * own error (Snowflake's documentation, submitting-multiple-statements; the cut at 30 characters
 * is read from its example, inferred). A single statement's failure is its own error. USE, SET
 * and ALTER SESSION alone in a request are refused, as the API lists them unsupported there
 * (the code and words inferred). A statement takes effect when its end is first reported; a
 * cancelled one never does. retry=true with a request ID Snowflake knows answers for that
 * request (202 with its handle: inferred) and runs nothing; with an unknown one it runs it.
 */
export async function startSnowflakeStandIn(given) {
  const options = {
    pendingPolls: 1,
    slowMs: 3000,
    defaultRole: 'PUBLIC',
    grantedRoles: ['ACCOUNTADMIN', 'SECURITYADMIN', 'SYSADMIN', 'PUBLIC'],
    defaultWarehouse: 'COMPUTE_WH',
    warehouses: ['COMPUTE_WH', 'CLEANUP_WH'],
    failTimes: Infinity,
    // The account the stand-in is: Immuta's stand-in registers it as acme-prod.snowflakecomputing.com;
    // its locator URL is xy12345.snowflakecomputing.com (AWS US West (Oregon)).
    identity: {
      locator: 'XY12345',
      organization: 'ACME',
      accountName: 'PROD',
      region: 'AWS_US_WEST_2'
    },
    ...given
  };
  const requests = [];
  const watch = watcher(requests);
  const executions = new Map(); // requestId -> how many times a script request was run
  const handles = new Map(); // handle -> the request it runs
  const children = new Map(); // child handle -> its own result
  const byRequestId = new Map(); // requestId -> handle
  const ran = []; // every statement that took effect: { text, role, warehouse, database, schema, variables, requestId }
  const cancels = []; // handles a cancel was sent for
  const failures = new Map(); // failOn statement text -> times it failed
  let checks = 0;
  let resends = 0;
  const faults = [];
  const fingerprint = () =>
    options.publicKey &&
    `SHA256:${createHash('sha256')
      .update(createPublicKey(options.publicKey).export({ type: 'spki', format: 'der' }))
      .digest('base64')}`;

  function authError(req, entry) {
    const type = req.headers['x-snowflake-authorization-token-type'];
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer) return 'no bearer token';
    const wif = /^WIF\.OIDC\.(.+)$/.exec(bearer)?.[1];
    if (wif !== undefined || options.oidc) {
      if (!options.oidc) return 'workload identity federation is not set up for any user';
      if (wif === undefined) return 'the user signs in with workload identity only';
      if (type !== undefined && type !== 'WORKLOAD_IDENTITY_FEDERATION')
        return `token type ${type}`;
      const checked = verifyIdToken(wif, options.oidc);
      entry.wif = checked.claims;
      return checked.reason;
    }
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
    if (claims.iss !== `${qualified}.${fingerprint()}`) return `iss ${claims.iss}`;
    const now = Math.floor(Date.now() / 1000);
    if (!(claims.exp > now && claims.exp - claims.iat <= 3600 && claims.iat <= now + 60)) {
      return 'lifetime';
    }
    return undefined;
  }

  /** Slow statements end when their time is up, whether anyone asks or not. */
  function tick() {
    for (const run of handles.values()) {
      if (run.state === 'running' && run.readyAt !== undefined && Date.now() >= run.readyAt) {
        run.end = execute(run);
        run.state = 'done';
      }
    }
  }

  const server = await listen((req, res, body) => {
    tick();
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
    // The action's checks are waited for (no async=true); the script's statements are not.
    entry.check =
      url.pathname === '/api/v2/statements'
        ? url.searchParams.get('async') !== 'true'
        : Boolean(handleOf && (handles.get(handleOf) ?? children.get(handleOf))?.check);
    watch.seen(entry);
    const fault = takeFault(faults, req.method, url.pathname, entry.check);
    if (fault?.status && !fault.resetAfterHandling) {
      // A function body is made for the statement handle the request names (a forged answer).
      const faultBody = typeof fault.body === 'function' ? fault.body(handleOf, req) : fault.body;
      return json(
        res,
        fault.status,
        faultBody ?? { code: '390505', message: 'Injected fault' },
        fault.headers
      );
    }
    const problem = authError(req, entry);
    if (problem) {
      entry.refused = problem;
      // Workload identity's refusal: the documented shape; its code and words are inferred.
      if (options.oidc) {
        return json(res, 401, {
          code: '390144',
          message: `Workload identity federation failed: ${problem}.`
        });
      }
      return json(res, 401, { code: '390144', message: 'JWT token is invalid.' });
    }
    if (!/^[\w.-]+\/[\w.-]+/.test(req.headers['user-agent'] ?? '')) {
      return json(res, 400, { code: '390142', message: 'User-Agent must be name/version.' });
    }
    if (req.method === 'POST' && url.pathname === '/api/v2/statements') {
      return submit(req, res, url, body, entry, fault);
    }
    const m = /^\/api\/v2\/statements\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (m && children.has(m[1]) && !m[2]) return json(res, 200, children.get(m[1]));
    if (m && handles.has(m[1])) {
      const run = handles.get(m[1]);
      if (m[2]) {
        cancels.push(m[1]);
        if (run.state === 'running') run.state = 'cancelled';
        return json(res, 200, { statementHandle: m[1], message: 'successfully canceled' });
      }
      return answer(run, res);
    }
    json(res, 404, { code: '390404', message: 'Not found' });
  });

  function submit(req, res, url, body, entry, fault) {
    const sent = JSON.parse(body);
    const requestId = url.searchParams.get('requestId');
    const retry = url.searchParams.get('retry') === 'true';
    if (retry) resends++;
    // A resend of a known request answers for that request; it never runs it again.
    if (retry && byRequestId.has(requestId)) {
      const handle = byRequestId.get(requestId);
      entry.answeredFor = handle;
      if (fault?.resetAfterHandling) return req.socket.destroy();
      return json(res, 202, accepted(handle));
    }
    const statements = statementsOf(sent.statement ?? '');
    const wanted = sent.parameters?.MULTI_STATEMENT_COUNT ?? '1';
    if (wanted !== '0' && Number(wanted) !== statements.length) {
      return json(res, 422, {
        code: '000008',
        sqlState: '0A000',
        message: `Actual statement count ${statements.length} did not match the desired statement count ${wanted}.`,
        statementHandle: randomUUID()
      });
    }
    if (sent.role && !options.grantedRoles.includes(snowflakeName(sent.role))) {
      // Inferred shape: Snowflake's access-control error for a role the user lacks.
      return json(res, 422, {
        code: '003013',
        sqlState: '42501',
        message: `SQL access control error:\nRequested role '${snowflakeName(sent.role)}' is not assigned to the executing user. Specify another role to activate.`,
        statementHandle: randomUUID()
      });
    }
    const check = url.searchParams.get('async') !== 'true';
    if (check) checks++;
    else executions.set(requestId, (executions.get(requestId) ?? 0) + 1);
    const handle = randomUUID();
    const slow = !check && options.slowOn && statements.some((s) => options.slowOn.test(s.text));
    const run = {
      handle,
      requestId,
      check,
      text: sent.statement,
      statements,
      session: {
        role: sent.role ? snowflakeName(sent.role) : options.defaultRole,
        warehouse:
          sent.warehouse !== undefined ? snowflakeName(sent.warehouse) : options.defaultWarehouse,
        database: sent.database ?? null,
        schema: sent.schema ?? null,
        variables: {}
      },
      timeoutAt: sent.timeout ? Date.now() + sent.timeout * 1000 : Infinity,
      polls: 0,
      pending: check ? 0 : options.pendingPolls,
      readyAt: slow ? Date.now() + options.slowMs : undefined,
      state: 'running'
    };
    handles.set(handle, run);
    byRequestId.set(requestId, handle);
    if (fault?.resetAfterHandling) return req.socket.destroy();
    // Without async=true Snowflake waits for the statement (up to 45 s) and answers as a poll
    // at its end would.
    if (check) return answer(run, res);
    return json(res, 202, accepted(handle));
  }

  function accepted(handle) {
    return {
      code: '333334',
      message:
        'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
      statementHandle: handle,
      statementStatusUrl: options.absoluteStatusUrl
        ? `${server.url}/api/v2/statements/${handle}`
        : `/api/v2/statements/${handle}`
    };
  }

  /** What a poll of the request answers: still running, its end, or how it was cancelled. */
  function answer(run, res) {
    if (run.state === 'cancelled') {
      // Inferred: a cancelled statement reads back as a 422 with the cancel code.
      return json(res, 422, {
        code: '000604',
        sqlState: '57014',
        message: 'SQL execution canceled',
        statementHandle: run.handle
      });
    }
    if (run.state === 'timed-out') {
      // Inferred words: the documented 408 for a statement past its timeout.
      return json(res, 408, {
        code: '000630',
        message: 'Statement reached its statement or warehouse timeout and was canceled.',
        statementHandle: run.handle
      });
    }
    if (run.state === 'running') {
      const never =
        options.neverEnds === true ||
        (options.neverEnds instanceof RegExp &&
          run.statements.some((s) => options.neverEnds.test(s.text)));
      if (Date.now() >= run.timeoutAt) {
        run.state = 'timed-out';
        return answer(run, res);
      }
      const waiting =
        run.readyAt !== undefined ? Date.now() < run.readyAt : run.polls++ < run.pending;
      if ((never && !run.check) || waiting) {
        return json(res, 202, accepted(run.handle));
      }
      run.end = execute(run);
      run.state = 'done';
    }
    return json(res, run.end.status, run.end.body);
  }

  /** Runs the request's statements in its session, in order, to the first that fails. */
  function execute(run) {
    const session = run.session;
    const multi = run.statements.length > 1;
    const fail = (i, code, sqlState, own) => {
      const failing = run.statements[i];
      const text = failing.text;
      const cut = text.length > 30 ? `${text.slice(0, 30)}...` : text;
      return {
        status: 422,
        body: multi
          ? {
              code: '100132',
              sqlState: 'P0000',
              message: `JavaScript execution error: Uncaught Execution of multiple statements failed on statement "${cut}" (at line ${failing.at.line + 1}, position ${failing.at.column}).\n${own}`,
              statementHandle: run.handle
            }
          : { code, sqlState, message: own, statementHandle: run.handle }
      };
    };
    const lost = !run.check && options.noWarehouseTimes > 0;
    if (multi && (!session.warehouse || lost)) {
      if (lost) options.noWarehouseTimes--;
      return {
        status: 422,
        body: {
          code: '000606',
          sqlState: '57P03',
          message:
            "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.\n",
          statementHandle: run.handle
        }
      };
    }
    const results = [];
    for (const [i, { text }] of run.statements.entries()) {
      let m;
      if (!multi && /^(?:USE|SET|UNSET|ALTER\s+SESSION)\b/i.test(text)) {
        return fail(
          i,
          '000002',
          '0A000',
          `Unsupported feature '${text.split(/\s/)[0].toUpperCase()}'.`
        );
      }
      if ((m = /^USE\s+ROLE\s+(.+)$/i.exec(text))) {
        const role = snowflakeName(m[1]);
        if (!options.grantedRoles.includes(role)) {
          return fail(
            i,
            '003013',
            '42501',
            `SQL access control error:\nRequested role '${role}' is not assigned to the executing user. Specify another role to activate.`
          );
        }
        session.role = role;
      } else if ((m = /^USE\s+WAREHOUSE\s+(.+)$/i.exec(text))) {
        const warehouse = snowflakeName(m[1]);
        if (!options.warehouses.includes(warehouse)) {
          return fail(
            i,
            '002043',
            '02000',
            'SQL compilation error:\nObject does not exist, or operation cannot be performed.'
          );
        }
        session.warehouse = warehouse;
      } else if ((m = /^USE\s+SCHEMA\s+(.+)$/i.exec(text))) {
        session.schema = snowflakeName(m[1]);
      } else if ((m = /^USE\s+(?:DATABASE\s+)?(.+)$/i.exec(text))) {
        session.database = snowflakeName(m[1]);
        session.schema = 'PUBLIC';
      } else if ((m = /^SET\s+(\w+)\s*=\s*'([^']*)'$/i.exec(text))) {
        session.variables[m[1].toUpperCase()] = m[2];
      } else if (/^(?:UNSET|ALTER\s+SESSION)\b/i.test(text)) {
        // Session settings: nothing this stand-in tracks.
      } else if (/^SELECT\s+CURRENT_ROLE\(\),\s*CURRENT_WAREHOUSE\(\)$/i.test(text)) {
        results.push([[session.role, session.warehouse]]);
        continue;
      } else if (
        /^SELECT\s+CURRENT_ROLE\(\),\s*CURRENT_WAREHOUSE\(\),\s*CURRENT_ACCOUNT\(\),\s*CURRENT_ORGANIZATION_NAME\(\),\s*CURRENT_ACCOUNT_NAME\(\),\s*CURRENT_REGION\(\)$/i.test(
          text
        )
      ) {
        const { locator, organization, accountName, region = 'AWS_US_WEST_2' } = options.identity;
        results.push([
          [session.role, session.warehouse, locator, organization, accountName, region]
        ]);
        continue;
      } else if (!run.check && options.failOn?.test(text)) {
        const failed = failures.get(text) ?? 0;
        if (failed < options.failTimes) {
          failures.set(text, failed + 1);
          return fail(
            i,
            options.failCode ?? '002003',
            '02000',
            options.failMessage ??
              "SQL compilation error:\nRole 'IMMUTA_SNOWFLAKE_ROLE' does not exist or not authorized."
          );
        }
      }
      if (!/^(?:USE|SET|UNSET|ALTER\s+SESSION|SELECT\s+1$)/i.test(text) && !run.check) {
        ran.push({
          text,
          role: session.role,
          warehouse: session.warehouse,
          database: session.database,
          schema: session.schema,
          variables: { ...session.variables },
          requestId: run.requestId
        });
      }
      results.push([['Statement executed successfully.']]);
    }
    const resultSet = (handle, data) => ({
      resultSetMetaData: {
        numRows: data.length,
        format: 'jsonv2',
        rowType: data[0].map((_, i) => ({ name: `C${i + 1}`, type: 'text', nullable: true }))
      },
      data,
      code: '090001',
      statementStatusUrl: `/api/v2/statements/${handle}`,
      sqlState: '00000',
      statementHandle: handle,
      message: 'Statement executed successfully.',
      createdOn: Date.now()
    });
    if (!multi) return { status: 200, body: resultSet(run.handle, results[0]) };
    const handlesOfChildren = results.map((data) => {
      const child = randomUUID();
      children.set(child, { ...resultSet(child, data), check: run.check });
      return child;
    });
    return {
      status: 200,
      body: {
        ...resultSet(run.handle, [['Multiple statements executed successfully.']]),
        statementHandles: handlesOfChildren
      }
    };
  }

  return {
    ...server,
    options,
    requests,
    executions,
    cancels,
    waitFor: (match) => watch.waitFor(match),
    fault: (spec) => faults.push({ times: 1, ...spec }),
    /** The text of every script request (not the checks), in the order they came. */
    get scripts() {
      return requests
        .filter((r) => r.method === 'POST' && r.path === '/api/v2/statements' && !r.check)
        .map((r) => JSON.parse(r.body).statement);
    },
    /** Every script statement that took effect, in order, with the session it ran in. */
    get ran() {
      tick();
      return ran;
    },
    /** The script's statements that took effect, in order (not the checks). */
    get ranTexts() {
      tick();
      return ran.map((r) => r.text);
    },
    get cancelled() {
      return [...handles.values()].some((r) => r.state === 'cancelled');
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
 * Databricks' Statement Execution API and its OAuth token endpoint. options (changeable between
 * attempts, through `options`): token (a PAT), or clientId and clientSecret (OAuth M2M) with
 * tokenSeconds (the expires_in of each token; an expired one is refused with 401, as Databricks
 * refuses it: the words inferred); warehouseId; defaultCatalog and catalogs (a catalog field or
 * USE CATALOG naming another fails, [NO_SUCH_CATALOG_EXCEPTION], inferred shape); failOn (a
 * RegExp: the statement it matches ends FAILED at HTTP 200) and failTimes; polls (how many polls
 * before a terminal state); neverEnds (true, or a RegExp); endState (the state a statement that
 * does not fail ends in: SUCCEEDED, or CLOSED); resultRows (rows of 1 KiB each that every
 * statement returns, cut by row_limit and byte_limit as Databricks does); echoAuthorization (a
 * refused token request quotes the Authorization header it got, as a careless endpoint might).
 * fault({method, path, times, status, body, headers, afterHandling (the request is carried out
 * first, then the fault answers: a gateway that forwarded it and timed out), resetAfterHandling
 * (carried out, then the connection drops), check}).
 * Each request is its own session: its catalog and schema fields (or the warehouse's default
 * catalog) are where its statement runs. A statement takes effect when its end is first
 * reported; a cancelled one never does. A statement is forgotten (404) only when `forget` says.
 */
export async function startDatabricksStandIn(given) {
  const options = {
    defaultCatalog: 'main',
    catalogs: ['main', 'immuta', 'hive_metastore'],
    failTimes: Infinity,
    tokenSeconds: 3600,
    ...given
  };
  const requests = [];
  const watch = watcher(requests);
  const executed = []; // statements Databricks took, in order (not the checks)
  const ran = []; // statements that took effect: { statement, catalog, schema }
  const cancels = []; // statement_ids a cancel was sent for
  let checks = 0;
  const states = new Map();
  const issued = new Map(); // token -> when it expires
  const exchanges = []; // token federation's exchanges that gave a token
  const failures = new Map();
  const faults = [];
  const isCheck = (statement) => /^SELECT current_catalog\(\)/i.test(statement);

  const server = await listen((req, res, body) => {
    const url = new URL(req.url, 'http://x');
    const entry = {
      method: req.method,
      path: url.pathname,
      headers: req.headers,
      body,
      at: Date.now()
    };
    requests.push(entry);
    const idOf = /^\/api\/2\.0\/sql\/statements\/([^/]+)/.exec(url.pathname)?.[1];
    entry.check =
      url.pathname === '/api/2.0/sql/statements'
        ? isCheck(safeStatement(body))
        : Boolean(idOf && states.get(idOf)?.check);
    watch.seen(entry);
    const fault = takeFault(faults, req.method, url.pathname, entry.check);
    const faulty = (fault?.status || fault?.resetAfterHandling) && fault;
    if (faulty && !faulty.afterHandling && !faulty.resetAfterHandling)
      return json(
        res,
        faulty.status,
        (typeof faulty.body === 'function' ? faulty.body(req, body) : faulty.body) ?? {
          error_code: 'TEMPORARILY_UNAVAILABLE',
          message: 'Injected'
        },
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

    if (req.method === 'POST' && url.pathname === '/oidc/v1/token' && options.oidc) {
      const form = new URLSearchParams(body);
      entry.form = Object.fromEntries(form);
      const refuse = (status, error, description) => {
        entry.refused = description;
        return json(res, status, { error, error_description: description });
      };
      if (req.headers.authorization)
        return refuse(
          400,
          'invalid_request',
          'no client authentication is taken with token federation'
        );
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') {
        return refuse(
          400,
          'unsupported_grant_type',
          `grant type ${form.get('grant_type')} is not supported`
        );
      }
      if (
        form.get('subject_token_type') !== 'urn:ietf:params:oauth:token-type:jwt' ||
        form.get('scope') !== 'all-apis'
      ) {
        return refuse(400, 'invalid_request', 'subject_token_type must be jwt and scope all-apis');
      }
      if (form.get('client_id') !== options.oidc.clientId) {
        return refuse(
          401,
          'invalid_client',
          `no service principal ${form.get('client_id')} with a federation policy`
        );
      }
      if (
        options.refuseExchangesAfter !== undefined &&
        exchanges.length >= options.refuseExchangesAfter
      ) {
        return refuse(401, 'invalid_client', 'the service principal has no federation policy');
      }
      const checked = verifyIdToken(form.get('subject_token') ?? '', options.oidc);
      if (checked.reason) {
        return refuse(
          400,
          'invalid_request',
          `Token federation policy did not match: ${checked.reason}`
        );
      }
      const seconds = Math.max(
        1,
        Math.min(options.tokenSeconds, checked.claims.exp - Math.floor(Date.now() / 1000))
      );
      const token = `eyJfed.${randomUUID()}`;
      issued.set(token, Date.now() + seconds * 1000);
      exchanges.push({ token, sub: checked.claims.sub, at: Date.now() });
      return json(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        expires_in: seconds,
        scope: 'all-apis'
      });
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
      issued.set(token, Date.now() + options.tokenSeconds * 1000);
      return json(res, 200, {
        access_token: token,
        token_type: 'Bearer',
        expires_in: options.tokenSeconds,
        scope: 'all-apis'
      });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer && issued.has(bearer) && Date.now() >= issued.get(bearer)) {
      entry.refused = 'expired';
      return json(res, 401, { error_code: 'UNAUTHENTICATED', message: 'Token is expired.' });
    }
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
      const check = isCheck(sent.statement);
      if (check) checks++;
      else executed.push(sent.statement);
      states.set(id, {
        polls: 0,
        check,
        sent,
        state: 'RUNNING',
        catalog: sent.catalog ?? options.defaultCatalog,
        schema: sent.schema ?? 'default'
      });
      return json(res, 200, { statement_id: id, status: { state: 'PENDING' } });
    }
    const m = /^\/api\/2\.0\/sql\/statements\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (m && states.has(m[1])) {
      const s = states.get(m[1]);
      if (m[2]) {
        if (s.state === 'RUNNING') {
          s.end = { status: { state: 'CANCELED' } };
          s.state = 'ENDED';
        }
        cancels.push(m[1]);
        return json(res, 200, {});
      }
      if (s.forgotten) {
        return json(res, 404, {
          error_code: 'RESOURCE_DOES_NOT_EXIST',
          message: `Statement ${m[1]} not found.`
        });
      }
      const never =
        options.neverEnds === true ||
        (options.neverEnds instanceof RegExp && options.neverEnds.test(s.sent.statement));
      if (s.state === 'RUNNING' && ((never && !s.check) || s.polls++ < (options.polls ?? 1))) {
        return json(res, 200, { statement_id: m[1], status: { state: 'RUNNING' } });
      }
      if (s.state === 'RUNNING') {
        s.end = run(s);
        s.state = 'ENDED';
      }
      return json(res, 200, { statement_id: m[1], status: s.end.status, ...(s.end.extra ?? {}) });
    }
    json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: 'No API found' });
  });

  function safeStatement(body) {
    try {
      return String(JSON.parse(body).statement ?? '');
    } catch {
      return '';
    }
  }

  /** Runs the statement in its request's session; what its end reports. */
  function run(s) {
    const failed = (error) => ({ status: { state: 'FAILED', error } });
    const statement = s.sent.statement;
    // One statement a request: a second one is a syntax error, reported as a FAILED statement.
    if (/;\s*\S/.test(statement.replace(/\$\$[\s\S]*?\$\$|'[^']*'|"[^"]*"|`[^`]*`/g, ''))) {
      return failed({
        error_code: 'PARSE_SYNTAX_ERROR',
        message: "[PARSE_SYNTAX_ERROR] Syntax error at or near ';'. SQLSTATE: 42601"
      });
    }
    const named = /^USE\s+CATALOG\s+`?([^`\s]+)`?$/i.exec(statement)?.[1];
    for (const catalog of [s.catalog, named]) {
      if (catalog !== undefined && !options.catalogs.includes(catalog.toLowerCase())) {
        return failed({
          error_code: 'NO_SUCH_CATALOG_EXCEPTION',
          message: `[NO_SUCH_CATALOG_EXCEPTION] Catalog '${catalog}' was not found. SQLSTATE: 42704`
        });
      }
    }
    if (s.check) {
      return {
        status: { state: 'SUCCEEDED' },
        extra: {
          manifest: { format: 'JSON_ARRAY', total_row_count: 1, truncated: false },
          result: { row_count: 1, data_array: [[s.catalog.toLowerCase(), s.schema.toLowerCase()]] }
        }
      };
    }
    if (options.failOn?.test(statement)) {
      const times = failures.get(statement) ?? 0;
      if (times < options.failTimes) {
        failures.set(statement, times + 1);
        return failed({
          error_code: 'PERMISSION_DENIED',
          message: "User does not have MANAGE on Catalog 'immuta'."
        });
      }
    }
    ran.push({ statement, catalog: s.catalog, schema: s.schema });
    const state = options.endState ?? 'SUCCEEDED';
    return { status: { state }, extra: resultOf(s.sent, state) };
  }

  /** The result a finished statement answers with: its rows, cut where the request asked. */
  function resultOf(sent, state) {
    if (state !== 'SUCCEEDED' || !options.resultRows) return {};
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
    options,
    requests,
    executed,
    ran,
    cancels,
    issued,
    exchanges,
    waitFor: (match) => watch.waitFor(match),
    fault: (spec) => faults.push({ times: 1, ...spec }),
    /** Makes Databricks forget the statements it took (as it does 12 hours after they end). */
    forget() {
      for (const s of states.values()) s.forgotten = true;
    },
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
