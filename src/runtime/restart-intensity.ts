/**
 * Restart intensity, as OTP's supervisor.erl counts it: keep the restart times that fall within
 * the trailing period (a restart exactly `periodMs` ago still counts), add the new one, and give
 * up when more than `intensity` remain. Times are milliseconds from a monotonic clock
 * (`performance.now()`): a wall clock stepping back would keep old restarts in the window.
 */

export interface RestartCount {
  /** Restart times within the period, oldest first, the new one last; at most intensity + 1. */
  readonly restarts: number[];
  /** More than `intensity` restarts within `periodMs`: the supervisor must give up. */
  readonly exceeded: boolean;
}

export function addRestart(restarts: readonly number[], now: number, intensity: number, periodMs: number): RestartCount {
  const threshold = now - periodMs;
  const kept = restarts.filter((t) => t >= threshold);
  kept.push(now);
  const exceeded = kept.length > intensity;
  // A later call only asks whether `intensity` of these are still within its window, and as times
  // only grow the newest ones answer that: keeping intensity + 1 (so the count in an escalation
  // message reads "4 restarts exceed 3") bounds the list whatever the caller passes in.
  const bounded = kept.length > intensity + 1 ? kept.slice(kept.length - (intensity + 1)) : kept;
  return { restarts: bounded, exceeded };
}
