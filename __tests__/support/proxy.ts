import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

export interface ProxyOptions {
  /** An https:// proxy: the client speaks TLS to the proxy itself. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * The ports CONNECT may open tunnels to; others get a 403, as Squid's default
   * `http_access deny CONNECT !SSL_ports` does. Unset: every port.
   */
  connectPorts?: number[];
  /** How the proxy behaves: 'relay' (a proxy), 'silent' (accepts, never answers), 'html' (a 200 page to anything). */
  behaviour?: 'relay' | 'silent' | 'html';
  /** Names the proxy resolves itself, as a corporate proxy's DNS does (e.g. oidc.test → 127.0.0.1). */
  hosts?: Record<string, string>;
}

/**
 * A forward proxy on loopback, as a corporate proxy is: it opens CONNECT tunnels and forwards
 * requests given in absolute form (`GET http://host/path`), and records where each went.
 * `tunnels` lists every target it carried traffic to, by either way, as host:port; `connects`
 * and `forwarded` list them by way. With `credentials` (user:password), a tunnel or a request
 * without them gets a 407. With `tls`, `servernames` records the name (SNI) each handshake with
 * the proxy asked for ('' for none).
 */
export async function startConnectProxy(credentials?: string, options: ProxyOptions = {}) {
  const tunnels: string[] = [];
  const connects: string[] = [];
  const forwarded: string[] = [];
  const servernames: string[] = [];
  const expected = credentials && `Basic ${Buffer.from(credentials).toString('base64')}`;
  const behaviour = options.behaviour ?? 'relay';
  const sockets = new Set<net.Socket>();
  const resolve = (host: string) => options.hosts?.[host] ?? host;

  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (behaviour === 'silent') return;
    if (behaviour === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in to the proxy</html>');
      return;
    }
    if (!/^http:\/\//i.test(req.url ?? '')) {
      res.writeHead(400).end();
      return;
    }
    if (expected && req.headers['proxy-authorization'] !== expected) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
      return;
    }
    const target = new URL(req.url!);
    tunnels.push(target.host);
    forwarded.push(target.host);
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      {
        host: resolve(target.hostname),
        port: target.port || 80,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers,
        agent: false
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      }
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.pipe(upstream);
  };

  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, forward)
    : http.createServer(forward);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: { servername?: string | false }) =>
    servernames.push(socket.servername || '')
  );
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    if (behaviour === 'silent') return;
    if (behaviour === 'html') {
      client.end(
        'HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 20\r\n\r\n<html>Sign in</html>'
      );
      return;
    }
    if (expected && req.headers['proxy-authorization'] !== expected) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const [host, port] = splitAuthority(req.url ?? '');
    if (options.connectPorts && !options.connectPorts.includes(Number(port))) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels.push(req.url ?? '');
    connects.push(req.url ?? '');
    const upstream = net.connect(Number(port), resolve(host), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    tunnels,
    connects,
    forwarded,
    servernames,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  };
}

/** host:port, or [v6]:port, split. */
function splitAuthority(authority: string): [string, string] {
  const m = /^\[(.+)\]:(\d+)$/.exec(authority) ?? /^([^:]+):(\d+)$/.exec(authority);
  return m ? [m[1]!, m[2]!] : [authority, ''];
}
