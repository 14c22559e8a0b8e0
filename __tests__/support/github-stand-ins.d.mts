import type { IncomingHttpHeaders } from 'node:http';

export declare const GITHUB_ISSUER: string;
export declare const REPOSITORY: string;
export declare const RUN_ID: string;

export interface Jwks {
  keys: Record<string, unknown>[];
}

export interface Fault {
  status?: number;
  /** A string goes out as an HTML page. */
  body?: unknown;
  headers?: Record<string, string>;
  /** The issuer only: answer {"value": <this>} as it is. */
  value?: unknown;
  reset?: boolean;
  hang?: boolean;
  endless?: boolean;
  times?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers: IncomingHttpHeaders;
  at: number;
  audience?: string;
}

export interface IssuedToken {
  jwt: string;
  audience: string;
  claims: Record<string, unknown> & { sub: string; exp: number; iat: number };
  at: number;
}

export interface OidcIssuerOptions {
  subject: string;
  lifetimeSeconds: number;
  claims: Record<string, unknown>;
  sign?: boolean;
}

export interface OidcIssuer {
  url: string;
  close(): Promise<void>;
  options: OidcIssuerOptions;
  requests: RecordedRequest[];
  issued: IssuedToken[];
  jwks: Jwks;
  requestToken: string;
  fault(spec: Fault): void;
  readonly env: { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string };
  readonly tokenRequests: RecordedRequest[];
}

export declare function startOidcIssuer(options?: Partial<OidcIssuerOptions>): Promise<OidcIssuer>;

export declare function verifyIdToken(
  jwt: string,
  expected: {
    jwks: Jwks;
    issuer?: string;
    audiences: string[];
    subject: string;
    now?: number;
  }
): { claims?: Record<string, unknown>; reason?: string; expired?: boolean };

export interface ReviewEntry {
  environments: Record<string, unknown>[];
  state: string;
  user: Record<string, unknown>;
  comment: string;
}

export declare function review(fields?: {
  login?: string;
  state?: string;
  comment?: string;
  environments?: string[];
}): ReviewEntry;

export interface GitHubApiOptions {
  token: string;
  actionsRead: boolean;
  reviews: Record<string, unknown[]>;
}

export interface GitHubApi {
  url: string;
  close(): Promise<void>;
  options: GitHubApiOptions;
  requests: RecordedRequest[];
  fault(spec: Fault): void;
  readonly env: { GITHUB_API_URL: string };
}

export declare function startGitHubApi(options?: Partial<GitHubApiOptions>): Promise<GitHubApi>;
