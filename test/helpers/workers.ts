import { Worker, type WorkerOptions } from 'node:worker_threads';
import { workerModuleUrl } from '../../src/runtime/worker-module.js';

/** Starts a worker from a .ts module URL (run as its compiled JS). */
export function startWorker(module: URL, options: WorkerOptions = {}): Worker {
  return new Worker(workerModuleUrl(module), options);
}

/** The worker's first message, or a rejection naming its error or non-zero exit; never hangs. */
export function firstMessage<T>(worker: Worker, timeoutMs = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`worker ${worker.threadId} sent no message within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: T): void => {
      cleanup();
      resolve(m);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker ${worker.threadId} exited with code ${code} before sending a message`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
