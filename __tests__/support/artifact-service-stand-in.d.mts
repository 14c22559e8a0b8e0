import type { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';

export declare const RUN_BACKEND_ID: string;
export declare const JOB_BACKEND_ID: string;
export declare function runtimeToken(run?: string, job?: string): string;

export interface Azurite {
  url: string;
  credential: StorageSharedKeyCredential;
  blobs: BlobServiceClient;
  stop(): Promise<void>;
}

export declare const SHARED_AZURITE: string;
export declare function startAzurite(): Promise<Azurite>;
export declare function startOwnAzurite(): Promise<Azurite>;

export interface StoredArtifact {
  workflow_run_backend_id: string;
  workflow_job_run_backend_id: string;
  name: string;
  expires_at?: string;
  finalized: boolean;
  blobName: string;
  database_id?: string;
  size?: string;
  hash?: string;
}

export interface ArtifactService {
  url: string;
  calls: {
    method: string;
    request: Record<string, unknown>;
    headers: Record<string, string | string[] | undefined>;
  }[];
  artifacts: StoredArtifact[];
  /** Every signed URL handed out, in order. */
  issued: string[];
  zipOf(name: string): Promise<Buffer | undefined>;
  plant(
    name: string,
    zip: Buffer,
    run?: string,
    job?: string,
    options?: { digest?: string | null; contentType?: string }
  ): Promise<string>;
  blobNames(): Promise<string[]>;
  env(run?: string, job?: string): { ACTIONS_RUNTIME_TOKEN: string; ACTIONS_RESULTS_URL: string };
  close(): Promise<void>;
}

export type Fault =
  | number
  | { status?: number; contentType?: string; body?: string }
  | 'lost'
  | 'lost-once'
  | 'hang'
  | 'half';

/** A fault, or a function that chooses one by the request (undefined: none). */
export type FaultFor<F> = F | ((request: Record<string, unknown>) => F | undefined);

export declare function startArtifactService(options: {
  azurite: Azurite;
  faults?: {
    CreateArtifact?: FaultFor<Fault>;
    FinalizeArtifact?: FaultFor<Fault>;
    ListArtifacts?: FaultFor<Fault | 'ignore-filter'>;
    GetSignedArtifactURL?: FaultFor<Fault>;
    DeleteArtifact?: FaultFor<Fault>;
    blob?: 'refuse' | 'refuse-read' | 'stall' | 'stall-read';
  };
  hostnames?: { results: string; blob: string };
}): Promise<ArtifactService>;
