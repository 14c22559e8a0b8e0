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
    ['allow-insecure-http', { 'allow-insecure-http': 'maybe' }, /true or false/]
  ])('%s: %j', async (input, overrides, detail) => {
    const before = immuta.requests.length;
    const run = await runAction({ inputs: stepInputs(immuta, overrides) });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toContain(`Input '${input}'`);
    expect(run.errors[0]).toMatch(detail);
    expect(run.log).not.toMatch(/^\s+at /m);
    expect(run.outputs).toEqual({});
    expect(immuta.requests.length).toBe(before);
  });
});
