/**
 * The loop every config provider shares: read once now, then again `intervalMs` after each read
 * ends (so a slow read never overlaps the next), with on-demand reads coalesced into one follow-up.
 *
 * Nothing here throws at its caller: a failed read becomes an `unavailable` event, and an `onEvent`
 * that throws goes to `onError`. Its timers never hold the process open (they are unref'd): a
 * process lives for its inputs, not for its config poller. After stop(), a read still in flight is
 * aborted and its result dropped.
 */

import type { ProviderEvent } from './candidate.js';

export interface Provider {
  /** Where configs come from, as alerts and errors name it (a path, a URL without its query). */
  readonly source: string;
  /** Reads now, then every intervalMs. Calling it again while started does nothing. */
  start(): void;
  /** Stops the timers and any watcher, and aborts a read in flight; its result is never delivered. */
  stop(): void;
  /** Reads now, skipping "unchanged" shortcuts; resolves once its event has been delivered. Never rejects. */
  refresh(): Promise<void>;
}

export interface ProviderOptions {
  onEvent: (event: ProviderEvent) => void;
  /** Default 5000. */
  intervalMs?: number;
  /** Called when onEvent throws. Default: a process warning. */
  onError?: (error: unknown) => void;
}

/** One read: an event to deliver, or undefined for nothing. `force` skips "unchanged" shortcuts. */
export type ReadOnce = (signal: AbortSignal, force: boolean) => Promise<ProviderEvent | undefined>;

export const PROVIDER_DEFAULTS = Object.freeze({
  // "Every few minutes" in the incident report; a few seconds here, so a fix lands quickly.
  intervalMs: 5000,
  // Editors and `cp` write a file in several steps; 100 ms lets them finish before it is read.
  debounceMs: 100,
  httpTimeoutMs: 10_000,
  functionTimeoutMs: 30_000,
  maxBytes: 64 * 1024 * 1024,
});

// setTimeout's ceiling: past it a timer fires after 1 ms.
export const MAX_MS = 2_147_483_647;

export function checkMs(name: string, value: number | undefined, fallback: number, min = 1): number {
  const ms = value ?? fallback;
  if (!Number.isSafeInteger(ms) || ms < min || ms > MAX_MS) throw new RangeError(`${name} must be an integer from ${min} to ${MAX_MS} ms, got ${String(ms)}`);
  return ms;
}

export interface Poller extends Provider {
  /** Whether start() has been called and stop() has not. */
  readonly started: boolean;
}

export function createPoller(source: string, read: ReadOnce, options: ProviderOptions, hooks: { onStart?(): void; onStop?(): void } = {}): Poller {
  const intervalMs = checkMs('intervalMs', options.intervalMs, PROVIDER_DEFAULTS.intervalMs);
  const onError = options.onError ?? ((error: unknown) => process.emitWarning(`config provider ${source}: onEvent threw: ${reasonOf(error)}`));
  let started = false;
  // Bumped by stop(): a read begun in an earlier epoch neither delivers nor reschedules.
  let epoch = 0;
  let timer: NodeJS.Timeout | undefined;
  let controller: AbortController | undefined;
  let inFlight: Promise<void> | undefined;
  let followUp: Promise<void> | undefined;
  let followUpForced = false;

  const deliver = (event: ProviderEvent): void => {
    try {
      options.onEvent(event);
    } catch (error) {
      try {
        onError(error);
      } catch {
        // onError itself failed: there is no one left to tell, and a provider must not throw.
      }
    }
  };

  const once = async (force: boolean): Promise<void> => {
    const readEpoch = epoch;
    const ours = new AbortController();
    controller = ours;
    let event: ProviderEvent | undefined;
    try {
      event = await read(ours.signal, force);
    } catch (error) {
      event = { type: 'unavailable', source, reason: reasonOf(error), error };
    } finally {
      if (controller === ours) controller = undefined;
    }
    if (event !== undefined && readEpoch === epoch && !ours.signal.aborted) deliver(event);
  };

  const run = (force: boolean): Promise<void> => {
    if (inFlight !== undefined) {
      // A read is under way and may have begun before whatever prompted this one: one more follows it.
      followUpForced ||= force;
      followUp ??= inFlight.then(() => {
        followUp = undefined;
        const forced = followUpForced;
        followUpForced = false;
        return run(forced);
      });
      return followUp;
    }
    const current = once(force).finally(() => {
      inFlight = undefined;
    });
    inFlight = current;
    return current;
  };

  const tick = (tickEpoch: number): void => {
    timer = undefined;
    void run(false).then(() => {
      if (!started || tickEpoch !== epoch) return;
      timer = setTimeout(tick, intervalMs, tickEpoch);
      timer.unref();
    });
  };

  return {
    source,
    get started() {
      return started;
    },
    start() {
      if (started) return;
      started = true;
      hooks.onStart?.();
      tick(epoch);
    },
    stop() {
      if (!started) return;
      started = false;
      epoch++;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      controller?.abort();
      hooks.onStop?.();
    },
    refresh() {
      return run(true);
    },
  };
}

/** One line for an error: its message, and its cause's (fetch's "fetch failed" says little alone). */
export function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
