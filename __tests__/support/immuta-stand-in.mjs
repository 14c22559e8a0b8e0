// A loopback server that behaves like Immuta for the endpoints the action uses, failures included.
// Shared by the end-to-end tests and `npm run demo`, so what the demo shows is what is tested.
import * as http from 'node:http';
import * as https from 'node:https';

export const DEFAULT_API_KEY = 'immuta-api-key-4f1e2d3c';
export const DEFAULT_TOKEN = 'immuta-session-token-9a8b7c6d';

export function snowflakeScript(integrationId) {
  return [
    `-- Immuta cleanup script for integration ${integrationId}`,
    'USE ROLE ACCOUNTADMIN;',
    'DROP DATABASE IF EXISTS IMMUTA_SYSTEM;',
    'DROP USER IF EXISTS IMMUTA_SYSTEM_ACCOUNT;',
    'DROP ROLE IF EXISTS IMMUTA_SNOWFLAKE_ROLE;',
    'REVOKE ROLE IMMUTA_SNOWFLAKE_ROLE FROM USER "ops@example.com";',
    'EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE IF EXISTS IMMUTA_WH; END; $$;',
    ''
  ].join('\n');
}

export function databricksScript(integrationId) {
  return [
    `-- Immuta cleanup script for integration ${integrationId}`,
    'DROP CATALOG IF EXISTS immuta CASCADE;',
    ''
  ].join('\n');
}

/**
 * Adds host `key` to a state, backed by integration `integrationId` of its own, whose cleanup
 * script is the stand-in's for its technology.
 */
export function addHost(
  state,
  key,
  { integrationId, hostname, technology = 'Snowflake', childCount = 5 }
) {
  state.hosts[key] = { nativeIntegrationId: integrationId, technology, hostname, childCount };
  state.integrations[integrationId] = {
    status: 'enabled',
    type: technology,
    script:
      technology === 'Databricks' ? databricksScript(integrationId) : snowflakeScript(integrationId)
  };
}

export function defaultState() {
  return {
    hosts: {
      'snowflake-prod': {
        nativeIntegrationId: 1,
        technology: 'Snowflake',
        hostname: 'acme-prod.snowflakecomputing.com',
        childCount: 42
      },
      'databricks-uc': {
        nativeIntegrationId: 2,
        technology: 'Databricks',
        hostname: 'dbc-1234.cloud.databricks.com',
        childCount: 7
      },
      'lake-formation': {
        nativeIntegrationId: 3,
        technology: 'AWS Lake Formation',
        hostname: 'arn:aws:glue:us-east-1:123456789012:catalog',
        childCount: 3
      }
    },
    integrations: {
      1: { status: 'enabled', type: 'Snowflake', script: snowflakeScript(1) },
      2: { status: 'enabled', type: 'Databricks', script: databricksScript(2) },
      3: { status: 'enabled', type: 'AWS Lake Formation' }
    }
  };
}

/**
 * Starts the stand-in on 127.0.0.1 (port: options.port, or any free one).
 * options: prefix ('' or '/immuta'), tls ({key, cert}) for HTTPS, apiKey, token, state (hosts and
 * integrations), scriptShape ('json-string' | 'json-object' | 'text' | 'sql-field'),
 * deleteShape ('schema' | 'object-path' | 'docs-example' | 'unreadable'),
 * permissions ({script, delete}: false answers 403), latencyMs (every answer waits this long, as
 * a tenant across a network would).
 * Faults are queued with fault({method, path, times, status, body, headers, reset, hang,
 * resetAfterHandling, delayMs, endless, trickleMs, afterHandling}); path is a string or RegExp
 * matched against the path below the prefix, as sent. A header set to null is left out.
 * endless: an answer (200 unless status says otherwise) whose chunked body never ends, as fast
 * as the client reads. trickleMs: one whose body sends one byte every trickleMs, forever. afterHandling: the request is carried out,
 * then the answer is replaced by the fault's status, body and headers (a proxy in the way).
 * before: a function the stand-in awaits when the request arrives, before carrying it out (to
 * change the world at that moment: a disk that fills up as the DELETE goes out, say).
 * A request that misses the prefix gets what a web server in front would send: its HTML 404; or,
 * with missedPrefix: 'immuta', Immuta's own JSON 404, as a tenant answers any route it does not
 * know (immuta-url with an extra path, …/api, reaches the tenant and gets that).
 */
