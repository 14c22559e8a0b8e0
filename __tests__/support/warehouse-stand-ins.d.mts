import type { Jwks } from './github-stand-ins.mjs';

export interface WarehouseRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
  refused?: string;
  /** A request of the action's checks (pre-flight and script session), or a poll of one. */
  check?: boolean;
  /** Snowflake: a retry=true of a known request ID, answered for the request of that handle. */
  answeredFor?: string;
  /** Snowflake: the claims of the workload identity token the request carried. */
  wif?: Record<string, unknown>;
  /** Databricks: the form of a token request. */
  form?: Record<string, string>;
}

/** A workload identity (Snowflake) or federation policy (Databricks) naming GitHub's issuer. */
export interface OidcPolicy {
  jwks: Jwks;
  subject: string;
  audiences: string[];
}

interface Fault {
  method?: string;
  path?: RegExp;
  times?: number;
  status?: number;
  /**
   * A string goes out as a page. A function makes it from the request, as a server that echoes
   * what it was sent: Snowflake's is given the statement handle in the path and the request;
   * Databricks', the request and its body.
   */
  body?: unknown;
  headers?: Record<string, string>;
  resetAfterHandling?: boolean;
  /** For the checks' requests (and only those); false by default. */
  check?: boolean;
  /** Databricks: carried out first, then answered with the fault. */
  afterHandling?: boolean;
}

interface StandIn {
  url: string;
  requests: WarehouseRequest[];
  fault(spec: Fault): void;
  /** Resolves with the first request that matches, as soon as it comes. */
  waitFor(match: (request: WarehouseRequest) => boolean): Promise<WarehouseRequest>;
  close(): Promise<void>;
}

export interface SnowflakeOptions {
  account?: string;
  user?: string;
  publicKey?: string;
  token?: string;
  tokenType?: string;
  oidc?: OidcPolicy;
  pendingPolls?: number;
  slowOn?: RegExp;
  slowMs?: number;
  defaultRole?: string;
  grantedRoles?: string[];
  defaultWarehouse?: string | null;
  warehouses?: string[];
  failOn?: RegExp;
  failTimes?: number;
  failMessage?: string;
  failCode?: string;
  neverEnds?: boolean | RegExp;
  noWarehouseTimes?: number;
  absoluteStatusUrl?: boolean;
  identity?: {
    locator: string | null;
    organization: string | null;
    accountName: string | null;
    /** CURRENT_REGION(); AWS_US_WEST_2 when left out. */
    region?: string | null;
  };
}

export interface SnowflakeRan {
  text: string;
  role: string;
  warehouse: string | null;
  database: string | null;
  schema: string | null;
  variables: Record<string, string>;
  requestId: string;
}

export interface SnowflakeStandIn extends StandIn {
  options: SnowflakeOptions;
  /** How many times a request of each request ID was run. */
  executions: Map<string, number>;
  /** Every script statement that took effect, in order, with the session it ran in. */
  readonly ran: SnowflakeRan[];
  /** Statement handles a cancel was sent for. */
  cancels: string[];
  readonly scripts: string[];
  readonly ranTexts: string[];
  readonly cancelled: boolean;
  readonly checks: number;
  readonly resends: number;
}

export interface DatabricksOptions {
  token?: string;
  clientId?: string;
  clientSecret?: string;
  tokenSeconds?: number;
  warehouseId: string;
  defaultCatalog?: string;
  catalogs?: string[];
  failOn?: RegExp;
  failTimes?: number;
  polls?: number;
  neverEnds?: boolean | RegExp;
  endState?: 'SUCCEEDED' | 'CLOSED';
  resultRows?: number;
  echoAuthorization?: boolean;
  oidc?: OidcPolicy & { clientId: string };
  refuseExchangesAfter?: number;
}

export interface DatabricksStandIn extends StandIn {
  options: DatabricksOptions;
  /** Statements Databricks took, in order (not the checks). */
  executed: string[];
  /** Statements that took effect, with the catalog and schema they ran in. */
  ran: { statement: string; catalog: string; schema: string }[];
  cancels: string[];
  issued: Map<string, number>;
  /** Token federation's exchanges that gave a token, with the ID token's subject. */
  exchanges: { token: string; sub: string; at: number }[];
  forget(): void;
  readonly checks: number;
  sent(statement: string): number;
}

export declare function startSnowflakeStandIn(options: SnowflakeOptions): Promise<SnowflakeStandIn>;

export declare function startDatabricksStandIn(
  options: DatabricksOptions
): Promise<DatabricksStandIn>;
