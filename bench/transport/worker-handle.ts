/**
 * A bench worker seen from main: its coded messages arrive in order through `next`, and its death
 * (an 'error', or an 'exit' main did not ask for) rejects whatever main is waiting on, so no wait
 * outlives the thread it waits for. Every wait also has a timeout.
 */

import { Worker, type Transferable } from 'node:worker_threads';
import { MSG_READY, messageName, type StopCommand, type WorkerMessage } from './protocol.js';

/** Start-up of a worker that loads compiled JS takes ~55 ms here; this allows for a loaded machine. */
export const BOOT_TIMEOUT_MS = 30_000;

type MessageOf<C extends WorkerMessage['code']> = Extract<WorkerMessage, { code: C }>;

interface Waiter {
  resolve: (message: WorkerMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class WorkerHandle {
  readonly name: string;
  readonly worker: Worker;
  private failure: Error | null = null;
  private stopping = false;
  private readonly inbox: WorkerMessage[] = [];
  private waiter: Waiter | null = null;

  /** Starts a worker and waits for its READY; a worker that dies while booting fails the start. */
  static async start(name: string, url: URL, workerData: unknown, transferList: readonly Transferable[] = []): Promise<WorkerHandle> {
    const handle = new WorkerHandle(name, new Worker(url, { workerData, transferList: [...transferList] }));
    try {
      await handle.next(MSG_READY, BOOT_TIMEOUT_MS);
    } catch (error) {
      await handle.stop();
      throw error;
    }
    return handle;
  }

  private constructor(name: string, worker: Worker) {
    this.name = name;
    this.worker = worker;
    worker.on('message', (message: WorkerMessage) => this.receive(message));
    worker.on('error', (error: Error) => this.fail(new Error(`${name} worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code: number) => {
      if (!this.stopping) this.fail(new Error(`${name} worker exited with code ${code} while main still needed it`));
    });
  }

  /** The next message, which must carry `code`; rejects on death, on timeout, or on any other code. */
  next<C extends WorkerMessage['code']>(code: C, timeoutMs: number): Promise<MessageOf<C>> {
    if (this.waiter !== null) return Promise.reject(new Error(`${this.name}: next() called while a wait is pending`));
    const queued = this.inbox.shift();
    if (queued !== undefined) return this.match(queued, code);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<WorkerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${this.name} worker sent no ${messageName(code)} message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    }).then((message) => this.match(message, code));
  }

  /** Throws the worker's failure, if it has died; producers call this when a wait times out. */
  throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  send(command: StopCommand): void {
    this.worker.postMessage(command);
  }

  /** Terminates the worker; its exit is then expected, not a failure. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.waiter !== null) {
      clearTimeout(this.waiter.timer);
      this.waiter.reject(new Error(`${this.name} worker stopped while main waited for a message`));
      this.waiter = null;
    }
    await this.worker.terminate();
  }

  private match<C extends WorkerMessage['code']>(message: WorkerMessage, code: C): Promise<MessageOf<C>> {
    if (message.code !== code) {
      return Promise.reject(new Error(`${this.name} worker sent a ${messageName(message.code)} message, expected ${messageName(code)}`));
    }
    return Promise.resolve(message as MessageOf<C>);
  }

  private receive(message: WorkerMessage): void {
    if (typeof message?.code !== 'number') {
      this.fail(new Error(`${this.name} worker sent a message without a code: ${JSON.stringify(message)}`));
      return;
    }
    const waiter = this.waiter;
    if (waiter === null) {
      this.inbox.push(message);
      return;
    }
    this.waiter = null;
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    const waiter = this.waiter;
    if (waiter === null) return;
    this.waiter = null;
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }
}
