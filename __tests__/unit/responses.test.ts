import { describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import {
  hasNoScript,
  immutaMessage,
  isImmutaError,
  isIntegrationList,
  parseConnection,
  parseDeleteResult,
  parseIntegrationStatus,
  parseObject,
  parseScript,
  parseToken,
  ResponseShapeError
} from '../../src/immuta/responses.js';
import type { HttpAnswer } from '../../src/http/body.js';

const SCRIPT = 'DROP DATABASE IF EXISTS IMMUTA;\nDROP USER IF EXISTS "X";\n';

/** An answer as the client reads it; a content type of undefined means none was sent. */
function answer(
  body: string | Buffer,
  ...rest: [contentType?: string | undefined, extra?: Partial<HttpAnswer>]
): HttpAnswer {
  const [contentType, extra] = rest;
  return {
    status: 200,
    contentType: rest.length === 0 ? 'application/json' : contentType,
    contentEncoding: undefined,
    retryAfter: undefined,
    bytes: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    truncated: false,
    ...(extra ?? {})
  };
}

describe('parseScript', () => {
  it.each([
    ['a JSON string', JSON.stringify(SCRIPT), 'application/json'],
    ['a JSON object with script', JSON.stringify({ script: SCRIPT }), 'application/json'],
    ['a JSON object with sql', JSON.stringify({ sql: SCRIPT }), 'application/json'],
    ['a JSON object with content', JSON.stringify({ content: SCRIPT, id: 1 }), undefined],
    ['a JSON object with data', JSON.stringify({ data: SCRIPT }), 'application/json'],
    [
      'a script object that also carries a message',
      JSON.stringify({ script: SCRIPT, message: 'ok' }),
      'application/json'
    ],
    ['plain text', SCRIPT, 'text/plain'],
    ['plain text without a content type', SCRIPT, undefined],
    ['plain text served as octet-stream', SCRIPT, 'application/octet-stream']
  ])('reads %s', (_shape, body, contentType) => {
    expect(parseScript(answer(body, contentType))).toBe(SCRIPT);
  });

  it('keeps a text/plain body that happens to look like JSON as text', () => {
    expect(parseScript(answer('"quoted"', 'text/plain'))).toBe('"quoted"');
  });

  it('decodes text in the charset it declares', () => {
    const latin1 = Buffer.from("DROP USER IF EXISTS 'José';\n", 'latin1');
    expect(parseScript(answer(latin1, 'text/plain; charset=ISO-8859-1'))).toBe(
      "DROP USER IF EXISTS 'José';\n"
    );
    const utf16 = Buffer.from(JSON.stringify('DROP ROLE R;'), 'utf16le');
    expect(parseScript(answer(utf16, 'application/json; charset=utf-16le'))).toBe('DROP ROLE R;');
  });

  it.each([
    ['an object without a script field', JSON.stringify({ ok: true }), /field named script/],
    ['a number', '42', /expected the script, got other JSON/],
    ['an empty body', '', /empty/],
    ['a blank JSON string', JSON.stringify('  '), /empty/],
    [
      "Immuta's error object",
      JSON.stringify({ statusCode: 403, error: 'Forbidden', message: 'no' }),
      /error object \(statusCode 403\)/
    ],
    ['an HTML page in a JSON string', JSON.stringify('<html><body>Sign in</body></html>'), /HTML/],
    ['a broken JSON object', '{"script": "DROP', /looks like JSON but cannot be read as JSON/],
    ['a broken JSON string declared as JSON', '"DROP TABLE', /says it is JSON but is not/],
    ['a JSON array', '[{"script": "DROP TABLE T;"}]', /got a JSON array/]
  ])('refuses %s', (_what, body, message) => {
    expect(() => parseScript(answer(body))).toThrow(ResponseShapeError);
    expect(() => parseScript(answer(body))).toThrow(message);
  });

  it.each([
    ['an HTML page', '<!DOCTYPE html><html><title>Sign in</title></html>', 'text/html'],
    ['an HTML page served as JSON', '<html><body>Blocked</body></html>', 'application/json'],
    ['an HTML page with no content type', '\n  <html><body>Blocked</body></html>', undefined],
    ['an XML document', '<?xml version="1.0"?><error/>', 'application/xml']
  ])('refuses %s', (_what, body, contentType) => {
    expect(() => parseScript(answer(body, contentType))).toThrow(/HTML|markup/);
  });

  it('refuses a compressed body that was never asked for', () => {
    const gz = gzipSync(SCRIPT);
    expect(() => parseScript(answer(gz, 'text/plain', { contentEncoding: 'gzip' }))).toThrow(
      /compressed \(content-encoding gzip\)/
    );
  });

  it('refuses binary bytes, however they are labelled', () => {
    const bytes = Buffer.from([0x44, 0x52, 0x00, 0x01, 0x02, 0x4f, 0x50]);
    expect(() => parseScript(answer(bytes, 'text/plain'))).toThrow(/binary/);
    expect(() => parseScript(answer(gzipSync(SCRIPT), undefined))).toThrow(/not text|binary/);
  });

  it('refuses a charset it does not know', () => {
    expect(() => parseScript(answer(SCRIPT, 'text/plain; charset=x-klingon'))).toThrow(
      /charset "x-klingon" is not known/
    );
  });
});

describe('parseDeleteResult', () => {
  it.each([
    ['the schema', '{"connectionKey":"k","childCount":5}', 'k', 5],
    ['objectPath as an array', '{"objectPath":["k"],"childCount":12}', 'k', 12],
    [
      "the docs' single-quoted example",
      `{"objectPath": ['yourConnectionKey'], "childCount": 5}`,
      'yourConnectionKey',
      5
    ],
    ['a numeric string', '{"childCount":"3"}', 'k', 3],
    ['zero children', '{"childCount":0}', 'k', 0],
    ['an empty connectionKey beside a count', '{"connectionKey":"","childCount":2}', 'k', 2],
    [
      'a status of 200 beside the key',
      '{"statusCode":200,"connectionKey":"k","childCount":4}',
      'k',
      4
    ],
    ['a message beside the key', '{"connectionKey":"k","childCount":1,"message":"deleted"}', 'k', 1]
  ])('reads childCount from %s', (_shape, body, key, count) => {
    expect(parseDeleteResult(answer(body), key)).toEqual({ kind: 'deleted', childCount: count });
  });

  it('takes an answer naming this host without a count as a deletion of unknown size', () => {
    expect(parseDeleteResult(answer('{"connectionKey":"k"}'), 'k')).toEqual({
      kind: 'deleted',
      childCount: undefined
    });
    expect(parseDeleteResult(answer('{"objectPath":["k"]}'), 'k')).toEqual({
      kind: 'deleted',
      childCount: undefined
    });
  });

  it.each([
    ['connectionKey', '{"connectionKey":"other","childCount":7}', 'other'],
    ['objectPath', '{"objectPath":["other"],"childCount":7}', 'other'],
    ['objectPath', '{"objectPath":["k","db","schema"],"childCount":7}', 'k/db/schema'],
    ['objectPath', '{"connectionKey":"k","objectPath":["other"],"childCount":7}', 'other'],
    ['connectionKey', '{"connectionKey":"K","childCount":7}', 'K'],
    ['objectPath', `{"objectPath": ['other'], "childCount": 5}`, 'other']
  ])(
    "does not take an answer whose %s names another object (%s) for this host's",
    (field, body, named) => {
      expect(parseDeleteResult(answer(body), 'k')).toEqual({ kind: 'another-host', field, named });
    }
  );

  it.each([
    ['an empty connectionKey', '{"connectionKey":""}'],
    ['a null connectionKey', '{"connectionKey":null}'],
    ['an empty objectPath', '{"objectPath":[]}'],
    ['an objectPath of empty strings', '{"objectPath":[""]}']
  ])('leaves an answer with %s and no count to a lookup', (_what, body) => {
    expect(parseDeleteResult(answer(body), 'k')).toEqual({ kind: 'no-host' });
  });

  it.each([
    ['an empty body', '', 'application/json'],
    ['an HTML page', '<html>OK</html>', 'text/html'],
    ['an HTML page that mentions childCount', '<html>childCount: 5</html>', undefined],
    [
      'an error object',
      '{"statusCode":403,"error":"Forbidden","message":"no"}',
      'application/json'
    ],
    ['other JSON', '{"deleted":true}', 'application/json'],
    ['a connectionKey that is not text', '{"connectionKey":5,"childCount":1}', 'application/json'],
    ['an objectPath of objects', '{"objectPath":[{}],"childCount":1}', 'application/json'],
    [
      "an error in the example's notation",
      "{ statusCode: 500, error: 'Internal Server Error', message: 'delete failed', childCount: 0 }",
      'text/plain'
    ],
    [
      "an error in the example's notation naming the host",
      "{ statusCode: 500, objectPath: ['k'], childCount: 0 }",
      'text/plain'
    ],
    ["a bare error in the example's notation", "{ error: 'Gone wrong', childCount: 3 }", undefined],
    ['a message beside a count', '{"message":"delete failed","childCount":0}', 'application/json'],
    [
      'an error status naming the host',
      '{"statusCode":500,"connectionKey":"k","childCount":0}',
      'application/json'
    ]
  ])('does not take %s for a deletion', (_what, body, contentType) => {
    expect(parseDeleteResult(answer(body, contentType), 'k')).toEqual({ kind: 'unreadable' });
  });
});

describe('parseConnection', () => {
  it('reads the integration and technology', () => {
    expect(
      parseConnection(
        answer(
          JSON.stringify({
            connectionKey: 'k',
            connection: { technology: 'Snowflake', hostname: 'h' },
            nativeIntegrationId: 4
          })
        ),
        'k'
      )
    ).toEqual({ nativeIntegrationId: 4, technology: 'Snowflake', hostname: 'h' });
  });
  it('accepts the integration ID as a string, as one documented example has it', () => {
    expect(parseConnection(answer('{"nativeIntegrationId":"7"}'), 'k').nativeIntegrationId).toBe(7);
  });
  it('refuses a body that is not a JSON object, an error object, or another host', () => {
    expect(() => parseConnection(answer('<html>'), 'k')).toThrow(ResponseShapeError);
    expect(() => parseConnection(answer('{"statusCode":401,"message":"x"}'), 'k')).toThrow(
      /error object/
    );
    expect(() => parseConnection(answer('{"connectionKey":"other"}'), 'k')).toThrow(
      /different host/
    );
  });
});

describe('parseObject', () => {
  it('reads the state, and refuses what is not the object', () => {
    expect(
      parseObject(answer('{"objectPath":["k"],"state":"active","technology":"Snowflake"}'), 'k')
    ).toEqual({
      state: 'active',
      technology: 'Snowflake'
    });
    expect(() => parseObject(answer('<html>', 'text/html'), 'k')).toThrow(ResponseShapeError);
  });
  it('refuses an object of another host, of a child, or naming none', () => {
    expect(() => parseObject(answer('{"objectPath":["other"],"state":"active"}'), 'k')).toThrow(
      /different host/
    );
    expect(() => parseObject(answer('{"objectPath":["k","db"],"state":"active"}'), 'k')).toThrow(
      /different host/
    );
    expect(() => parseObject(answer('{"objectPath":["k "]}'), 'k')).toThrow(/different host/);
    expect(() => parseObject(answer('{"connectionKey":"other"}'), 'k')).toThrow(/different host/);
    expect(() => parseObject(answer('{}'), 'k')).toThrow(/names no host/);
    expect(() => parseObject(answer('{"state":"active"}'), 'k')).toThrow(/names no host/);
    expect(parseObject(answer('{"connectionKey":"k","state":"active"}'), 'k').state).toBe('active');
  });
});

describe("Immuta's error shape", () => {
  it('recognises Boom bodies and bare messages, not pages or other JSON', () => {
    expect(isImmutaError(answer('{"statusCode":404,"error":"Not Found","message":"x"}'))).toBe(
      true
    );
    expect(isImmutaError(answer('{"message":"No Integration found with ID 5."}'))).toBe(true);
    expect(isImmutaError(answer('<html>404</html>', 'text/html'))).toBe(false);
    expect(isImmutaError(answer('{"message":"x"}', 'text/html'))).toBe(false);
    expect(isImmutaError(answer(''))).toBe(false);
    expect(isImmutaError(answer('{"items":[]}'))).toBe(false);
  });
});

describe('small readers', () => {
  it("reads Immuta's message from a Boom body", () => {
    expect(
      immutaMessage(
        answer('{"statusCode":404,"error":"Not Found","message":"No Integration found with ID 5."}')
      )
    ).toBe('No Integration found with ID 5.');
    expect(immutaMessage(answer('{"error":"Forbidden"}'))).toBe('Forbidden');
    expect(immutaMessage(answer('plain', 'text/plain'))).toBeUndefined();
  });
  it('reads the token and the integration status', () => {
    expect(parseToken(answer('{"authenticated":true,"token":"t"}'))).toBe('t');
    expect(parseToken(answer('{"authenticated":false}'))).toBeUndefined();
    expect(parseIntegrationStatus(answer('{"id":"1","status":"editing"}'))).toBe('editing');
  });
  it('knows Lake Formation hosts have no script', () => {
    expect(hasNoScript('AWS Lake Formation')).toBe(true);
    expect(hasNoScript('LakeFormation')).toBe(true);
    expect(hasNoScript('Snowflake')).toBe(false);
    expect(hasNoScript(undefined)).toBe(false);
  });
});

describe('isIntegrationList', () => {
  it.each([
    ['an empty list', '[]', 'application/json'],
    [
      'a list of integrations',
      JSON.stringify([{ id: 1, status: 'enabled' }, { id: '2' }]),
      'application/json'
    ],
    ['a list with no content type', '[{"id":1}]', undefined]
  ])('takes %s as the list', (_what, body, type) => {
    expect(isIntegrationList(answer(body, type))).toBe(true);
  });

  it.each([
    ['an HTML page', '<html><body>[]</body></html>', 'text/html'],
    ['JSON declared as HTML', '[]', 'text/html'],
    [
      'an error object',
      JSON.stringify({ statusCode: 404, error: 'Not Found' }),
      'application/json'
    ],
    [
      'one integration, not a list',
      JSON.stringify({ id: 1, status: 'enabled' }),
      'application/json'
    ],
    ['a list of strings', '["a","b"]', 'application/json'],
    ['a list holding null', '[null]', 'application/json'],
    ['text that is not JSON', 'OK', 'text/plain']
  ])('refuses %s', (_what, body, type) => {
    expect(isIntegrationList(answer(body, type))).toBe(false);
  });

  it('refuses a compressed body', () => {
    expect(
      isIntegrationList(answer(gzipSync('[]'), 'application/json', { contentEncoding: 'gzip' }))
    ).toBe(false);
  });
});
