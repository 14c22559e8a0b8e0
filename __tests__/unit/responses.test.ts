import { describe, expect, it } from '@jest/globals';
import {
  hasNoScript,
  immutaMessage,
  parseConnection,
  parseDeleteResult,
  parseIntegrationStatus,
  parseScript,
  parseToken,
  ResponseShapeError
} from '../../src/immuta/responses.js';

const SCRIPT = 'DROP DATABASE IF EXISTS IMMUTA;\nDROP USER IF EXISTS "X";\n';

describe('parseScript', () => {
  it.each([
    ['a JSON string', JSON.stringify(SCRIPT), 'application/json'],
    ['a JSON object with script', JSON.stringify({ script: SCRIPT }), 'application/json'],
    ['a JSON object with sql', JSON.stringify({ sql: SCRIPT }), 'application/json'],
    ['a JSON object with content', JSON.stringify({ content: SCRIPT, id: 1 }), undefined],
    ['a JSON object with data', JSON.stringify({ data: SCRIPT }), 'application/json'],
    ['plain text', SCRIPT, 'text/plain'],
    ['plain text without a content type', SCRIPT, undefined]
  ])('reads %s', (_shape, body, contentType) => {
    expect(parseScript(body, contentType)).toBe(SCRIPT);
  });

  it('keeps a text/plain body that happens to look like JSON as text', () => {
    expect(parseScript('"quoted"', 'text/plain')).toBe('"quoted"');
  });

  it.each([
    ['an object without a script field', JSON.stringify({ ok: true }), /field named script/],
    ['a number', '42', /expected the script, got JSON/],
    ['an empty body', '', /empty/],
    ['a blank JSON string', JSON.stringify('  '), /empty/]
  ])('refuses %s', (_what, body, message) => {
    expect(() => parseScript(body, 'application/json')).toThrow(ResponseShapeError);
    expect(() => parseScript(body, 'application/json')).toThrow(message);
  });
});

describe('parseDeleteResult', () => {
  it.each([
    ['the schema', '{"connectionKey":"k","childCount":5}', 5],
    ['objectPath as an array', '{"objectPath":["k"],"childCount":12}', 12],
    [
      "the docs' single-quoted example",
      `{"objectPath": ['yourConnectionKey'], "childCount": 5}`,
      5
    ],
    ['a numeric string', '{"childCount":"3"}', 3],
    ['zero children', '{"childCount":0}', 0]
  ])('reads childCount from %s', (_shape, body, count) => {
    expect(parseDeleteResult(body).childCount).toBe(count);
  });

  it.each(['', '<html>OK</html>', '{"deleted":true}', '{"childCount":-1}'])(
    'reports an unknown count, without throwing, for %j',
    (body) => expect(parseDeleteResult(body).childCount).toBeUndefined()
  );
});

describe('parseConnection', () => {
  it('reads the integration and technology', () => {
    expect(
      parseConnection(
        JSON.stringify({
          connectionKey: 'k',
          connection: { technology: 'Snowflake', hostname: 'h' },
          nativeIntegrationId: 4
        })
      )
    ).toEqual({ nativeIntegrationId: 4, technology: 'Snowflake', hostname: 'h' });
  });
  it('accepts the integration ID as a string, as one documented example has it', () => {
    expect(parseConnection('{"nativeIntegrationId":"7"}').nativeIntegrationId).toBe(7);
  });
  it('refuses a body that is not a JSON object', () => {
    expect(() => parseConnection('<html>')).toThrow(ResponseShapeError);
  });
});

describe('small readers', () => {
  it("reads Immuta's message from a Boom body", () => {
    expect(
      immutaMessage(
        '{"statusCode":404,"error":"Not Found","message":"No Integration found with ID 5."}'
      )
    ).toBe('No Integration found with ID 5.');
    expect(immutaMessage('{"error":"Forbidden"}')).toBe('Forbidden');
    expect(immutaMessage('plain')).toBeUndefined();
  });
  it('reads the token and the integration status', () => {
    expect(parseToken('{"authenticated":true,"token":"t"}')).toBe('t');
    expect(parseToken('{"authenticated":false}')).toBeUndefined();
    expect(parseIntegrationStatus('{"id":"1","status":"editing"}')).toBe('editing');
  });
  it('knows Lake Formation hosts have no script', () => {
    expect(hasNoScript('AWS Lake Formation')).toBe(true);
    expect(hasNoScript('LakeFormation')).toBe(true);
    expect(hasNoScript('Snowflake')).toBe(false);
    expect(hasNoScript(undefined)).toBe(false);
  });
});
