import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';

/**
 * A forward proxy on loopback that opens CONNECT tunnels, as a corporate proxy does, and records
 * where each went. With `credentials` (user:password), a tunnel without them gets a 407. With
 * `tls`, it is an https:// proxy: the client speaks TLS to the proxy itself, and `servernames`
 * records the name (SNI) each of those handshakes asked for ('' for none).
 * With `hosts` (name → address), it also forwards plain http:// requests sent to it in absolute
 * form, recording each as METHOD host:port in `forwarded`, and resolves those names itself, as a
 * proxy resolves names the client cannot: a request that reaches such a name went through it.
 */
export async function startConnectProxy(
  credentials?: string,
  options: {
    tls?: { key: string | Buffer; cert: string | Buffer };
    hosts?: Record<string, string>;
  } = {}
) {
  const tunnels: string[] = [];
  const servernames: string[] = [];
  const forwarded: string[] = [];
  const resolve = (host: string) => options.hosts?.[host] ?? host;
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!options.hosts || !req.url?.startsWith('http://')) return res.writeHead(405).end();
    const target = new URL(req.url);
    forwarded.push(`${req.method} ${target.host}`);
    const upstream = http.request(
      {
        host: resolve(target.hostname),
        port: target.port || 80,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers: req.headers
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      }
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = options.tls
    ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, refuse)
    : http.createServer(refuse);
  server.on('secureConnection', (socket: { servername?: string | false }) =>
    servernames.push(socket.servername || '')
  );
  server.on('connect', (req, client, head) => {
    const expected = credentials && `Basic ${Buffer.from(credentials).toString('base64')}`;
    if (expected && req.headers['proxy-authorization'] !== expected) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), resolve(host ?? ''), () => {
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
    servernames,
    forwarded,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  };
}
