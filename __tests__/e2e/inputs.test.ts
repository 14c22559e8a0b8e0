import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startImmutaStandIn, type ImmutaStandIn as StandIn } from '../support/immuta-stand-in.mjs';
import { runAction } from '../support/run-action.mjs';
import { stepInputs } from '../support/inputs.js';

let immuta: StandIn;
beforeAll(async () => (immuta = await startImmutaStandIn()));
afterAll(async () => immuta.close());

describe('bad input fails with a clear error and sends no request', () => {
  it.each([
    ['immuta-url', { 'immuta-url': '' }, /is required/],
    ['immuta-url', { 'immuta-url': 'not a url' }, /must be an absolute URL/],
    ['immuta-url', { 'allow-insecure-http': 'false' }, /uses http:\/\/.*allow-insecure-http: true/],
    ['api-key', { 'api-key': '' }, /is required/],
    ['connection-key', { 'connection-key': '' }, /is required/],
    ['integration-id', { 'integration-id': 'seven' }, /whole number of 1 or more, but was "seven"/],
    ['auth-method', { 'auth-method': 'basic' }, /one of api-key, token/],
    ['dry-run', { 'dry-run': 'yes' }, /true or false, but was "yes"/],
    ['if-missing', { 'if-missing': 'skip' }, /one of error, warn, ignore/],
    ['upload-artifact', { 'upload-artifact': 'nope' }, /true or false/],
    ['artifact-name', { 'artifact-name': 'a:b' }, /":"/],
    ['retention-days', { 'retention-days': '365' }, /from 1 to 90/],
    ['timeout-seconds', { 'timeout-seconds': '1.5' }, /from 1 to 600/],
    ['max-attempts', { 'max-attempts': '0' }, /from 1 to 10/],
    ['ca-certificate', { 'ca-certificate': 'ca.pem' }, /PEM certificates/],
    ['allow-insecure-http', { 'allow-insecure-http': 'maybe' }, /true or false/],
    ['api-key', { 'api-key': 'immuta-key\nsecond-line' }, /contains a control character/],
    ['api-key', { 'api-key': 'immuta-key\u0007bell' }, /contains a control character/],
    ['api-key', { 'api-key': 'immuta-clé-4f1e' }, /outside printable ASCII/],
    ['connection-key', { 'connection-key': '..' }, /names a folder, not a host/],
    ['connection-key', { 'connection-key': '.' }, /names a folder, not a host/],
    ['script-path', { 'script-path': '/tmp/a.sql\n::set-output name=x::y' }, /control character/],
    ['artifact-name', { 'artifact-name': 'name\u0001' }, /"\\u0001"/],
    ['artifact-name', { 'artifact-name': 'scripts#\u200b#[add-mask]x' }, /holds '##\['/]
  ])('%s: %j', async (input, overrides, detail) => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, overrides) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain(`Input '${input}'`);
    // The key is masked, and is never part of the message about it.
    expect(run.errors[0]).not.toContain('immuta-key');
    expect(run.errors[0]).toMatch(detail);
    expect(run.log).not.toMatch(/^\s+at /m);
    // Outputs a later `if: failure()` step reads, and nothing else.
    expect(run.outputs).toEqual({
      status: 'failed',
      deleted: 'false',
      'child-count': '',
      'script-status': 'skipped',
      'statements-run': '0'
    });
    expect(immuta.requests.length).toBe(before);
  });
});
