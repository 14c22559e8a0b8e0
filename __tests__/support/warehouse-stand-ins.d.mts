export interface WarehouseRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
  refused?: string;
  /** Snowflake: a request of the pre-flight check (its SELECT 1, its polls). */
  check?: boolean;
}

interface StandIn {
  url: string;
  requests: WarehouseRequest[];
  fault(spec: {
    method?: string;
    path?: RegExp;
    times?: number;
    status?: number;
    body?: unknown;
    headers?: Record<string, string>;
    resetAfterHandling?: boolean;
    /** For the pre-flight check's requests (and only those); false by default. */
    check?: boolean;
    /** Databricks: carried out first, then answered with the fault. */
    afterHandling?: boolean;
  }): void;
  close(): Promise<void>;
}

export interface SnowflakeStandIn extends StandIn {
  executions: Map<string, number>;
  /** Every statement that ran, in order, over all requests. */
  ran: string[];
  /** Statement handles a cancel was sent for. */
  cancels: string[];
  readonly scripts: string[];
  readonly cancelled: boolean;
  readonly checks: number;
  readonly resends: number;
}

export interface DatabricksStandIn extends StandIn {
  executed: string[];
  cancels: string[];
  issued: Set<string>;
  readonly checks: number;
  sent(statement: string): number;
}

export declare function startSnowflakeStandIn(options: {
  account?: string;
  user?: string;
  publicKey?: string;
  token?: string;
  tokenType?: string;
  pendingPolls?: number;
  failAt?: number;
  failOn?: RegExp;
  failMessage?: string;
  failWithoutPosition?: boolean;
  neverEnds?: boolean;
}): Promise<SnowflakeStandIn>;

export declare function startDatabricksStandIn(options: {
  token?: string;
  clientId?: string;
  clientSecret?: string;
  warehouseId: string;
  failOn?: RegExp;
  polls?: number;
  neverEnds?: boolean;
  endState?: 'SUCCEEDED' | 'CLOSED';
  resultRows?: number;
  echoAuthorization?: boolean;
}): Promise<DatabricksStandIn>;
