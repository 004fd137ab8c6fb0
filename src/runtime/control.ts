/**
 * The control plane: comlink over one MessageChannel per actor. Never on the data path.
 * The main side wraps every call with a timeout and with the worker's exit, so a caller never
 * waits forever on a dead or stuck thread.
 */

import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-endpoint.js';
import type { MessagePort } from 'node:worker_threads';
import { RuntimeError } from './errors.js';

export interface ActorStats {
  id: string;
  restartCount: number;
  handledBatches: number;
  /** Records a crashed predecessor had handled to the end but not released: read again, not handled again. */
  skippedRedelivered: number;
  mailboxBytes: number;
  eventLoopUtilization: number;
  /** Milliseconds this thread's event loop was busy since it started: its CPU time, near enough. */
  activeMs: number;
  heapUsedBytes: number;
  /** The thread's V8 heap limit (old and young generations: its resourceLimits). */
  heapLimitBytes: number;
  /**
   * CPU seconds this thread has run since it started (Linux: /proc/thread-self/schedstat), null
   * where that cannot be read. Unlike activeMs, time the thread waited for a core is not in it.
   */
  cpuSeconds: number | null;
  /** This thread's event-loop delay since the previous stats() call: p99 and max, ms. */
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** What the actor's own stats() returned. */
  actor: Record<string, unknown>;
}

export interface ControlApi {
  stats(): ActorStats | Promise<ActorStats>;
  reconfigure(partial: unknown): Promise<void>;
  /** Stops taking new input, handles everything in the mailbox, then flushes. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export class ControlClient {
  private readonly remote: Comlink.Remote<ControlApi>;

  constructor(
    private readonly id: string,
    port: MessagePort,
    /** Settles when the worker is gone; every pending call rejects then. */
    private readonly gone: Promise<never>,
  ) {
    this.remote = Comlink.wrap<ControlApi>(nodeEndpoint(port));
  }

  stats(timeoutMs = 1000): Promise<ActorStats> {
    return this.call('stats', () => this.remote.stats(), timeoutMs);
  }

  reconfigure(partial: unknown, timeoutMs = 5000): Promise<void> {
    return this.call('reconfigure', () => this.remote.reconfigure(partial), timeoutMs);
  }

  drain(timeoutMs: number): Promise<void> {
    return this.call('drain', () => this.remote.drain(), timeoutMs);
  }

  stop(timeoutMs: number): Promise<void> {
    return this.call('stop', () => this.remote.stop(), timeoutMs);
  }

  private call<T>(name: string, invoke: () => Promise<T>, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RuntimeError('ERR_CONTROL_TIMEOUT', `${name}() on actor ${this.id} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([invoke(), timeout, this.gone]).finally(() => clearTimeout(timer));
  }
}
