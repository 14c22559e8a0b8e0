import { isMainThread, parentPort } from 'node:worker_threads';
import { run } from './main.js';
import { artifactsInWorker, serveArtifactCalls } from './artifact-worker.js';
import { log } from './log.js';

// The bundle is also the artifact worker's code: started as a worker, it serves artifact calls.
if (isMainThread) {
  void run(() => {
    const worker = artifactsInWorker(new URL(import.meta.url), log.debug);
    return { client: Promise.resolve(worker.client), stop: worker.stop };
  });
} else {
  void serveArtifactCalls(parentPort!);
}
