/**
 * The main-thread side of one actor incarnation: starts its worker, waits for it to boot, watches
 * its heartbeat, and reports its end exactly once with a cause. A dead worker is an ordinary event:
 * every wait here has a timeout or ends with the worker's exit.
 */

import { EventEmitter } from 'node:events';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ControlClient } from './control.js';
import { RuntimeError } from './errors.js';
import { Heartbeat, StallWatch } from './heartbeat.js';
import { MSG_BOOT_FAILED, MSG_CRASH, MSG_READY, type ActorWorkerData, type BootMessage } from './protocol.js';
import { workerModuleUrl } from './worker-module.js';

const HOST = new URL('./actor-host.ts', import.meta.url);

/** Why an incarnation ended. `normal` is a clean exit (code 0) nobody asked for. */
export type ExitCause = 'normal' | 'stopped' | 'error' | 'exit' | 'stall' | 'oom' | 'boot';

/**
 * Where a kill lands. `'turn'`: at the worker's next event-loop turn, so between records (or at an
 * await inside a handler); every record is then handled exactly once across the crash (marks and
 * `held` words). `'now'`: wherever the worker's code is. A record interrupted between its effects
 * (ledger counts, ring commits) is handled again by the successor, so its events may be forwarded
 * and counted twice: at least once, never lost. No pair of stores is atomic under
 * Worker.terminate() (V8 ends a thread even between two adjacent Atomics.store calls).
 */
export type KillAt = 'turn' | 'now';

export interface ActorExit {
  cause: ExitCause;
  code: number;
  error?: Error;
  /** Records its successor handles a second time: the one the exit interrupted (0 or 1). */
  unreleased: number;
}

export interface ActorProcessOptions {
  data: Omit<ActorWorkerData, 'control' | 'module' | 'redelivered'> & { module: string | URL };
  heartbeatTimeoutMs: number;
  bootTimeoutMs: number;
  resourceLimits: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
}

export class ActorProcess extends EventEmitter<{ exit: [ActorExit] }> {
  readonly id: string;
  readonly control: ControlClient;
  readonly heartbeat: Heartbeat;
  private readonly worker: Worker;
  private readonly exited: Promise<ActorExit>;
  private watchdog: NodeJS.Timeout | undefined;
  private ending: ExitCause | null = null;
  private lastError: Error | undefined;
  private ended = false;

  constructor(private readonly options: ActorProcessOptions) {
    super();
    this.id = options.data.id;
    this.heartbeat = new Heartbeat(options.data.heartbeat);
    // What the predecessor read and never released is in its mailbox still: the successor is told
    // how many of its first batches are repeats. The heartbeat outlives every incarnation, and any
    // supervisor that restarts this actor, so the count survives a whole subtree's restart.
    const redelivered = this.heartbeat.redelivered;
    this.heartbeat.resetIncarnation();
    const channel = new MessageChannel();
    const data: ActorWorkerData = { ...options.data, redelivered, module: workerModuleUrl(options.data.module).href, control: channel.port2 };
    this.worker = new Worker(workerModuleUrl(HOST), {
      workerData: data,
      transferList: [channel.port2],
      resourceLimits: options.resourceLimits,
      // Worker stdout/stderr stay the process's own; logs go straight to fd 2 (logger.ts).
      stdout: false,
      stderr: false,
    });
    this.worker.on('error', (error: Error & { code?: string }) => {
      this.lastError = error;
      if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') this.ending ??= 'oom';
    });
    this.exited = new Promise<ActorExit>((resolve) => {
      this.worker.once('exit', (code) => {
        clearInterval(this.watchdog);
        channel.port1.close();
        const cause: ExitCause = this.ending ?? (this.lastError !== undefined ? 'error' : code === 0 ? 'normal' : 'exit');
        const exit: ActorExit = { cause, code, unreleased: this.heartbeat.redelivered, ...(this.lastError === undefined ? {} : { error: this.lastError }) };
        this.ended = true;
        resolve(exit);
        this.emit('exit', exit);
      });
    });
    const gone = this.exited.then((exit) => {
      throw new RuntimeError('ERR_ACTOR_STOPPED', `actor ${this.id} is gone (${exit.cause}, code ${exit.code})`);
    });
    gone.catch(() => {});
    this.control = new ControlClient(this.id, channel.port1, gone);
  }

  /** Resolves once the actor's init ran; rejects with its boot error (the worker then exits). */
  async booted(): Promise<void> {
    const booted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ending = 'boot';
        void this.worker.terminate();
        reject(new RuntimeError('ERR_ACTOR_BOOT', `actor ${this.id} did not boot within ${this.options.bootTimeoutMs} ms`));
      }, this.options.bootTimeoutMs);
      this.worker.on('message', (message: BootMessage) => {
        switch (message.code) {
          case MSG_READY:
            clearTimeout(timer);
            resolve();
            break;
          case MSG_BOOT_FAILED:
            clearTimeout(timer);
            this.ending = 'boot';
            reject(new RuntimeError('ERR_ACTOR_BOOT', `actor ${this.id} failed to boot: ${message.message}`));
            break;
          default:
            clearTimeout(timer);
            reject(new RuntimeError('ERR_ACTOR_BOOT', `actor ${this.id} sent an unknown boot message ${JSON.stringify(message)}`));
        }
      });
      void this.exited.then((exit) => {
        clearTimeout(timer);
        reject(new RuntimeError('ERR_ACTOR_BOOT', `actor ${this.id} exited while booting (${exit.cause}, code ${exit.code}${exit.error ? `: ${exit.error.message}` : ''})`));
      });
    });
    await booted;
    this.startWatchdog();
  }

  private startWatchdog(): void {
    const timeout = this.options.heartbeatTimeoutMs;
    const watch = new StallWatch(this.heartbeat, timeout, performance.now());
    this.watchdog = setInterval(() => {
      if (watch.check(performance.now()) > 0 && this.ending === null) {
        this.ending = 'stall';
        void this.worker.terminate();
      }
    }, Math.max(20, Math.min(1000, timeout / 4)));
    this.watchdog.unref();
  }

  /** The end of this incarnation, whatever its cause. */
  get exit(): Promise<ActorExit> {
    return this.exited;
  }

  get isRunning(): boolean {
    return !this.ended;
  }

  /** Asks the actor to stop; terminates it if it has not exited within `shutdownMs`. */
  async stop(shutdownMs: number): Promise<ActorExit> {
    if (this.ended) return this.exited;
    this.ending ??= 'stopped';
    const forced = setTimeout(() => void this.worker.terminate(), shutdownMs);
    this.control.stop(shutdownMs).catch(() => {});
    try {
      return await this.exited;
    } finally {
      clearTimeout(forced);
    }
  }

  /**
   * Kills the worker, as a crash would. `'now'` terminates it wherever its code is, even inside a
   * record's handling (as the watchdog does a stalled worker): that one record may then be handled
   * again and counted twice (see KillAt). `'turn'` (default) makes it exit at its event loop's next
   * turn, between records or at a handler's await, as an uncaught error in a callback would; a
   * worker that does not turn within `graceMs` is terminated.
   */
  kill(cause: ExitCause = 'exit', at: KillAt = 'turn', graceMs = 2000): Promise<ActorExit> {
    this.ending ??= cause;
    if (at === 'now') {
      void this.worker.terminate();
      return this.exited;
    }
    this.worker.postMessage({ code: MSG_CRASH });
    const forced = setTimeout(() => void this.worker.terminate(), graceMs);
    return this.exited.finally(() => clearTimeout(forced));
  }
}
