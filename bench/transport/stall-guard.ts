/**
 * How a waiting producer notices that it must give up: the cell has stopped, or the other side is
 * dead or has made no progress for STALL_MS. Every wait in the bench is bounded by one of these.
 */

export const STALL_MS = 10_000;
/** The longest single wait before a producer checks the guard again. */
export const WAIT_SLICE_MS = 50;

export interface StallGuard {
  /** True once the cell's STOP phase is published: stop producing. */
  stopped(): boolean;
  /** Throws if the peer died, or if `waitedMs` of waiting for `what` exceeds STALL_MS. */
  check(waitedMs: number, what: string): void;
}

export function stallError(waitedMs: number, what: string): Error | null {
  if (waitedMs <= STALL_MS) return null;
  return new Error(`no progress for ${Math.round(waitedMs)} ms while waiting for ${what} (limit ${STALL_MS} ms)`);
}
