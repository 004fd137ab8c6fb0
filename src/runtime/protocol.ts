/**
 * What the main thread and an actor's worker tell each other outside the control plane: the
 * workerData an actor boots with, and the coded messages on `parentPort` during boot.
 */

import type { IdleOptions } from '../native/idle-strategy.js';
import type { LevelWithSilent } from 'pino';
import type { MessagePort } from 'node:worker_threads';

export const MSG_READY = 1;
export const MSG_BOOT_FAILED = 2;
/** Main thread → worker: crash now, at this turn of your event loop (ActorProcess.kill 'turn'). */
export const MSG_CRASH = 3;

export type BootMessage = { code: typeof MSG_READY } | { code: typeof MSG_BOOT_FAILED; message: string; stack?: string };

export interface ActorWorkerData {
  id: string;
  /** file: URL of the compiled actor module, which exports `actor`. */
  module: string;
  args: unknown;
  restartCount: number;
  redelivered: number;
  heartbeat: SharedArrayBuffer;
  heartbeatIntervalMs: number;
  /** Rings this actor reads (one per sender, plus one from the main thread). */
  inbound: SharedArrayBuffer[];
  /** Rings this actor writes, by target actor id. */
  outbound: Record<string, SharedArrayBuffer>;
  /** comlink endpoint for the control plane. */
  control: MessagePort;
  idle: IdleOptions;
  /** Most records handed to `handle` before a release. */
  readBatch: number;
  log: { level: LevelWithSilent; destination: number | string };
}
