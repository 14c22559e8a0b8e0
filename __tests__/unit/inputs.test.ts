import { describe, expect, it } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseInputs, readConfig, InputError } from '../../src/action/inputs.js';
import { coreSource, readerOf } from '../support/input-source.js';

const base = {
  'immuta-url': 'https://acme.immuta.com',
  'api-key': 'secret-key',
  'connection-key': 'snowflake-prod'
};

/** A real CA certificate: ca-certificate is held to what Node can read. */
const CA = fs.readFileSync(
  path.join(import.meta.dirname, '..', 'fixtures', 'tls', 'ca.pem'),
  'utf8'
);

function parse(overrides: Record<string, string> = {}, env = { RUNNER_TEMP: '/runner/temp' }) {
  const values: Record<string, string> = { ...base, ...overrides };
  return parseInputs(readerOf(values), env);
}

function errorOf(overrides: Record<string, string>): InputError {
  try {
    parse(overrides);
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('parseInputs', () => {
  it('fills the documented defaults', () => {
    const config = parse();
    expect(config).toEqual({
      immutaUrl: 'https://acme.immuta.com',
      apiKey: 'secret-key',
      connectionKey: 'snowflake-prod',
      connectionKeys: ['snowflake-prod'],
      ifNoHosts: 'error',
      maxParallel: 4,
      failFast: true,
      plan: undefined,
      integrationId: undefined,
      authMethod: 'api-key',
      dryRun: false,
      ifMissing: 'error',
      uploadArtifact: true,
      artifactName: 'immuta-cleanup-script-snowflake-prod',
      retentionDays: undefined,
      scriptPath: path.resolve('/runner/temp/immuta-cleanup-snowflake-prod.sql'),
      timeoutMs: 30_000,
      maxAttempts: 3,
      caCertificate: undefined,
      summaryScript: true
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('keeps a path prefix and drops trailing slashes', () => {
    expect(parse({ 'immuta-url': 'https://x.example/immuta/' }).immutaUrl).toBe(
      'https://x.example/immuta'
    );
    expect(parse({ 'immuta-url': 'https://x.example///' }).immutaUrl).toBe('https://x.example');
  });

  it('reads every optional input', () => {
    const config = parse({
      'integration-id': '12',
      'auth-method': 'TOKEN',
      'dry-run': 'True',
      'if-missing': 'warn',
      'upload-artifact': 'false',
      'artifact-name': 'cleanup',
      'retention-days': '7',
      'script-path': '/tmp/x/cleanup.sql',
      'timeout-seconds': '5',
      'max-attempts': '1',
      'ca-certificate': CA,
      'allow-insecure-http': 'false'
    });
    expect(config).toMatchObject({
      integrationId: 12,
      authMethod: 'token',
      dryRun: true,
      ifMissing: 'warn',
      uploadArtifact: false,
      artifactName: 'cleanup',
      retentionDays: 7,
      scriptPath: '/tmp/x/cleanup.sql',
      timeoutMs: 5000,
      maxAttempts: 1
    });
    expect(config.caCertificate).toContain('BEGIN CERTIFICATE');
  });

  it('sanitises the default names from a key with awkward characters', () => {
    const config = parse({ 'connection-key': 'acme/prod: "main"' });
    expect(config.artifactName).toBe('immuta-cleanup-script-acme%2Fprod%3A %22main%22');
    expect(path.basename(config.scriptPath)).toBe('immuta-cleanup-acme%2Fprod%3A%20%22main%22.sql');
  });

  it.each([
    [{ 'api-key': '' }, 'api-key', /is required/],
    [{ 'connection-key': '' }, 'connection-key', /is required/],
    [{ 'connection-key': 'a\tb' }, 'connection-key', /control character/],
    [{ 'immuta-url': '' }, 'immuta-url', /is required/],
    [{ 'immuta-url': 'acme.immuta.com' }, 'immuta-url', /absolute URL/],
    [{ 'immuta-url': 'http://acme.immuta.com' }, 'immuta-url', /allow-insecure-http: true/],
    [{ 'immuta-url': 'ftp://acme.immuta.com' }, 'immuta-url', /must use https/],
    [{ 'immuta-url': 'https://u:p@acme.immuta.com' }, 'immuta-url', /user name or password/],
    [{ 'immuta-url': 'https://acme.immuta.com/?a=1' }, 'immuta-url', /query/],
    [{ 'integration-id': '0' }, 'integration-id', /whole number of 1 or more/],
    [{ 'integration-id': '1.5' }, 'integration-id', /whole number/],
    [{ 'integration-id': 'abc' }, 'integration-id', /"abc"/],
    [{ 'auth-method': 'bearer' }, 'auth-method', /one of api-key, token/],
    [{ 'dry-run': 'yes' }, 'dry-run', /true or false/],
    [{ 'if-missing': 'skip' }, 'if-missing', /one of error, warn, ignore/],
    [{ 'upload-artifact': '1' }, 'upload-artifact', /true or false/],
    [{ 'artifact-name': 'a/b' }, 'artifact-name', /"\/"/],
    [{ 'retention-days': '0' }, 'retention-days', /from 1 to 36500/],
    [{ 'retention-days': '36501' }, 'retention-days', /from 1 to 36500/],
    [{ 'if-no-hosts': 'skip' }, 'if-no-hosts', /one of error, warn, ignore/],
    [{ 'timeout-seconds': '0' }, 'timeout-seconds', /from 1 to 600/],
    [{ 'max-attempts': '-1' }, 'max-attempts', /from 1 to 10/],
    [{ 'ca-certificate': '/etc/ssl/ca.pem' }, 'ca-certificate', /PEM/],
    [{ 'allow-insecure-http': 'on' }, 'allow-insecure-http', /true or false/]
  ])('rejects %j, naming %s', (overrides, input, detail) => {
    const error = errorOf(overrides);
    expect(error.input).toBe(input);
    expect(error.message).toContain(`'${input}'`);
    expect(error.message).toMatch(detail);
    expect(error.message).not.toContain('secret-key');
  });

  it.each([
    ['its line breaks written as \\n', CA.trim().replace(/\n/g, '\\n'), /two characters \\n/],
    [
      'a block whose body is no certificate',
      '-----BEGIN CERTIFICATE-----\nMIIBnotacertificate\n-----END CERTIFICATE-----',
      /no certificate Node can read in its PEM block/
    ],
    [
      'a good block, then one cut short',
      `${CA}${CA.slice(0, CA.length - 60)}\n-----END CERTIFICATE-----\n`,
      /no certificate Node can read in PEM block 2 of 2/
    ]
  ])('refuses a ca-certificate with %s', (_what, value, detail) => {
    const error = errorOf({ 'ca-certificate': value });
    expect(error.input).toBe('ca-certificate');
    expect(error.message).toMatch(detail);
  });

  it('takes a bundle of certificates, each readable', () => {
    const bundle = `${CA}\n${CA}`.trim();
    expect(parse({ 'ca-certificate': bundle }).caCertificate).toBe(bundle);
  });

  it('passes a retention past 90 days on: the artifact service lowers it to the repository maximum', () => {
    expect(parse({ 'retention-days': '365' }).retentionDays).toBe(365);
    expect(parse({ 'retention-days': '36500' }).retentionDays).toBe(36500);
  });

  it.each([
    [
      'a comma-separated list',
      'snow-a, snow-b',
      /holds a comma \("snow-a, snow-b"\), as a comma-separated list does/
    ],
    ['one without spaces', 'snow-a,snow-b', /holds a comma/],
    [
      'a JSON list',
      '["snow-a","snow-b"]',
      /looks like a JSON list \("\[\\"snow-a\\",\\"snow-b\\"\]"\)/
    ],
    ['a JSON list of one', "['snow-a']", /looks like a JSON list/],
    [
      'toJSON of a list, on lines of its own',
      '[\n  "snow-a",\n  "snow-b"\n]',
      /looks like a JSON list \("\["\)/
    ],
    [
      'one line of several holding a list',
      'snow-c\nsnow-a, snow-b',
      /holds a comma \("snow-a, snow-b"\)/
    ]
  ])('refuses hosts given as %s: one key per line', (_what, value, detail) => {
    const error = errorOf({ 'connection-key': value });
    expect(error.input).toBe('connection-key');
    expect(error.message).toMatch(detail);
    expect(error.message).toContain('one connection key per line');
  });

  it('an empty connection-key fails unless if-no-hosts lets it, and says how', () => {
    expect(errorOf({ 'connection-key': '' }).message).toMatch(
      /^Input 'connection-key' is required but was empty\..*if-no-hosts: warn or ignore/
    );
    expect(errorOf({ 'connection-key': '# all retired\n\n' }).message).toMatch(
      /names no host: every line is blank or a # comment\..*if-no-hosts: warn or ignore/
    );
    for (const ifNoHosts of ['warn', 'ignore', 'WARN']) {
      const config = parse({ 'connection-key': '', 'if-no-hosts': ifNoHosts });
      expect(config.connectionKeys).toEqual([]);
      expect(config.ifNoHosts).toBe(ifNoHosts.toLowerCase());
    }
    expect(
      parse({ 'connection-key': '# all retired', 'if-no-hosts': 'ignore' }).connectionKeys
    ).toEqual([]);
    // Other inputs are still checked when there is no host.
    expect(errorOf({ 'connection-key': '', 'if-no-hosts': 'warn', 'dry-run': 'yes' }).input).toBe(
      'dry-run'
    );
  });

  it('allows http:// only when asked to', () => {
    expect(
      parse({ 'immuta-url': 'http://127.0.0.1:8080', 'allow-insecure-http': 'true' }).immutaUrl
    ).toBe('http://127.0.0.1:8080');
  });
});

describe('readConfig', () => {
  it('masks the encodings of what is sent, and only the text of a key that only signs', () => {
    const masked: [string, string | undefined][] = [];
    const values: Record<string, string> = {
      ...base,
      'snowflake-private-key':
        '-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
      'snowflake-private-key-passphrase': 'open sesame',
      'databricks-token': 'dapi-0123456789'
    };
    readConfig(coreSource(values), (s, use) => masked.push([s, use]), {});
    expect(masked).toEqual([
      ['secret-key', 'sent'],
      [values['snowflake-private-key']!, 'kept'],
      ['MIIEvgIBADANBgkqhkiG9w0BAQEFAASC', 'kept'],
      ['open sesame', 'kept'],
      ['dapi-0123456789', 'sent']
    ]);
  });

  it('masks the API key before any input is checked', () => {
    const masked: string[] = [];
    const values: Record<string, string> = { ...base, 'dry-run': 'maybe' };
    expect(() => readConfig(coreSource(values), (s) => masked.push(s), {})).toThrow(InputError);
    expect(masked).toEqual(['secret-key']);
  });
});

describe('readConfig and the INPUT_* variables the runner passed', () => {
  const env = (values: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(values).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])
    );

  it('stops at a variable that names no input, before reading the others', () => {
    const values: Record<string, string> = { ...base, dry_run: 'true' };
    expect(() => readConfig(coreSource(values), () => undefined, env(values))).toThrow(
      /^Input 'dry_run' \(INPUT_DRY_RUN\) is not an input of this action\. Did you mean 'dry-run'\?/
    );
  });

  it('checks every input given empty, even one this run would not read', () => {
    const values: Record<string, string> = { ...base, 'script-timeout-seconds': '' };
    expect(() => readConfig(coreSource(values), () => undefined, env(values))).toThrow(
      /^Input 'script-timeout-seconds' is empty\. The runner passes its default \(600\)/
    );
  });

  it("reads an input the runner did not pass as action.yml's default", () => {
    const values: Record<string, string> = { ...base };
    const config = readConfig(coreSource(values), () => undefined, {
      ...env(values),
      RUNNER_TEMP: '/runner/temp'
    });
    expect(config).toEqual(parse());
  });
});
