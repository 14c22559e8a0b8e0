// Which Snowflake account or Databricks workspace is the host's: the forms of account URL that
// Snowflake documents, and nothing that merely looks alike.
import { describe, expect, it } from '@jest/globals';
import {
  bareHostname,
  isDatabricksWorkspace,
  isSnowflakeAccount,
  locatorRegion
} from '../../src/warehouse/same-warehouse.js';

const ACME = {
  locator: 'XY12345',
  organization: 'ACME',
  accountName: 'PROD_EU',
  region: 'AWS_US_WEST_2'
};
const inRegion = (region: string | null) => ({ ...ACME, region });

describe('a Snowflake host is the account Snowflake says the session is in', () => {
  it.each([
    'acme-prod_eu.snowflakecomputing.com',
    'acme-prod-eu.snowflakecomputing.com',
    'ACME-PROD-EU.SNOWFLAKECOMPUTING.COM',
    'acme-prod-eu.privatelink.snowflakecomputing.com',
    'https://acme-prod-eu.snowflakecomputing.com/',
    'acme-prod-eu.snowflakecomputing.com.',
    'xy12345.snowflakecomputing.com',
    'xy12345.privatelink.snowflakecomputing.com'
  ])('%s is', (hostname) => {
    expect(isSnowflakeAccount(hostname, ACME)).toBe(true);
  });

  // An account name is unique across Snowflake: whatever region the account is in, it is the
  // host's.
  it('an account-name URL is the account in any region', () => {
    for (const region of ['AWS_EU_CENTRAL_1', 'PUBLIC.AZURE_EASTUS2', null]) {
      expect(isSnowflakeAccount('acme-prod-eu.snowflakecomputing.com', inRegion(region))).toBe(
        true
      );
    }
  });

  // A locator is unique only within its region: the URL's region must be the session's.
  it.each([
    ['xy12345.snowflakecomputing.com', 'AWS_US_WEST_2'],
    ['xy12345.snowflakecomputing.com', 'PUBLIC.AWS_US_WEST_2'],
    ['xy12345.us-west-2.snowflakecomputing.com', 'AWS_US_WEST_2'],
    ['xy12345.us-east-2.aws.snowflakecomputing.com', 'AWS_US_EAST_2'],
    ['xy12345.us-east-1.privatelink.snowflakecomputing.com', 'AWS_US_EAST_1'],
    ['xy12345.eu-central-1.snowflakecomputing.com', 'AWS_EU_CENTRAL_1'],
    ['xy12345.east-us-2.azure.snowflakecomputing.com', 'AZURE_EASTUS2'],
    ['xy12345.west-europe.azure.privatelink.snowflakecomputing.com', 'AZURE_WESTEUROPE'],
    ['xy12345.us-central1.gcp.snowflakecomputing.com', 'GCP_US_CENTRAL1'],
    ['xy12345.cn-northwest-1.snowflakecomputing.cn', 'AWS_CN_NORTHWEST_1']
  ])('%s is the locator’s account in region %s', (hostname, region) => {
    expect(isSnowflakeAccount(hostname, inRegion(region))).toBe(true);
  });

  it.each([
    ['xy12345.snowflakecomputing.com', 'AWS_US_EAST_1'],
    ['xy12345.eu-central-1.snowflakecomputing.com', 'AWS_US_WEST_2'],
    ['xy12345.eu-central-1.snowflakecomputing.com', 'AZURE_GERMANYWESTCENTRAL'],
    ['xy12345.us-east-2.aws.snowflakecomputing.com', 'AWS_US_EAST_1'],
    ['xy12345.east-us-2.azure.snowflakecomputing.com', 'AWS_US_EAST_2'],
    ['xy12345.us-central1.gcp.snowflakecomputing.com', 'AWS_US_CENTRAL1'],
    ['xy12345.us-east-1.privatelink.snowflakecomputing.com', 'AWS_US_WEST_2'],
    ['xy12345.us-east-2.oracle.snowflakecomputing.com', 'ORACLE_US_EAST_2'],
    ['xy12345.us-east-2.aws.extra.snowflakecomputing.com', 'AWS_US_EAST_2'],
    ['xy12345.snowflakecomputing.com', null],
    ['xy12345.snowflakecomputing.com', '']
  ])('%s is not the locator’s account in region %s', (hostname, region) => {
    expect(isSnowflakeAccount(hostname, inRegion(region))).toBe(false);
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
    'acme-prod-eu.us-west-2.snowflakecomputing.com',
    ''
  ])('%s is not', (hostname) => {
    expect(isSnowflakeAccount(hostname, ACME)).toBe(false);
  });

  it('an account Snowflake does not name matches nothing', () => {
    const none = { locator: null, organization: null, accountName: null, region: null };
    expect(isSnowflakeAccount('xy12345.snowflakecomputing.com', none)).toBe(false);
    expect(isSnowflakeAccount('-.snowflakecomputing.com', none)).toBe(false);
  });

  it('names the region a locator URL names, and none for an account-name URL', () => {
    expect(locatorRegion('xy12345.snowflakecomputing.com')).toBe('aws us-west-2');
    expect(locatorRegion('xy12345.eu-central-1.privatelink.snowflakecomputing.com')).toBe(
      'aws eu-central-1'
    );
    expect(locatorRegion('xy12345.east-us-2.azure.snowflakecomputing.com')).toBe('azure east-us-2');
    expect(locatorRegion('acme-prod.snowflakecomputing.com')).toBeUndefined();
    expect(locatorRegion('acme-prod.privatelink.snowflakecomputing.com')).toBeUndefined();
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
