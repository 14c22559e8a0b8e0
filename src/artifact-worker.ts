/**
 * The artifact client on a worker thread. Loading it (most of the bundle: the Azure SDK, Octokit)
 * takes a fifth of a second of CPU; on the main thread that time would hold up the answers from
 * Immuta, on a worker it runs beside them, on another core. The main thread sees an
 * `ArtifactClient` whose calls are messages to the worker.
 */
import type { MessagePort } from 'node:worker_threads';

/** Set in the worker's environment: the bundle started with it serves artifact calls. */
export const WORKER_FLAG = 'IMMUTA_DEREGISTER_ARTIFACT_WORKER';

// Loaded only when a worker is started: a run without an upload never needs it.
const threads = () => process.getBuiltinModule('node:worker_threads');
import type { ArtifactClient } from '@actions/artifact';

/** The client methods the action uses: the ones that go through the worker. */
const METHODS = ['getArtifact', 'downloadArtifact', 'deleteArtifact', 'uploadArtifact'] as const;
type Method = (typeof METHODS)[number];

interface Call {
  readonly id: number;
  readonly method: Method;
  readonly args: unknown[];
}

interface Reply {
  readonly id: number;
  readonly value?: unknown;
  /** The error's name is kept: callers tell ArtifactNotFoundError from the rest by it. */
  readonly error?: { readonly name: string; readonly message: string };
}

/**
 * Starts the worker on `entry` (the bundle, which serves calls when it runs as a worker) and
 * returns the client at once: calls made before the worker is ready wait in its queue.
 */
export function artifactsInWorker(
  entry: URL,
  debug: (message: string) => void
): { client: ArtifactClient; stop(): Promise<void> } {
  const started = performance.now();
  const worker = new (threads().Worker)(entry, { env: { ...process.env, [WORKER_FLAG]: '1' } });
  // The step may end without any artifact call (a host already gone); the worker must not keep it alive.
  worker.unref();
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let next = 0;
  let failed: Error | undefined;
  worker.on('message', (reply: Reply | { log: string } | 'ready') => {
    if (typeof reply === 'object' && 'log' in reply) return void process.stdout.write(reply.log);
    if (reply === 'ready') {
      return debug(
        `The artifact client is ready on its worker thread after ${Math.round(performance.now() - started)} ms.`
      );
    }
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    pending.delete(reply.id);
    if (reply.error) {
      waiting.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name }));
    } else {
      waiting.resolve(reply.value);
    }
  });
  const fail = (error: Error) => {
    failed = error;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the artifact worker stopped (exit code ${code})`)));

  const call =
    (method: Method) =>
    (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        if (failed) return reject(failed);
        const id = next++;
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, method, args } satisfies Call);
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      });
  const client = Object.fromEntries(METHODS.map((m) => [m, call(m)])) as unknown as ArtifactClient;
  return {
    client,
    stop: async () => {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
  };
}

/** In the worker: loads the client, says it is ready, and answers calls as they come. */
export async function serveArtifactCalls(port: MessagePort = threads().parentPort!): Promise<void> {
  // The client's log lines travel with the replies, on one channel, so the step's log shows
  // them before the main thread's line about the upload they belong to.
  process.stdout.write = ((chunk: string | Uint8Array) => {
    port.postMessage({
      log: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    });
    return true;
  }) as typeof process.stdout.write;
  const { DefaultArtifactClient } = await import('@actions/artifact');
  const client = new DefaultArtifactClient();
  port.on('message', async (call: Call) => {
    try {
      const method = client[call.method] as (...args: unknown[]) => Promise<unknown>;
      port.postMessage({
        id: call.id,
        value: await method.apply(client, call.args)
      } satisfies Reply);
    } catch (error) {
      const { name = 'Error', message = String(error) } = (error ?? {}) as Partial<Error>;
      port.postMessage({ id: call.id, error: { name, message } } satisfies Reply);
    }
  });
  port.postMessage('ready');
}
