/**
 * The worker side of an actor: the entry script every actor worker runs. It imports the actor
 * module, wires its mailbox (a fan-in over its inbound rings) and refs, beats the heartbeat from
 * the event loop, serves the control plane over comlink, and runs the read-handle-release loop.
 */

import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-endpoint.js';
import { FanInConsumer } from '../native/fan-in.js';
import { BackoffIdleStrategy } from '../native/idle-strategy.js';
import { ActorRef } from './actor-ref.js';
import { isDefinedActor, type ActorContext, type DefinedActor } from './actor.js';
import { Heartbeat } from './heartbeat.js';
import { createLogger } from './logger.js';
import { MSG_BOOT_FAILED, MSG_CRASH, MSG_READY, type ActorWorkerData, type BootMessage } from './protocol.js';
import type { ActorStats, ControlApi } from './control.js';

const data = workerData as ActorWorkerData;
const port = parentPort!;
const heartbeat = new Heartbeat(data.heartbeat);
heartbeat.beat();
// Beats from a timer: a blocked event loop stops it, which the supervisor reads as a stall.
const beatTimer = setInterval(() => heartbeat.beat(), data.heartbeatIntervalMs);

const log = createLogger({ actor: data.id, restart: data.restartCount }, data.log);
const refs = new Map(Object.entries(data.outbound).map(([target, ring]) => [target, new ActorRef(target, ring)]));
const mailbox = data.inbound.length > 0 ? new FanInConsumer(data.inbound) : null;
const idle = new BackoffIdleStrategy(data.idle);
const lifecycle = new AbortController();
let draining = false;
let stopping = false;
let handled = 0;
let drained: (() => void) | null = null;

const ctx: ActorContext = {
  id: data.id,
  args: data.args,
  restartCount: data.restartCount,
  redelivered: data.redelivered,
  log,
  signal: lifecycle.signal,
  ref(target: string): ActorRef {
    const ref = refs.get(target);
    if (ref === undefined) throw new Error(`actor ${data.id} has no ref to "${target}"; its sendsTo is [${[...refs.keys()].join(', ')}]`);
    return ref;
  },
  exit(): void {
    void shutdown(0);
  },
};

function post(message: BootMessage): void {
  port.postMessage(message);
}

let actor: DefinedActor;
let state: unknown;
try {
  const mod = (await import(data.module)) as { actor?: unknown };
  if (!isDefinedActor(mod.actor)) throw new TypeError(`module ${data.module} does not export an actor made with defineActor as "actor"`);
  actor = mod.actor;
  state = await actor.init?.(ctx);
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  post({ code: MSG_BOOT_FAILED, message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) });
  clearInterval(beatTimer);
  process.exit(1);
}

// This thread's event-loop delay, reset by every stats() call: the lag since the last one.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

/**
 * CPU seconds of this thread: the first field of /proc/thread-self/schedstat is its time on a CPU
 * in ns (Linux; Node 20 has no per-thread CPU clock of its own). Null where it cannot be read.
 */
function threadCpuSeconds(): number | null {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
    return Number.isFinite(ns) ? ns / 1e9 : null;
  } catch {
    return null;
  }
}

