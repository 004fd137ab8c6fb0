/**
 * A pool for stateless CPU work (formatting, compression), backed by piscina, so a stage spreads
 * heavy work over threads without owning them. The queue is bounded: a full pool refuses the
 * task at once (ERR_POOL_FULL), which the caller treats as backpressure, instead of piling up.
 */

import { Piscina } from 'piscina';
import { RuntimeError } from './errors.js';
import { workerModuleUrl } from './worker-module.js';

export interface PoolOptions {
  /** A module exporting the task function under `name`. */
  module: string | URL;
  /** The task function's export name. Default `task`. */
  name?: string;
  /** Default 1: this runs beside the pipeline's own threads on a small machine. */
  maxThreads?: number;
  /** Tasks waiting for a thread, at most. Default 256. */
  maxQueue?: number;
  /** A thread idle this long ends. Default 30 s. */
  idleTimeoutMs?: number;
}

export interface PoolStats {
  threads: number;
  queued: number;
  completed: number;
}

export class Pool {
  private readonly piscina: Piscina;
  readonly maxQueue: number;

  constructor(options: PoolOptions) {
    const maxThreads = options.maxThreads ?? 1;
    const maxQueue = options.maxQueue ?? 256;
    for (const [key, value, min] of [['maxThreads', maxThreads, 1], ['maxQueue', maxQueue, 0]] as const) {
      if (!Number.isInteger(value) || value < min || value > 4096) {
        throw new RuntimeError('ERR_SPEC', `pool ${key} must be an integer from ${min} to 4096, got ${value}`);
      }
    }
    this.maxQueue = maxQueue;
    this.piscina = new Piscina({
      filename: workerModuleUrl(options.module).href,
      name: options.name ?? 'task',
      minThreads: 0,
      maxThreads,
      maxQueue,
      idleTimeout: options.idleTimeoutMs ?? 30_000,
    });
  }

  /** Runs one task; rejects with ERR_POOL_FULL when the queue is at its limit. */
  run<T>(input: unknown, transferList?: ArrayBuffer[]): Promise<T> {
    if (this.piscina.queueSize >= this.maxQueue && this.piscina.threads.length >= this.piscina.options.maxThreads) {
      return Promise.reject(new RuntimeError('ERR_POOL_FULL', `pool queue is full: ${this.piscina.queueSize} tasks waiting, limit ${this.maxQueue}`));
    }
    return this.piscina.run(input, transferList === undefined ? {} : { transferList: transferList as never }) as Promise<T>;
  }

  stats(): PoolStats {
    return { threads: this.piscina.threads.length, queued: this.piscina.queueSize, completed: this.piscina.completed };
  }

  close(): Promise<void> {
    return this.piscina.destroy();
  }
}
