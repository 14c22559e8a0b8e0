import { run } from './main.js';
import { artifactsInWorker, serveArtifactCalls, WORKER_FLAG } from './artifact-worker.js';
import { log } from './log.js';

// The bundle is also the artifact worker's code: started as the worker, it serves artifact calls.
if (process.env[WORKER_FLAG] === '1') {
  void serveArtifactCalls();
} else {
  void run(() => {
    const worker = artifactsInWorker(new URL(import.meta.url), log.debug);
    return { client: Promise.resolve(worker.client), stop: worker.stop };
  });
}
