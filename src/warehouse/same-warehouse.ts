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
 * (`myorg-myaccount`, underscores written as hyphens or not), or by its locator, alone or followed
 * by region and cloud (`xy12345.us-east-2.aws`); PrivateLink adds `.privatelink`.
 */
export function isSnowflakeAccount(hostname: string, identity: SnowflakeIdentity): boolean {
  const m = /^([a-z0-9_.-]+?)(?:\.privatelink)?\.snowflakecomputing\.(?:com|cn)$/.exec(
    bareHostname(hostname)
  );
  if (!m) return false;
  const label = m[1]!;
  const hyphens = (s: string) => s.toLowerCase().replace(/_/g, '-');
  const { locator, organization, accountName } = identity;
  if (locator && label.split('.')[0] === locator.toLowerCase()) return true;
  return Boolean(
    organization &&
    accountName &&
    !label.includes('.') &&
    hyphens(label) === hyphens(`${organization}-${accountName}`)
  );
}

/** Databricks names a workspace by its URL's host name, which Immuta keeps as the host. */
export function isDatabricksWorkspace(hostname: string, databricksHost: string): boolean {
  return bareHostname(hostname) === bareHostname(databricksHost);
}
