/**
 * Whether the warehouse step 3 signed in to is the one Immuta's record of the host names: a
 * host's cleanup script drops that account's or workspace's Immuta objects, and must never run in
 * another (a matrix over accounts with one repository-wide secret, a copied workflow).
 */

/** Who a Snowflake session is in, as the account itself answers it. */
export interface SnowflakeIdentity {
  /** CURRENT_ACCOUNT(): the account locator. */
  readonly locator: string | null;
  /** CURRENT_ORGANIZATION_NAME(). */
  readonly organization: string | null;
  /** CURRENT_ACCOUNT_NAME(). */
  readonly accountName: string | null;
  /**
   * CURRENT_REGION(): the Snowflake Region, `AWS_US_WEST_2`, or `PUBLIC.AWS_US_WEST_2` (region
   * group first) in an organization that spans region groups (both documented).
   */
  readonly region: string | null;
}

/** A host name as written in Immuta or an input: scheme, port, path and a final dot dropped. */
export function bareHostname(value: string): string {
  const trimmed = value.trim().toLowerCase();
  let host = trimmed;
  try {
    host = new URL(/^[a-z][a-z0-9+.-]*:\/\//.test(trimmed) ? trimmed : `https://${trimmed}`)
      .hostname;
  } catch {
    // Not a URL: compared as written, which matches nothing it should not.
  }
  return host.replace(/\.$/, '');
}

/**
 * Snowflake account URLs name the account by its organization and account name
 * (`myorg-myaccount`, underscores written as hyphens or not), unique across Snowflake, or by its
 * locator, which is unique only within its region: alone (AWS US West (Oregon)) or followed by the
 * region's ID and, for most regions, its cloud (`xy12345.us-east-2.aws`, `xy12345.eu-central-1`,
 * `xy12345.east-us-2.azure`, `xy12345.us-central1.gcp`); PrivateLink adds `.privatelink`
 * (documented: Snowflake's "Account identifiers" page). A locator URL is the account's only if
 * the session is in that locator's account and in that region.
 */
export function isSnowflakeAccount(hostname: string, identity: SnowflakeIdentity): boolean {
  const label = accountLabel(hostname);
  if (label === undefined) return false;
  const hyphens = (s: string) => s.toLowerCase().replace(/_/g, '-');
  const { locator, organization, accountName } = identity;
  const [first, ...rest] = label.split('.');
  if (locator && first === locator.toLowerCase()) {
    const named = regionKey(rest);
    return named !== undefined && named === sessionRegionKey(identity.region);
  }
  return Boolean(
    organization &&
    accountName &&
    rest.length === 0 &&
    hyphens(label) === hyphens(`${organization}-${accountName}`)
  );
}

/**
 * The cloud and region a locator-form host name names (`aws us-west-2`), for a message; undefined
 * for an account-name URL, one whose labels name no region, or one that is not Snowflake's.
 */
export function locatorRegion(hostname: string): string | undefined {
  const label = accountLabel(hostname);
  if (label === undefined) return undefined;
  const [first = '', ...rest] = label.split('.');
  // An account name is its organization's name, a hyphen and the account's; a locator is
  // letters and digits (Snowflake's examples, xy12345, aa1234567: inferred from them).
  if (!/^[a-z0-9]+$/.test(first)) return undefined;
  const place = regionOf(rest);
  return place && `${place.cloud} ${place.region}`;
}

/** What precedes `[.privatelink].snowflakecomputing.com|cn`, lower-cased. */
function accountLabel(hostname: string): string | undefined {
  return /^([a-z0-9_.-]+?)(?:\.privatelink)?\.snowflakecomputing\.(?:com|cn)$/.exec(
    bareHostname(hostname)
  )?.[1];
}

/**
 * The region the labels after a locator name: none is AWS US West (Oregon), the legacy default;
 * then a region ID, and its cloud (aws, azure, gcp) where the URL names one. Documented: Snowflake
 * lists the forms of locator URLs by region, and those without a cloud (`us-east-1`, `eu-west-1`,
 * `eu-central-1`, `ap-southeast-1`, `ap-southeast-2`) are all AWS regions; that a region ID not in
 * that list is AWS too when no cloud follows is inferred. Anything else names no region.
 */
function regionOf(labels: readonly string[]): { cloud: string; region: string } | undefined {
  if (labels.length === 0) return { cloud: 'aws', region: 'us-west-2' };
  const [region, cloud = 'aws', ...more] = labels;
  if (more.length > 0 || !region || !['aws', 'azure', 'gcp'].includes(cloud)) return undefined;
  return { cloud, region };
}

/**
 * A region as letters and digits, `awsuswest2`. Inferred, not documented: the Snowflake Region
 * names CURRENT_REGION() answers (`AWS_US_EAST_1`, `AZURE_EASTUS2`, `GCP_US_CENTRAL1`) are the
 * cloud followed by the region's ID in the URL, once hyphens and underscores are dropped
 * (`us-east-1.aws`, `east-us-2.azure`, `us-central1.gcp`).
 */
function regionKey(labels: readonly string[]): string | undefined {
  const place = regionOf(labels);
  return place && alphanumerics(`${place.cloud}${place.region}`);
}

/** CURRENT_REGION() without its region group (`PUBLIC.`), as letters and digits. */
function sessionRegionKey(region: string | null): string | undefined {
  const name = region?.split('.').at(-1);
  return name ? alphanumerics(name) : undefined;
}

const alphanumerics = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Databricks names a workspace by its URL's host name, which Immuta keeps as the host. */
export function isDatabricksWorkspace(hostname: string, databricksHost: string): boolean {
  return bareHostname(hostname) === bareHostname(databricksHost);
}
