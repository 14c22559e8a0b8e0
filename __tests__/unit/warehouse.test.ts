import { describe, expect, it } from '@jest/globals';
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { splitScript, splitStatements } from '../../src/warehouse/split.js';
import { jwtAccount, mintJwt } from '../../src/warehouse/snowflake-jwt.js';
import {
  databricksSession,
  databricksSessions,
  isSessionOnly,
  scriptStatements,
  snowflakeReplay,
  unrunnable
} from '../../src/warehouse/statements.js';
import { failedStatementIn } from '../../src/warehouse/snowflake-message.js';
import { accountInHost, readWarehouse } from '../../src/warehouse/settings.js';
import { InputError } from '../../src/action/input-readers.js';
import { MIN_MASK_LENGTH, Secrets } from '../../src/action/secrets.js';

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

describe('session-only statements: exactly these, per platform', () => {
  it.each([
    'USE ROLE ACCOUNTADMIN',
    'use role "My Role"',
    'USE WAREHOUSE CLEANUP_WH',
    'USE DATABASE IMMUTA_DB',
    'USE SCHEMA IMMUTA_DB.PUBLIC',
    'USE SECONDARY ROLES ALL',
    'USE SECONDARY ROLES R1, R2',
    'USE IMMUTA_DB',
    'USE "immuta db"',
    "SET OLD_ROLE = 'R'",
    'UNSET OLD_ROLE',
    "ALTER SESSION SET QUERY_TAG = 'cleanup'",
    'ALTER SESSION UNSET QUERY_TAG',
    'USE ROLE IDENTIFIER($ROLE)'
  ])('Snowflake: %s', (statement) => {
    expect(isSessionOnly(statement, 'snowflake')).toBe(true);
  });

  it.each([
    'DROP DATABASE IMMUTA_DB',
    'ALTER USER X SET DEFAULT_ROLE = R',
    'ALTER ACCOUNT SET X = 1',
    'USE ROLE R; DROP DATABASE D',
    'USE ROLE R DROP DATABASE D',
    'SELECT 1',
    'USE CATALOG immuta'
  ])('Snowflake, never replayed: %s', (statement) => {
    expect(isSessionOnly(statement, 'snowflake')).toBe(false);
  });

  it.each([
    'USE CATALOG immuta',
    'USE SCHEMA immuta_system',
    'USE immuta_system',
    'USE `my-cat`.`sys`'
  ])('Databricks: %s', (statement) => expect(isSessionOnly(statement, 'databricks')).toBe(true));

  it.each(['USE ROLE R', "SET spark.x = 'y'", 'DROP CATALOG immuta CASCADE', 'USE CATALOG a b'])(
    'Databricks, never made a field: %s',
    (statement) => expect(isSessionOnly(statement, 'databricks')).toBe(false)
  );
});

describe('the session a request carries', () => {
  it('Snowflake: every session-only statement before it, in order, and nothing else', () => {
    const statements = scriptStatements(
      "USE ROLE R;\nDROP DATABASE D;\nUSE IMMUTA_DB;\nSET V = 'x';\nDROP USER U;",
      'snowflake'
    );
    expect(snowflakeReplay(statements, 4).map((s) => s.text)).toEqual([
      'USE ROLE R',
      'USE IMMUTA_DB',
      "SET V = 'x'"
    ]);
    expect(snowflakeReplay(statements, 0)).toEqual([]);
  });

  it('Databricks: the catalog and schema the USE statements before it leave, as USE does', () => {
    const statements = scriptStatements(
      [
        'DROP SCHEMA a.b;',
        'USE CATALOG `imm``uta`;',
        'USE SCHEMA sys;',
        'DROP TABLE t;',
        'USE CATALOG other;',
        'DROP TABLE u;',
        'USE main.default;',
        'DROP TABLE v;'
      ].join('\n'),
      'databricks'
    );
    expect(databricksSession(statements, 0)).toEqual({ catalog: undefined, schema: undefined });
    expect(databricksSession(statements, 3)).toEqual({ catalog: 'imm`uta', schema: 'sys' });
    // Setting the catalog resets the schema to the catalog's default.
    expect(databricksSession(statements, 5)).toEqual({ catalog: 'other', schema: undefined });
    expect(databricksSession(statements, 7)).toEqual({ catalog: 'main', schema: 'default' });
    expect(databricksSessions(statements)).toHaveLength(5);
  });
});

