import { describe, expect, it } from '@jest/globals';
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { splitStatements } from '../../src/warehouse/split.js';
import { jwtAccount, mintJwt } from '../../src/warehouse/snowflake-jwt.js';
import { failingPosition } from '../../src/warehouse/snowflake.js';
import { readWarehouse } from '../../src/warehouse/settings.js';

describe('splitStatements', () => {
  it('splits a Snowflake script: quotes, comments with ;, $$ bodies, CRLF', () => {
    const script = [
      '-- Immuta cleanup; integration 1',
      'USE ROLE ACCOUNTADMIN;',
      'DROP DATABASE IF EXISTS "IMMUTA;DB";',
      "ALTER USER X SET COMMENT = 'it''s; retired';",
      "SELECT 'a\\';b';",
      '/* block; comment */ DROP ROLE R;',
      'EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE W; RETURN 1; END; $$;',
      '-- trailing; comment',
      ''
    ].join('\r\n');
    expect(splitStatements(script)).toEqual([
      'USE ROLE ACCOUNTADMIN',
      'DROP DATABASE IF EXISTS "IMMUTA;DB"',
      "ALTER USER X SET COMMENT = 'it''s; retired'",
      "SELECT 'a\\';b'",
      'DROP ROLE R',
      'EXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE W; RETURN 1; END; $$'
    ]);
  });

  it('splits a Databricks script: backticks hold ; too, and comment-only pieces are dropped', () => {
    const script =
      'REVOKE ALL PRIVILEGES ON CATALOG `immuta;cat` FROM `svc;principal`;\n/* only a comment; */\n-- and another;\nDROP CATALOG IF EXISTS `immuta;cat` CASCADE';
    expect(splitStatements(script)).toEqual([
      'REVOKE ALL PRIVILEGES ON CATALOG `immuta;cat` FROM `svc;principal`',
      'DROP CATALOG IF EXISTS `immuta;cat` CASCADE'
    ]);
  });

  it('finds nothing to run in a script of comments', () => {
    expect(splitStatements('-- a;\n/* b; */\n')).toEqual([]);
  });
});

describe('Snowflake key-pair JWT', () => {
  it.each([
    ['myorg-myaccount', 'MYORG-MYACCOUNT'],
    ['xy12345.us-east-2.aws', 'XY12345'],
    ['xy12345.us-east-1.privatelink', 'XY12345'],
    ['xy12345-acme.global', 'XY12345']
  ])('names account %s as %s', (account, expected) => {
    expect(jwtAccount(account)).toBe(expected);
  });

  it('is RS256, signed by the key, naming the fingerprint, living under an hour', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwt = mintJwt(
      { account: 'xy12345.us-east-2.aws', user: 'cleanup', privateKey, fingerprint: 'SHA256:abc=' },
      1_000_000
    );
    const [h, c, s] = jwt.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({
      alg: 'RS256',
      typ: 'JWT'
    });
    const claims = JSON.parse(Buffer.from(c!, 'base64url').toString());
    expect(claims).toEqual({
      iss: 'XY12345.CLEANUP.SHA256:abc=',
      sub: 'XY12345.CLEANUP',
      iat: 1_000_000,
      exp: 1_000_000 + 59 * 60
    });
    const valid = createVerify('RSA-SHA256')
      .update(`${h}.${c}`)
      .verify(publicKey, Buffer.from(s!, 'base64url'));
    expect(valid).toBe(true);
  });
});

describe('failingPosition', () => {
  it('reads the statement Snowflake names, within the script', () => {
    expect(failingPosition('failed: statement 3 of 6: SQL compilation error', 6)).toBe(3);
    expect(failingPosition('Statement #2 failed', 6)).toBe(2);
    expect(failingPosition('statement 9 of 6', 6)).toBeUndefined();
    expect(failingPosition('SQL compilation error', 6)).toBeUndefined();
  });
});

describe('readWarehouse', () => {
  const read = (values: Record<string, string>) => (name: string) => values[name] ?? '';
  it('is undefined with run-script none, and reads the HTTP path of a warehouse', () => {
    expect(readWarehouse(read({}), false)).toBeUndefined();
    const settings = readWarehouse(
      read({
        'run-script': 'Databricks',
        'databricks-host': 'https://dbc-1.cloud.databricks.com/',
        'databricks-token': 'dapi123456789',
        'databricks-warehouse-id': '/sql/1.0/warehouses/0123abcd/'
      }),
      false
    );
    expect(settings).toMatchObject({
      platform: 'databricks',
      host: 'https://dbc-1.cloud.databricks.com',
      warehouseId: '0123abcd',
      timeoutMs: 600_000
    });
  });
  it('derives the Snowflake host from the account', () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' }
    });
    const settings = readWarehouse(
      read({
        'run-script': 'snowflake',
        'snowflake-account': 'My_Org-Acct',
        'snowflake-user': 'u',
        'snowflake-private-key': privateKey
      }),
      false
    );
    expect(settings).toMatchObject({
      host: 'https://my-org-acct.snowflakecomputing.com',
      role: undefined
    });
    expect(settings?.platform === 'snowflake' && settings.auth.kind).toBe('key-pair');
  });
});