export async function startImmutaStandIn(options = {}) {
  const prefix = options.prefix ?? '';
  const apiKey = options.apiKey ?? DEFAULT_API_KEY;
  const token = options.token ?? DEFAULT_TOKEN;
  const state = options.state ?? defaultState();
  const permissions = { script: true, delete: true, ...options.permissions };
  const requests = [];
  const faults = [];
  const sockets = new Set();

  const handler = async (req, res) => {
    const body = await readBody(req);
    const rawPath = req.url.split('?')[0];
    const path = rawPath.startsWith(prefix) ? rawPath.slice(prefix.length) : undefined;
    const entry = { method: req.method, rawPath, path, headers: req.headers, body, at: Date.now() };
    requests.push(entry);

    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs));
    const fault = path === undefined ? undefined : takeFault(faults, req.method, path);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.before) await fault.before();
    if (fault?.hang) return; // never answer: the client must time out
    if (fault?.reset) return req.socket.destroy();
    if (fault?.endless) return sendForever(res, fault.status, fault.headers, 0);
    if (fault?.trickleMs) return sendForever(res, fault.status, fault.headers, fault.trickleMs);
    if (fault?.status && !fault.afterHandling) {
      return send(
        res,
        fault.status,
        fault.body ?? boom(fault.status, 'Injected fault'),
        fault.headers
      );
    }
    const answer = route(req.method, path, req.headers, body);
    if (fault?.resetAfterHandling) return req.socket.destroy(); // the work is done, the answer lost
    if (fault?.afterHandling) {
      return send(
        res,
        fault.status ?? answer.status,
        fault.body ?? answer.body,
        fault.headers ?? answer.headers
      );
    }
    send(res, answer.status, answer.body, answer.headers);
  };

  function route(method, path, headers, body) {
    if (path === undefined) {
      return options.missedPrefix === 'immuta'
        ? { status: 404, body: boom(404, 'Not Found') }
        : NGINX_404;
    }
    const segments = path.split('/').slice(1).map(decodeURIComponent);

    if (method === 'POST' && path === '/bim/apikey/authenticate') {
      const sent = safeJson(body);
      if (!sent || sent.apikey !== apiKey)
        return { status: 401, body: boom(401, 'Invalid API key') };
      return { status: 200, body: JSON.stringify({ authenticated: true, token }) };
    }
    const auth = headers.authorization;
    if (auth !== apiKey && auth !== `Bearer ${token}`) {
      return { status: 401, body: boom(401, 'Invalid credentials') };
    }

    if (segments[0] === 'data' && segments.length === 3) {
      const host = state.hosts[segments[2]];
      if (!host) return { status: 404, body: boom(404, `No connection found for ${segments[2]}.`) };
      if (segments[1] === 'connection' && method === 'GET') {
        return {
          status: 200,
          body: JSON.stringify({
            connectionKey: segments[2],
            connection: { technology: host.technology, hostname: host.hostname },
            nativeIntegrationId: host.nativeIntegrationId
          })
        };
      }
      if (segments[1] === 'object' && method === 'GET') {
        return {
          status: 200,
          body: JSON.stringify({
            objectPath: [segments[2]],
            technology: host.technology,
            state: host.state ?? 'active',
            settings: {}
          })
        };
      }
      if (segments[1] === 'object' && method === 'DELETE') {
        if (!permissions.delete) {
          return {
            status: 403,
            body: boom(403, 'User does not have permission to delete this object.')
          };
        }
        delete state.hosts[segments[2]];
        delete state.integrations[host.nativeIntegrationId];
        return { status: 200, body: deleteBody(options.deleteShape, segments[2], host.childCount) };
      }
    }

    if (method === 'GET' && path === '/integrations') {
      return {
        status: 200,
        body: JSON.stringify(
          Object.entries(state.integrations).map(([id, integration]) => ({
            id: Number(id),
            status: integration.status,
            type: integration.type
          }))
        )
      };
    }

    if (segments[0] === 'integrations' && segments.length >= 2) {
      const integration = state.integrations[segments[1]];
      if (!integration) {
        return { status: 404, body: boom(404, `No Integration found with ID ${segments[1]}.`) };
      }
      if (method === 'GET' && segments.length === 2) {
        return {
          status: 200,
          body: JSON.stringify({
            id: segments[1],
            status: integration.status,
            type: integration.type
          })
        };
      }
      if (method === 'POST' && segments[2] === 'scripts' && segments[3] === 'delete') {
        if (!permissions.script) {
          return {
            status: 403,
            body: boom(403, 'User does not have permission APPLICATION_ADMIN.')
          };
        }
        if (integration.status !== 'enabled') {
          return {
            status: 409,
            body: boom(
              409,
              `Unable to edit integration with ID ${segments[1]} in current state ${integration.status}.`
            )
          };
        }
        return scriptAnswer(options.scriptShape, integration.script ?? '');
      }
    }
    return { status: 404, body: boom(404, 'Not Found') };
  }

  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler)
    : http.createServer(handler);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}${prefix}`;

  return {
    url,
    apiKey,
    token,
    state,
    requests,
    /**
     * Immuta's record of host `key` names the workspace at `url`: a test's warehouse stand-in
     * is on loopback, and step 3 runs a host's script only in the workspace Immuta names. A
     * host no longer there is left as it is.
     */
    placeHost(key, url) {
      // A host an earlier attempt deleted keeps its place in the record that attempt kept.
      if (state.hosts[key]) state.hosts[key].hostname = new URL(url).hostname;
    },
    /** Requests made with this method (and path, when given, below the prefix). */
    sent(method, path) {
      return requests.filter(
        (r) =>
          r.method === method &&
          (path === undefined ||
            (path instanceof RegExp ? path.test(r.path ?? '') : r.path === path))
      );
    },
    fault(spec) {
      faults.push({ times: 1, ...spec });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    }
  };
}

function takeFault(faults, method, path) {
  const index = faults.findIndex(
    (f) =>
      (f.method === undefined || f.method === method) &&
      (f.path === undefined || (f.path instanceof RegExp ? f.path.test(path) : f.path === path))
  );
  if (index === -1) return undefined;
  const fault = faults[index];
  if (--fault.times <= 0) faults.splice(index, 1);
  return fault;
}

function scriptAnswer(shape = 'json-string', script) {
  switch (shape) {
    case 'json-object':
      return { status: 200, body: JSON.stringify({ script }) };
    case 'sql-field':
      return { status: 200, body: JSON.stringify({ sql: script }) };
    case 'text':
      return {
        status: 200,
        body: script,
        headers: { 'content-type': 'text/plain; charset=utf-8' }
      };
    default:
      return { status: 200, body: JSON.stringify(script) };
  }
}

function deleteBody(shape = 'schema', key, childCount) {
  switch (shape) {
    case 'object-path':
      return JSON.stringify({ objectPath: [key], childCount });
    case 'docs-example':
      // As Immuta's documentation prints it: single quotes, so not JSON.
      return `{"objectPath": ['${key}'], "childCount": ${childCount}}`;
    case 'unreadable':
      return '<html>OK</html>';
    default:
      return JSON.stringify({ connectionKey: key, childCount });
  }
}

function boom(statusCode, message) {
  const error = http.STATUS_CODES[statusCode] ?? 'Error';
  return JSON.stringify({ statusCode, error, message });
}

const NGINX_404 = {
  status: 404,
  body: '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
  headers: { 'content-type': 'text/html' }
};

function send(res, status, body, headers = {}) {
  res.writeHead(status, present({ 'content-type': 'application/json; charset=utf-8', ...headers }));
  res.end(body);
}

function present(headers) {
  return Object.fromEntries(
    Object.entries(headers).filter(([, v]) => v !== null && v !== undefined)
  );
}

/** A body that never ends: as fast as the client reads, or a byte every `everyMs`. */
function sendForever(res, status = 200, headers = {}, everyMs) {
  res.writeHead(status, present({ 'content-type': 'text/plain', ...headers }));
  const chunk = Buffer.alloc(64 * 1024, 'DROP TABLE T; ');
  let timer;
  const stop = () => clearTimeout(timer);
  res.on('close', stop);
  const pump = () => {
    if (res.destroyed) return;
    if (everyMs) {
      res.write('-');
      timer = setTimeout(pump, everyMs);
      return;
    }
    while (res.write(chunk)) if (res.destroyed) return;
    res.once('drain', pump);
  };
  pump();
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
