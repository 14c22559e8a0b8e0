// A loopback HTTP server for a stand-in: the handler gets the request, the response and the whole
// body as text; close() drops every connection still open (a client waiting on a stalled answer).
// reply() answers JSON, or a string as it is, as a page (a proxy's, say).
import * as http from 'node:http';

export async function listen(handler) {
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

/** Answers `body` as JSON of `type`, or a string as an HTML page, with the headers given. */
export function reply(res, status, body, headers = {}, type = 'application/json') {
  const raw = typeof body === 'string';
  res.writeHead(status, { 'content-type': raw ? 'text/html; charset=utf-8' : type, ...headers });
  res.end(raw ? body : JSON.stringify(body));
}
