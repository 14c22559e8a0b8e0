export declare const DEFAULT_API_KEY: string;
export declare const DEFAULT_TOKEN: string;

export interface Host {
  nativeIntegrationId: number | string | undefined;
  technology: string;
  hostname: string;
  childCount: number;
  state?: string;
}

export interface Integration {
  status: string;
  type: string;
  script?: string;
}

export interface State {
  hosts: Record<string, Host>;
  integrations: Record<string, Integration>;
}

export interface RecordedRequest {
  method: string;
  rawPath: string;
  /** Below the prefix; undefined when the request missed the prefix. */
  path: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Fault {
  method?: string;
  path?: string | RegExp;
  times?: number;
  status?: number;
  body?: string | Buffer;
  /** A header set to null is left out (no content type at all, say). */
  headers?: Record<string, string | null>;
  reset?: boolean;
  hang?: boolean;
  resetAfterHandling?: boolean;
  delayMs?: number;
  /** An answer (200 unless status says) whose chunked body never ends, sent as fast as read. */
  endless?: boolean;
  /** An answer (200 unless status says) whose body sends a byte every this many ms, forever. */
  trickleMs?: number;
  /** Carry the request out, then answer with this fault's status, body and headers. */
  afterHandling?: boolean;
  /** Awaited when the request arrives, before it is carried out. */
  before?: () => void | Promise<void>;
}

export interface StandInOptions {
  port?: number;
  prefix?: string;
  tls?: { key: string | Buffer; cert: string | Buffer };
  apiKey?: string;
  token?: string;
  state?: State;
  scriptShape?: 'json-string' | 'json-object' | 'sql-field' | 'text';
  deleteShape?: 'schema' | 'object-path' | 'docs-example' | 'unreadable';
  permissions?: { script?: boolean; delete?: boolean };
  /** Every answer waits this long, as a tenant across a network would. */
  latencyMs?: number;
  /**
   * What a request that misses the prefix gets: a web server's HTML 404 (the default), or
   * Immuta's own JSON 404, as a tenant answers a route it does not know.
   */
  missedPrefix?: 'nginx' | 'immuta';
}

export interface ImmutaStandIn {
  url: string;
  apiKey: string;
  token: string;
  state: State;
  placeHost(key: string, url: string): void;
  requests: (RecordedRequest & { at: number })[];
  sent(method: string, path?: string | RegExp): RecordedRequest[];
  fault(spec: Fault): void;
  close(): Promise<void>;
}

export declare function startImmutaStandIn(options?: StandInOptions): Promise<ImmutaStandIn>;
export declare function defaultState(): State;
export declare function snowflakeScript(integrationId: number): string;
export declare function addHost(
  state: State,
  key: string,
  host: { integrationId: number; hostname: string; technology?: string; childCount?: number }
): void;
export declare function databricksScript(integrationId: number): string;
