export interface WarehouseRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: number;
  refused?: string;
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
  }): void;
  close(): Promise<void>;
}

export interface SnowflakeStandIn extends StandIn {
  executions: Map<string, number>;
  readonly scripts: string[];
  readonly cancelled: boolean;
}

export interface DatabricksStandIn extends StandIn {
  executed: string[];
  issued: Set<string>;
}

export declare function startSnowflakeStandIn(options: {
  account?: string;
  user?: string;
  publicKey?: string;
  token?: string;
  tokenType?: string;
  pendingPolls?: number;
  failAt?: number;
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
}): Promise<DatabricksStandIn>;