describe('a script that cannot run one statement a request', () => {
  it.each([
    ['snowflake', 'BEGIN;\nDROP DATABASE D;\nCOMMIT;', 0, /explicit transaction/],
    ['snowflake', 'DROP ROLE R;\nSTART TRANSACTION;', 1, /explicit transaction/],
    ['snowflake', 'BEGIN\n  DROP DATABASE D;\n  DROP ROLE R;\nEND;', 0, /scripting block/],
    ['snowflake', 'DECLARE c INTEGER;\nBEGIN\nRETURN 1;\nEND;', 0, /scripting block/],
    ['snowflake', 'CREATE TEMPORARY TABLE T (A INT);\nDROP TABLE T;', 0, /temporary object/],
    [
      'databricks',
      'SET spark.sql.ansi.enabled = true;\nDROP CATALOG c CASCADE;',
      0,
      /session setting/
    ],
    ['databricks', 'BEGIN\n DROP TABLE t;\nEND;', 0, /scripting block/]
  ] as const)('%s: %j is refused at statement %i', (platform, script, index, why) => {
    const found = unrunnable(scriptStatements(script, platform), platform);
    expect(found?.index).toBe(index);
    expect(found?.why).toMatch(why);
  });

  it('a block kept whole inside EXECUTE IMMEDIATE $$ … $$, and Immuta’s own scripts, pass', () => {
    const script =
      'USE ROLE ACCOUNTADMIN;\nDROP DATABASE IF EXISTS X;\nEXECUTE IMMEDIATE $$ BEGIN DROP WAREHOUSE W; END; $$;';
    expect(unrunnable(scriptStatements(script, 'snowflake'), 'snowflake')).toBeUndefined();
  });
});

describe('Snowflake’s message for a failed multi-statement request', () => {
  const texts = ['USE ROLE ACCOUNTADMIN', 'USE DATABASE IMMUTA_DB', 'DROP SCHEMA S'];
  const message = (quoted: string, line: number, position: number) =>
    `JavaScript execution error: Uncaught Execution of multiple statements failed on statement "${quoted}" (at line ${line}, position ${position}).\nSQL compilation error`;

  it('names a statement only where its text starts in what was sent, and only that text', () => {
    expect(failedStatementIn(message('USE DATABASE IMMUTA_D...', 2, 0), texts)).toBe(1);
    expect(failedStatementIn(message('DROP SCHEMA S', 3, 0), texts)).toBe(2);
    // The quoted text at another place, or another text at this place, names nothing.
    expect(failedStatementIn(message('DROP SCHEMA S', 2, 0), texts)).toBeUndefined();
    expect(failedStatementIn(message('DROP TABLE ...', 3, 0), texts)).toBeUndefined();
    expect(failedStatementIn('Statement 3 failed at line 3, position 0', texts)).toBeUndefined();
  });
});

describe('splitScript', () => {
  it('gives each statement’s place in the script', () => {
    const script = '/* a */ USE ROLE A;\n  DROP X ;';
    const pieces = splitScript(script);
    expect(pieces.map((p) => script.slice(p.start, p.end))).toEqual(['USE ROLE A', 'DROP X']);
  });

  it('never runs what a nested bracketed comment holds', () => {
    expect(splitStatements('/* a /* b */ ; DROP CATALOG x; */ SELECT 2;')).toEqual(['SELECT 2']);
    // Left open, a comment hides the rest of the script.
    expect(splitStatements('SELECT 1; /* a /* b */ DROP CATALOG x;')).toEqual(['SELECT 1']);
    // Comment markers inside strings and names are text.
    expect(splitStatements("SELECT '/*'; DROP `a*/b`; SELECT '--'")).toEqual([
      "SELECT '/*'",
      'DROP `a*/b`',
      "SELECT '--'"
    ]);
  });

  it('ends a -- comment at a lone CR, so it does not swallow the next statement', () => {
    expect(splitStatements('-- first; comment\rDROP A;\rDROP B')).toEqual(['DROP A', 'DROP B']);
  });
});

