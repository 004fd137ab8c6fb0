/**
 * The old generation V8 gives an isolate before its first full GC, for the worker threads this
 * process starts from now on.
 *
 * Why: a stage's heap is small (8-20 MiB live), and V8 sets a small heap's next full-GC limit only
 * ~11 MiB above what survived the last one, about the size of the stage's young generation
 * (STAGE_YOUNG_GENERATION_MB in actors/pipeline.ts); V8 starts incremental marking as soon as the
 * room left is under the young generation's capacity (`--trace-incremental-marking`: "Start
 * (task): v8: 8MB / 20MB / 11MB"). So Buftee and Logpush ran a full mark-compact every ~0.7 s
 * (bench:pipeline, 3 M events: 22 and 21 of them; Logreceiver 11), and V8's helper threads spent
 * ~3.3 s marking. With an initial old generation of 64 MiB: 5, 5 and 2, ~2 s of helper time, ~10%
 * less CPU an event, for ~50-95 MiB more peak RSS (garbage waits longer for its full GC), and at
 * bench:pipeline's fastest (~340 k events/s) a peak of 991-1,013 MiB, too near its 1 GiB. The
 * pipeline's default is 32 MiB: helper time ~2.7 s, peak 870-907 MiB at the same rates.
 *
 * It is a V8 flag, and V8 flags are process-wide: V8 reads it when it makes an isolate, so it
 * applies to every isolate made after the call (worker threads; the main thread's isolate exists
 * already), the embedder's own workers included, and the last value set wins. Node's Worker has
 * no per-worker form of it (its resourceLimits set only the maximum sizes).
 */

import { setFlagsFromString } from 'node:v8';

/** Past this, an isolate would start with more heap than the stages' default limit (512 MiB) leaves room for. */
export const MAX_INITIAL_OLD_SPACE_MB = 256;

/** Checks `mb` (an integer from 0 to MAX_INITIAL_OLD_SPACE_MB; 0 leaves V8's own sizing) and returns it. */
export function checkInitialOldSpaceMb(mb: unknown, what: string): number {
  if (!(Number.isInteger(mb) && (mb as number) >= 0 && (mb as number) <= MAX_INITIAL_OLD_SPACE_MB)) {
    throw new RangeError(`${what} must be an integer number of MiB from 0 to ${MAX_INITIAL_OLD_SPACE_MB}, got ${String(mb)}`);
  }
  return mb as number;
}

/**
 * Sets V8's initial old-generation size (MiB) for isolates made from now on; 0 does nothing (V8's
 * default, or whatever the process was started with, stays).
 */
export function setInitialOldSpaceForNewIsolates(mb: number): void {
  checkInitialOldSpaceMb(mb, 'initial old space');
  if (mb > 0) setFlagsFromString(`--initial-old-space-size=${mb}`);
}
