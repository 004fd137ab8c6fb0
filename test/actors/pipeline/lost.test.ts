/** lostIn: the events dropped for a reason no job asked for (PipelineStats.lost, and bench:pipeline's end of a run). */
import { describe, expect, it } from 'vitest';
import { lostIn } from '../../../src/actors/pipeline.js';
import { DROP_REASONS, INTENTIONAL_REASONS, type DropReason } from '../../../src/actors/job.js';

describe('lostIn', () => {
  it('adds every drop reason but the jobs\' own filter and sampling', () => {
    // A power of two per reason: the sum tells exactly which reasons were added.
    const dropped = Object.fromEntries(DROP_REASONS.map((reason, i) => [reason, 2 ** i])) as Record<DropReason, number>;
    const expected = DROP_REASONS.reduce((sum, reason, i) => (INTENTIONAL_REASONS.has(reason) ? sum : sum + 2 ** i), 0);
    expect(lostIn({ ingested: 1e6, delivered: 0, dropped, inFlight: 0 })).toBe(expected);
    expect(INTENTIONAL_REASONS).toEqual(new Set(['filtered', 'sampled']));
    expect(expected).toBe(2 ** DROP_REASONS.length - 1 - 2 ** DROP_REASONS.indexOf('filtered') - 2 ** DROP_REASONS.indexOf('sampled'));
  });
});
