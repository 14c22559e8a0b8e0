import { describe, expect, it } from '@jest/globals';
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { splitScript, splitStatements } from '../../src/warehouse/split.js';
import { jwtAccount, mintJwt } from '../../src/warehouse/snowflake-jwt.js';
import {
  isSessionOnly,
  planRequest,
  reportedOffset,
  statementAt,
  withoutEnvelope
} from '../../src/warehouse/snowflake-plan.js';
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

describe('the failing statement of a Snowflake request', () => {
  const script = '-- cleanup\nUSE ROLE A;\n  DROP DATABASE D;\r\nDROP USER U;';
  const plan = planRequest(script, splitScript(script), 0);
  const envelope = (line: number, position: number, rest: string) =>
    `Uncaught exception of type 'STATEMENT_ERROR' on line ${line} at position ${position} : ${rest}`;

  it('is found from the line and position Snowflake reports, through the statements’ offsets', () => {
    const at = (line: number, position: number) =>
      statementAt(reportedOffset(envelope(line, position, 'x'), plan.text)!, plan.sent);
    expect(at(2, 0)).toBe(0);
    expect(at(3, 2)).toBe(1);
    expect(at(4, 0)).toBe(2);
    // Leading space or a comment before a statement belongs to it.
    expect(at(3, 0)).toBe(1);
  });

  it('never from words in the message, and not at all without the envelope at its start', () => {
    const quoted = envelope(2, 0, "Object 'statement 3 on line 4 at position 0' does not exist");
    expect(statementAt(reportedOffset(quoted, plan.text)!, plan.sent)).toBe(0);
    expect(reportedOffset('Statement 3 of 3 failed: on line 4 at position 0', plan.text)).toBe(
      undefined
    );
    expect(reportedOffset(`x ${envelope(4, 0, 'y')}`, plan.text)).toBeUndefined();
    expect(reportedOffset(envelope(9, 0, 'past the end'), plan.text)).toBeUndefined();
    expect(reportedOffset(envelope(2, 99, 'past the line'), plan.text)).toBeUndefined();
    expect(withoutEnvelope(envelope(2, 0, 'the error'))).toBe('the error');
  });
});

describe('planRequest: the rest of a script run in part', () => {
  const script = "USE ROLE R;\nDROP DATABASE D;\nALTER SESSION SET QUERY_TAG='q';\nDROP USER U";
  const statements = splitScript(script);

  it('sends the script unchanged from the start', () => {
    expect(planRequest(script, statements, 0).text).toBe(script);
  });

  it('replays the session-only statements before startAt, then sends the rest, with their offsets', () => {
    const plan = planRequest(script, statements, 3);
    expect(plan.text).toBe("USE ROLE R;\nALTER SESSION SET QUERY_TAG='q';\nDROP USER U");
    expect(plan.sent.map((s) => [s.index, s.replay])).toEqual([
      [0, true],
      [2, true],
      [3, false]
    ]);
    for (const s of plan.sent) {
      expect(plan.text.slice(s.start, s.end)).toBe(statements[s.index]!.text);
    }
  });

  it.each([
    ['USE ROLE ACCOUNTADMIN', true],
    ['use warehouse w', true],
    ['USE SECONDARY ROLES ALL', true],
    ['ALTER SESSION UNSET QUERY_TAG', true],
    ['ALTER USER U SET DISABLED = TRUE', false],
    ['DROP ROLE R', false]
  ])('%s is session-only: %s', (statement, expected) => {
    expect(isSessionOnly(statement)).toBe(expected);
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
