// Which Snowflake account or Databricks workspace is the host's: the forms of account URL that
// Snowflake documents, and nothing that merely looks alike.
import { describe, expect, it } from '@jest/globals';
import {
  bareHostname,
  isDatabricksWorkspace,
  isSnowflakeAccount
} from '../../src/warehouse/same-warehouse.js';

const ACME = { locator: 'XY12345', organization: 'ACME', accountName: 'PROD_EU' };

describe('a Snowflake host is the account Snowflake says the session is in', () => {
  it.each([
    'acme-prod_eu.snowflakecomputing.com',
    'acme-prod-eu.snowflakecomputing.com',
    'ACME-PROD-EU.SNOWFLAKECOMPUTING.COM',
    'acme-prod-eu.privatelink.snowflakecomputing.com',
    'https://acme-prod-eu.snowflakecomputing.com/',
    'acme-prod-eu.snowflakecomputing.com.',
    'xy12345.snowflakecomputing.com',
    'xy12345.us-east-2.aws.snowflakecomputing.com',
    'xy12345.us-east-1.privatelink.snowflakecomputing.com',
    'xy12345.cn-north-1.snowflakecomputing.cn'
  ])('%s is', (hostname) => {
    expect(isSnowflakeAccount(hostname, ACME)).toBe(true);
  });

  it.each([
    'acme-dev.snowflakecomputing.com',
    'acme.snowflakecomputing.com',
    'xy12346.snowflakecomputing.com',
    'xy12345x.snowflakecomputing.com',
    'acme-prod-eu.snowflakecomputing.com.evil.example',
    'xy12345.snowflakecomputing.com.evil.example',
    'acme-prod-eu.example.com',
    'prod-eu.acme.snowflakecomputing.com',
    ''
  ])('%s is not', (hostname) => {
    expect(isSnowflakeAccount(hostname, ACME)).toBe(false);
  });

  it('an account Snowflake does not name matches nothing', () => {
    const none = { locator: null, organization: null, accountName: null };
    expect(isSnowflakeAccount('xy12345.snowflakecomputing.com', none)).toBe(false);
    expect(isSnowflakeAccount('-.snowflakecomputing.com', none)).toBe(false);
  });
});

describe('a Databricks host is the workspace databricks-host names', () => {
  it('compares host names, whatever the scheme, case, port or path', () => {
    expect(
      isDatabricksWorkspace(
        'dbc-1234.cloud.databricks.com',
        'https://DBC-1234.cloud.databricks.com/'
      )
    ).toBe(true);
    expect(
      isDatabricksWorkspace(
        'https://adb-1.2.azuredatabricks.net/',
        'https://adb-1.2.azuredatabricks.net'
      )
    ).toBe(true);
    expect(
      isDatabricksWorkspace(
        'dbc-1234.cloud.databricks.com',
        'https://dbc-9999.cloud.databricks.com'
      )
    ).toBe(false);
    expect(
      isDatabricksWorkspace(
        'dbc-1234.cloud.databricks.com',
        'https://dbc-1234.cloud.databricks.com.evil.example'
      )
    ).toBe(false);
  });

  it('reads a bare host name as one', () => {
    expect(bareHostname(' Host.Example.com. ')).toBe('host.example.com');
    expect(bareHostname('http://127.0.0.1:8080/x')).toBe('127.0.0.1');
  });
});