const control: ControlApi = {
  stats(): ActorStats {
    const lagP99Ms = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0;
    const lagMaxMs = loopDelay.count > 0 ? loopDelay.max / 1e6 : 0;
    loopDelay.reset();
    return {
      id: data.id,
      restartCount: data.restartCount,
      handledBatches: handled,
      skippedRedelivered: skipped,
      mailboxBytes: mailbox?.occupiedBytes ?? 0,
      eventLoopUtilization: performance.eventLoopUtilization().utilization,
      activeMs: performance.eventLoopUtilization().active,
      heapUsedBytes: process.memoryUsage().heapUsed,
      heapLimitBytes: getHeapStatistics().heap_size_limit,
      cpuSeconds: threadCpuSeconds(),
      eventLoopDelayP99Ms: lagP99Ms,
      eventLoopDelayMaxMs: lagMaxMs,
      actor: actor.stats?.(ctx, state) ?? {},
    };
  },
  async reconfigure(partial: unknown): Promise<void> {
    if (actor.reconfigure === undefined) throw new Error(`actor ${data.id} does not take reconfigure()`);
    await actor.reconfigure(partial, ctx, state);
  },
  async drain(): Promise<void> {
    draining = true;
    lifecycle.abort();
    // A source's run loop ends on the abort: what it was sending lands before drain answers.
    await running;
    await new Promise<void>((resolve) => {
      drained = resolve;
      if (mailbox === null || actor.handle === undefined) resolve();
    });
    await actor.flush?.(ctx, state);
  },
  async stop(): Promise<void> {
    await shutdown(0);
  },
};
Comlink.expose(control, nodeEndpoint(data.control));

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  lifecycle.abort();
  try {
    await actor.stop?.(ctx, state);
  } finally {
    clearInterval(beatTimer);
    // Gives the control plane's reply to stop() a turn to leave before the thread ends.
    setImmediate(() => process.exit(code));
  }
}

post({ code: MSG_READY });
// A kill at the next turn (ActorProcess.kill 'turn'): this handler runs only between macrotasks,
// never inside a record's synchronous handling.
port.on('message', (message: { code?: number }) => {
  if (message?.code === MSG_CRASH) process.exit(1);
});

// Parallel arrays reused across reads: the records of one read, from any of the inbound rings.
const rings: Uint8Array[] = [];
const offsets: number[] = [];
const lengths: number[] = [];
const types: number[] = [];
const sources: number[] = [];
const nexts: number[] = [];
let skipped = 0;
const collect = (type: number, bytes: Uint8Array, offset: number, length: number, next: number): void => {
  rings.push(bytes);
  types.push(type);
  offsets.push(offset);
  lengths.push(length);
  sources.push(mailbox!.currentRing);
  nexts.push(next);
};

// A busy mailbox of synchronous handlers would never give the event loop a turn: no heartbeat,
// no timers, no control plane. The loop yields a macrotask turn at least this often.
const YIELD_EVERY_MS = 5;

async function mailboxLoop(source: FanInConsumer): Promise<void> {
  const handle = actor.handle!;
  let yieldedAt = performance.now();
  while (!stopping) {
    rings.length = offsets.length = lengths.length = types.length = sources.length = nexts.length = 0;
    const n = source.read(collect, data.readBatch);
    if (n === 0) {
      if (draining && !source.hasData()) {
        drained?.();
        drained = null;
      }
      await idle.idle(source);
      continue;
    }
    heartbeat.setUnreleased(n);
    for (let i = 0; i < n; i++) {
      const ring = sources[i]!;
      const next = nexts[i]!;
      // Handled to the end by a predecessor that crashed before releasing it: not again.
      if (((heartbeat.mark(ring) - next) | 0) >= 0) {
        skipped++;
        // The mark stays where the predecessor left it (ahead of this record).
        heartbeat.setCompleted(i + 1);
        continue;
      }
      const view = rings[i]!.subarray(offsets[i]!, offsets[i]! + lengths[i]!);
      const result = handle(view, ctx, state, types[i]!);
      if (result !== undefined) await result;
      heartbeat.complete(ring, next, i + 1);
    }
    source.release();
    heartbeat.setUnreleased(0);
    heartbeat.handled(n);
    handled += n;
    const now = performance.now();
    if (now - yieldedAt >= YIELD_EVERY_MS) {
      await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
      yieldedAt = performance.now();
    }
  }
}

// An actor without handle() (a pure source) leaves its mailbox unread: nothing is sent to it.
if (mailbox !== null && actor.handle !== undefined) void mailboxLoop(mailbox).catch(crash);
const running: Promise<void> = actor.run === undefined ? Promise.resolve() : actor.run(ctx, state);
running.catch(crash);

function crash(error: unknown): void {
  // An error in the loop is the actor's crash: let it surface as the worker's uncaught error.
  setImmediate(() => {
    throw error;
  });
}