describe('Secrets', () => {
  it('masks and redacts the URL-encoded and base64 forms of a secret', () => {
    const masked: string[] = [];
    const secrets = new Secrets((s) => masked.push(s));
    secrets.add('p@ss word/+');
    expect(masked.slice(0, 3)).toEqual(['p@ss word/+', 'p%40ss%20word%2F%2B', 'p%40ss+word%2F%2B']);
    expect(masked).toContain(Buffer.from('p@ss word/+').toString('base64'));
    expect(new Set(masked).size).toBe(masked.length);
    expect(secrets.redact('q=p%40ss%20word%2F%2B&f=p%40ss+word%2F%2B')).toBe('q=***&f=***');
  });

  it(`never sends a secret shorter than ${MIN_MASK_LENGTH} characters as a mask, and redacts it only where it stands alone`, () => {
    const masked: string[] = [];
    const secrets = new Secrets((s) => masked.push(s));
    secrets.add('s');
    expect(masked).not.toContain('s');
    expect(masked.every((m) => m.length >= MIN_MASK_LENGTH)).toBe(true);
    expect(secrets.redact('sig=s&se=2026 sessions')).toBe('sig=***&se=2026 sessions');
  });
});

describe('snowflake-account', () => {
  it.each([
    ['myorg-acct.snowflakecomputing.com', 'myorg-acct'],
    ['https://myorg-acct.snowflakecomputing.com/', 'myorg-acct'],
    ['xy12345.us-east-1.privatelink.snowflakecomputing.com', 'xy12345.us-east-1.privatelink'],
    ['xy12345.us-east-2.aws', undefined],
    ['myorg-acct', undefined]
  ])('%s holds the identifier %s', (value, identifier) => {
    expect(accountInHost(value)).toBe(identifier);
  });

  it('a host name is refused with the identifier to use', () => {
    const read = (values: Record<string, string>) => (name: string) => values[name] ?? '';
    const attempt = () =>
      readWarehouse(
        read({
          'run-script': 'snowflake',
          'snowflake-account': 'myorg-acct.snowflakecomputing.com',
          'snowflake-user': 'u',
          'snowflake-token': 'pat-0123456789'
        }),
        false
      );
    expect(attempt).toThrow(InputError);
    expect(attempt).toThrow(/use "myorg-acct" \(the part before \.snowflakecomputing\.com\)/);
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

describe('snowflake-private-key given as a file path', () => {
  const read = (key: string) => (name: string) =>
    ({
      'run-script': 'snowflake',
      'snowflake-account': 'myorg-acct',
      'snowflake-user': 'u',
      'snowflake-private-key': key
    })[name] ?? '';

  it.each([
    '/home/runner/work/_temp/rsa_key.p8',
    './rsa_key.p8',
    '../keys/rsa_key.pem',
    '~/.snowflake/rsa_key.p8',
    'C:\\keys\\rsa_key.p8',
    '$RUNNER_TEMP/rsa_key.p8',
    'rsa_key.p8',
    'snowflake.key'
  ])('%s gets the hint that it takes the key, not its path', (value) => {
    expect(() => readWarehouse(read(value), false)).toThrow(
      /^Input 'snowflake-private-key' looks like a file path, not a key: it takes the key's PEM text itself/
    );
  });

  it('a key without its armour is no path: it needs the PEM lines', () => {
    expect(() => readWarehouse(read('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC/+Abc'), false)).toThrow(
      /must be a PKCS#8 PEM private key/
    );
  });
});
