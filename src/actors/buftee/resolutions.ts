/**
 * Resolutions: the views of one buffer a consumer can subscribe to.
 *
 * - `full`: every batch.
 * - `sampled:N`: every Nth batch of the buffer, the batches whose offset is a multiple of N
 *   (offset 0, N, 2N, …). About 1/N of the events when batches are alike. Sampling is per batch
 *   because Buftee never decodes a batch (DESIGN.md: payloads are decoded once, in Logpush);
 *   a consumer that wants 1 event in N reads `full` and samples while it decodes, as Logpush's
 *   `sample_rate` does. Being a function of the offset alone, the sample is the same for every
 *   consumer at the same N and survives a consumer's restart.
 *
 * A resolution is kept as its stride `every` (1 for full); a consumer wants offset o when
 * o % every === 0, and the next batch it wants from o on is `nextWanted(o, every)`: O(1), so a
 * sampled read never visits the batches it skips.
 */

import { optionsError } from './errors.js';

export type Resolution = 'full' | `sampled:${number}`;

/** The largest N of `sampled:N`. */
export const MAX_SAMPLE_EVERY = 1_000_000;

const SAMPLED = /^sampled:([1-9][0-9]{0,6})$/;

/** The stride of a resolution: 1 for `full`, N for `sampled:N`. Throws ERR_BUFTEE_OPTIONS otherwise. */
export function strideOf(resolution: unknown): number {
  if (resolution === 'full') return 1;
  const match = typeof resolution === 'string' ? SAMPLED.exec(resolution) : null;
  const every = match === null ? NaN : Number(match[1]);
  if (!(every >= 1 && every <= MAX_SAMPLE_EVERY)) {
    throw optionsError('resolution', `"full" or "sampled:N" with N from 1 to ${MAX_SAMPLE_EVERY}`, resolution);
  }
  return every;
}

export function resolutionOf(every: number): Resolution {
  return every === 1 ? 'full' : `sampled:${every}`;
}

export function wants(offset: number, every: number): boolean {
  return offset % every === 0;
}

/** The smallest offset at or after `offset` that a consumer of stride `every` wants. */
export function nextWanted(offset: number, every: number): number {
  const rest = offset % every;
  return rest === 0 ? offset : offset + every - rest;
}
