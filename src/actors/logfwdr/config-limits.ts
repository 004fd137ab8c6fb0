/**
 * Size limits of a Logfwdr config document. Every one is finite: a caller may lower or raise them,
 * never remove them, so a generator gone wrong cannot hand Logfwdr a config it cannot hold.
 */

import { describeValue } from '../../runtime/errors.js';

/** Size limits of a whole document. All finite; a caller may lower or raise them, never remove them. */
export interface ConfigLimits {
  /** Bytes of the document's text (UTF-8). */
  readonly maxBytes: number;
  readonly maxJobs: number;
  readonly maxZonesPerJob: number;
  /** Zones summed over all jobs: bounds the routing table's memory. */
  readonly maxZoneEntries: number;
}

export const CONFIG_LIMITS: ConfigLimits = Object.freeze({
  // The HTTP provider's body limit too. A million jobs of a few zones each is ~60 MiB of JSON.
  maxBytes: 64 * 1024 * 1024,
  // Buftee "typically handles over 1 million buffers" (the incident report): one buffer per job.
  maxJobs: 1_000_000,
  maxZonesPerJob: 100_000,
  // ~8 bytes per zone in the routing table's maps, plus the job lists: a few hundred MiB at most.
  maxZoneEntries: 10_000_000,
});

/** Checks `limits` (every one a positive safe integer) and fills in the defaults. */
export function resolveLimits(limits: Partial<ConfigLimits> = {}): ConfigLimits {
  const resolved = { ...CONFIG_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new RangeError(`config limit ${name} must be a positive integer, got ${describeValue(value)}`);
    }
  }
  return Object.freeze(resolved);
}
