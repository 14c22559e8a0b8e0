/**
 * The JWT for Snowflake key-pair authentication, minted with node:crypto: RS256, issued by
 * ACCOUNT.USER.SHA256:<fingerprint of the public key>, for ACCOUNT.USER, living under an hour.
 */
import { createSign, type KeyObject } from 'node:crypto';

/** How long a token lives: Snowflake refuses more than an hour. */
export const JWT_LIFETIME_SECONDS = 59 * 60;

/**
 * The account as the JWT names it: upper case, without region, cloud or PrivateLink segments
 * (the part before the first '.'; for a '.global' account, before the first '-').
 */
export function jwtAccount(account: string): string {
  const bare = account.includes('.global') ? account.split('-')[0]! : account.split('.')[0]!;
  return bare.toUpperCase();
}

export function mintJwt(
  settings: { account: string; user: string; privateKey: KeyObject; fingerprint: string },
  nowSeconds: number
): string {
  const qualified = `${jwtAccount(settings.account)}.${settings.user.toUpperCase()}`;
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = {
    iss: `${qualified}.${settings.fingerprint}`,
    sub: qualified,
    iat: nowSeconds,
    exp: nowSeconds + JWT_LIFETIME_SECONDS
  };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(settings.privateKey);
  return `${unsigned}.${signature.toString('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
