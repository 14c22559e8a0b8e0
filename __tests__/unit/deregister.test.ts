import { describe, expect, it } from '@jest/globals';
import { integrationFor } from '../../src/flow/deregister.js';

const host = { nativeIntegrationId: 3, technology: 'Snowflake', hostname: 'h' };

describe('integrationFor', () => {
  const warnings: string[] = [];
  const log = { warning: (m: string) => warnings.push(m) };

  it("uses the host's integration when none is given", () => {
    expect(integrationFor({ integrationId: undefined, connectionKey: 'k' }, host, log)).toBe(3);
  });
  it('accepts a given integration that matches', () => {
    expect(integrationFor({ integrationId: 3, connectionKey: 'k' }, host, log)).toBe(3);
  });
  it('refuses a given integration that does not match, before anything is generated', () => {
    expect(() => integrationFor({ integrationId: 4, connectionKey: 'k' }, host, log)).toThrow(
      /integration-id 4 does not match host 'k'.*is 3\. Nothing was generated or deleted/
    );
  });
  it('asks for integration-id when Immuta names none', () => {
    const bare = { ...host, nativeIntegrationId: undefined };
    expect(() =>
      integrationFor({ integrationId: undefined, connectionKey: 'k' }, bare, log)
    ).toThrow(/Set integration-id/);
    expect(integrationFor({ integrationId: 9, connectionKey: 'k' }, bare, log)).toBe(9);
    expect(warnings.join()).toMatch(/cannot be checked/);
  });
});
