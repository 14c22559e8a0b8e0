// Attack round 2, B: inputs, secrets, hostile answers, proxies, batches, plans, summaries. Each
// test is a way an attacker or an unlucky user broke the action, through dist/index.js as the
// runner starts it, and asserts what the user should see instead.
import { afterEach, describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { startImmutaStandIn, type ImmutaStandIn } from '../support/immuta-stand-in.mjs';
import { ROOT, runAction, scratchDir } from '../support/run-action.mjs';
import { stepInputs, trail, visibleLog } from '../support/inputs.js';
import { standIns } from '../support/stand-ins.js';

const start = standIns();

let closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

/** Immuta with the default hosts, closed after the test. */
const tenant = (): Promise<ImmutaStandIn> => start.immuta();

describe('a 200 to the DELETE counts only when it is the answer for this host', () => {
  // A cache or a gateway in front of Immuta that hands back another request's answer: the lookup
  // of a record naming another host is refused ("another host's record (a cache in the way)"),
  // and the answer to the delete must be held to the same rule. Here the DELETE never reached
  // Immuta: the host is still there, yet the step said deregistered (and with run-script it
  // would go on to drop Immuta's objects in the warehouse of a host Immuta still has).
  it.each([
    ['connectionKey', '{"connectionKey":"databricks-uc","childCount":7}'],
    ['objectPath', '{"objectPath":["databricks-uc"],"childCount":7}']
  ])(
    "an answer whose %s names another host is not taken for this host's deletion",
    async (_field, body) => {
      const immuta = await tenant();
      immuta.fault({
        method: 'DELETE',
        status: 200,
        body,
        headers: { 'content-type': 'application/json' }
      });
      const run = await runAction({ inputs: stepInputs(immuta) });
      // The host was not deleted, and the step must not say it was.
      expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
      expect(run.code).toBe(1);
      expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
      expect(run.outputs['child-count']).toBe('');
      expect(run.summary).not.toMatch(/Deregistered host/);
    }
  );

  // The schema's connectionKey and the example's objectPath say which host went; an empty one
  // says nothing, so only a lookup can tell, as for any other answer of an unknown shape.
  it.each([
    ['an empty connectionKey', '{"connectionKey":""}'],
    ['an empty objectPath', '{"objectPath":[]}'],
    ['a null connectionKey', '{"connectionKey":null}']
  ])(
    'an answer with %s and no child count is checked with a lookup before it counts',
    async (_what, body) => {
      const immuta = await tenant();
      immuta.fault({
        method: 'DELETE',
        status: 200,
        body,
        headers: { 'content-type': 'application/json' }
      });
      const run = await runAction({ inputs: stepInputs(immuta) });
      expect(immuta.state.hosts['snowflake-prod']).toBeDefined();
      expect(trail(immuta)).toContain('GET /data/object/snowflake-prod');
      expect(run.code).toBe(1);
      expect(run.outputs).toMatchObject({ status: 'failed', deleted: 'false' });
      expect(run.errors.join('\n')).toMatch(/still in Immuta: it was not deleted/);
    }
  );
});

describe('proxy credentials are secrets too', () => {
  // The password of HTTP_PROXY goes on the wire as a Basic value (Proxy-Authorization). A
  // proxy's error page that shows the request it got (many debugging and corporate proxies do)
  // is quoted into the error, the job summary and the report: the Basic value, and the
  // password, must be masked and cut out there as the API key is.
  it("a proxy's error page echoing Proxy-Authorization shows neither the Basic value nor the password", async () => {
    const immuta = await tenant();
    const password = 'pr0xy-pa55-7c1d';
    const basic = Buffer.from(`ops:${password}`).toString('base64');
    const echoing = http.createServer((req, res) => {
      res
        .writeHead(502, { 'content-type': 'text/html' })
        .end(
          `<html><body><h1>Bad gateway</h1><p>Proxy-Authorization: ${req.headers['proxy-authorization']}</p></body></html>`
        );
    });
    await new Promise<void>((resolve) => echoing.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => echoing.close(resolve)));
    const { port } = echoing.address() as { port: number };
    const run = await runAction({
      inputs: stepInputs(immuta, { 'max-attempts': '1' }),
      env: { HTTP_PROXY: `http://ops:${password}@127.0.0.1:${port}` }
    });
    expect(run.code).toBe(1);
    // The page was quoted (so the test sees what a reader would)...
    expect(run.errors[0]).toMatch(/Bad gateway/);
    // ...without the credentials it carried, in any place a reader or a later job sees.
    const report = run.outputs['report-path']
      ? await fs.readFile(run.outputs['report-path'], 'utf8')
      : '';
    for (const place of [visibleLog(run.log), run.summary, report]) {
      expect(place).not.toContain(basic);
      expect(place).not.toContain(password);
    }
  });
});

describe('a plan file that is not one', () => {
  // plan: is a path the user types; pointing it at a large file (a log, a dump, the wrong
  // download) read the whole file into memory and failed with V8's own "Cannot create a string
  // longer than 0x1fffffe8 characters", naming no input. A plan is small (scripts are capped at
  // 8 MiB each): a file far past any plan is bad input, refused with the input's name, without
  // reading it all.
  it('a file far larger than any plan is refused naming the input, in bounded memory', async () => {
    const immuta = await tenant();
    const dir = await fs.mkdtemp(path.join(scratchDir(), 'huge-plan-'));
    const file = path.join(dir, 'plan.json');
    // A sparse file: it takes no disk, and reads as 600 MB of zero bytes.
    const handle = await fs.open(file, 'w');
    await handle.truncate(600 * 1024 * 1024);
    await handle.close();
    try {
      const run = await runAction({
        inputs: stepInputs(immuta, { 'connection-key': '', plan: file }),
        measureMemory: true,
        timeoutMs: 180_000
      });
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toContain("Input 'plan'");
      expect(run.errors[0]).not.toMatch(/Cannot create a string/);
      expect(run.log).not.toMatch(/^\s+at /m);
      expect(run.peakRssMiB).toBeLessThan(400);
      expect(immuta.requests).toHaveLength(0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('the API key echoed back URL-encoded, in any of its spellings', () => {
  // A key holding + / = (printable ASCII, as the encoded-secrets tests allow) is masked in its
  // upper-case percent-encoding. RFC 3986 §2.1 makes lower-case hex digits the same encoding,
  // and a gateway that encodes an already encoded value doubles the %: a server or a proxy that
  // echoes the key either way put it, readable, in the annotation, the summary and report.json.
  const KEY = 'immuta+key/ab=cd-1234';
  it.each([
    [
      'with lower-case hex digits',
      encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (s) => s.toLowerCase())
    ],
    ['encoded twice', encodeURIComponent(encodeURIComponent(KEY))]
  ])('%s, it is shown nowhere', async (_what, echoed) => {
    const immuta = await startImmutaStandIn({ apiKey: KEY });
    closers.push(() => immuta.close());
    immuta.fault({
      method: 'GET',
      path: '/data/connection/snowflake-prod',
      status: 400,
      body: JSON.stringify({ message: `Bad Authorization header: ${echoed}` })
    });
    const run = await runAction({ inputs: stepInputs(immuta) });
    expect(run.code).toBe(1);
    const report = await fs.readFile(run.outputs['report-path']!, 'utf8');
    expect(report).toContain('Bad Authorization header');
    // run.errors are the annotations as the runner shows them (its %25 escapes undone).
    for (const place of [run.errors.join('\n'), run.summary, report]) {
      expect(place).toContain('Bad Authorization header');
      expect(place).not.toContain(echoed);
    }
  });
});

describe('a ca-certificate that holds no usable certificate is bad input', () => {
  // Node ignores a PEM block it cannot parse, so the connection went ahead without the CA and
  // failed with "the tenant's certificate is not trusted ... pass that CA's PEM in
  // ca-certificate", which is what the user had done. A secret pasted with its line breaks as
  // the two characters \n (as JSON and many vaults show it) is the common way to get there.
  it.each([
    ['its line breaks written as \\n', (pem: string) => pem.replace(/\n/g, '\\n')],
    [
      'a PEM block whose body is not a certificate',
      () => '-----BEGIN CERTIFICATE-----\nMIIBnotacertificate\n-----END CERTIFICATE-----\n'
    ]
  ])('with %s: the error names ca-certificate and nothing is sent', async (_what, spoil) => {
    const tls = path.join(ROOT, '__tests__', 'fixtures', 'tls');
    const immuta = await startImmutaStandIn({
      tls: {
        key: await fs.readFile(path.join(tls, 'server.key'), 'utf8'),
        cert: await fs.readFile(path.join(tls, 'server.pem'), 'utf8')
      }
    });
    closers.push(() => immuta.close());
    const ca = await fs.readFile(path.join(tls, 'ca.pem'), 'utf8');
    const run = await runAction({
      inputs: stepInputs(immuta, { 'allow-insecure-http': 'false', 'ca-certificate': spoil(ca) })
    });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/^Input 'ca-certificate'/);
    expect(run.log).not.toMatch(/^\s+at /m);
    expect(immuta.requests).toHaveLength(0);
  });
});

describe('a delete whose outcome is unknown is never reported as not done', () => {
  // Immuta acted, but its answer was lost (and no attempt was left), or came back as a page and
  // the lookup that would settle it failed. The error says, rightly, that the host may have been
  // deleted; the summary then closed with "This step did not delete the host.", which is untrue
  // here (the host is gone), and a reader who trusts it never runs the cleanup script.
  it.each([
    [
      'its answer lost, with no attempt left',
      (immuta: ImmutaStandIn) =>
        immuta.fault({
          method: 'DELETE',
          path: '/data/object/databricks-uc',
          resetAfterHandling: true
        })
    ],
    [
      'a page for an answer, and a lookup that fails',
      (immuta: ImmutaStandIn) => {
        immuta.fault({
          method: 'DELETE',
          path: '/data/object/databricks-uc',
          status: 200,
          body: '<html>ok</html>',
          headers: { 'content-type': 'text/html' },
          afterHandling: true
        });
        immuta.fault({
          method: 'GET',
          path: '/data/object/databricks-uc',
          status: 500,
          body: '{"statusCode":500,"error":"Internal Server Error","message":"boom"}',
          headers: { 'content-type': 'application/json' }
        });
      }
    ]
  ])(
    'one host, %s: the summary does not say the step did not delete it',
    async (_what, arrange) => {
      const immuta = await tenant();
      arrange(immuta);
      const run = await runAction({
        inputs: stepInputs(immuta, { 'connection-key': 'databricks-uc', 'max-attempts': '1' })
      });
      expect(run.code).toBe(1);
      // Immuta did delete it.
      expect(immuta.state.hosts['databricks-uc']).toBeUndefined();
      expect(run.errors[0]).toMatch(/may (or may not )?have (been )?deleted/);
      expect(run.summary).not.toContain('This step did not delete the host.');
    }
  );

  it("a batch whose second delete's answer was lost does not call that host not deleted, and names its script", async () => {
    const immuta = await tenant();
    immuta.fault({
      method: 'DELETE',
      path: '/data/object/databricks-uc',
      resetAfterHandling: true
    });
    const run = await runAction({
      inputs: stepInputs(immuta, {
        'connection-key': 'snowflake-prod\ndatabricks-uc',
        'max-attempts': '1',
        'max-parallel': '1'
      })
    });
    expect(run.code).toBe(1);
    expect(immuta.state.hosts['databricks-uc']).toBeUndefined();
    const nextStep = run.summary.split('### Next step')[1]!.split('\n|')[0]!;
    // "1 host was not deleted: fix what the notes name" is untrue: Immuta deleted it.
    expect(nextStep).not.toMatch(/1 host was not deleted/);
    // Its cleanup script may be needed now: the next step must not leave it out.
    expect(nextStep).toContain('databricks-uc');
  });
});

describe('upload-artifact where no artifact can be uploaded', () => {
  // upload-artifact is true by default; on a runner without the artifact service (GitHub
  // Enterprise Server, a local runner such as act) ACTIONS_RUNTIME_TOKEN is not set, which the
  // step can see before anything else. It looked the host up and had Immuta generate its script
  // first, and only then stopped: a mistake in the step's setup should cost no request.
  it('stops before any request, saying to set upload-artifact: false', async () => {
    const immuta = await tenant();
    const run = await runAction({ inputs: stepInputs(immuta, { 'upload-artifact': 'true' }) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/ACTIONS_RUNTIME_TOKEN/);
    expect(run.errors[0]).toMatch(/upload-artifact: false/);
    expect(immuta.requests).toHaveLength(0);
  });
});
