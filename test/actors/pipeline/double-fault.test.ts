/**
 * Two stages killed together: Buftee, and Logpush before it could notice Buftee's death (the
 * batches it had from the dead Buftee, in objects still open, were then counted by nobody: in
 * flight in the ledger for good). Now Logpush counts what it has from the living Buftee under the
 * ledger's `lent` word, and its successor counts those as `crashed` once it learns (from the RESYNC
 * answering its HELLO) that the Buftee that lent them is dead. The ledger balances to the event and
 * nothing stays in flight.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline, type PipelineStats } from '../../../src/actors/pipeline.js';
import { defaultJobs } from '../../../src/actors/defaults.js';
import { HOLDERS } from '../../../src/actors/ledger.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-double-fault-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until(pipeline: Pipeline, done: (s: PipelineStats) => boolean, timeoutMs: number): Promise<PipelineStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await pipeline.stats();
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out; last totals: ${JSON.stringify(s.totals)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const EVENTS = 20_000;

/** What each holder's word reads, summed over every job: all 0 once everything is delivered or counted. */
function heldTotals(pipeline: Pipeline): Record<string, number> {
  const out: Record<string, number> = {};
  for (const holder of HOLDERS) {
    out[holder] = 0;
    for (let i = 1; i <= 20; i++) out[holder] += pipeline.ledger.held(pipeline.ledger.slotOf(`job-${i}`)!, holder);
  }
  return out;
}
const NOTHING_HELD = Object.fromEntries(HOLDERS.map((h) => [h, 0]));

function pipelineOf(directory: string): Pipeline {
  return createPipeline({
    // Objects stay open for 3 s: Logpush holds batches from Buftee when the kills land.
    config: { jobs: defaultJobs({ zones: 20, jobs: 20, directory, compression: 'none' }).map((j) => ({ ...j, max_upload_interval_seconds: 3 })) },
    generator: { zones: 20, seed: 3, limit: EVENTS, mix: { http_requests: 1 } },
    supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
    log: { level: 'silent' },
  });
}

describe('Buftee and Logpush killed together', () => {
  it('leaves nothing in flight: what the dead Logpush had from the dead Buftee is counted crashed, the rest delivered', async () => {
    const directory = mkdtempSync(join(root, 'both-'));
    const pipeline = pipelineOf(directory);
    await pipeline.start();
    try {
      // Every event in, and Logpush holding some in open objects (none delivered yet: 3 s interval).
      const before = await until(pipeline, (s) => s.totals.ingested >= EVENTS && (s.stages.logpush?.totals as { events?: number } | undefined)?.events! > 0, 30_000);
      expect(before.totals.delivered).toBeLessThan(EVENTS);
      // Both at their next turn: Logpush dies before the new Buftee has even started.
      await Promise.all([pipeline.tree.kill('buftee'), pipeline.tree.kill('logpush')]);
      const after = await until(pipeline, (s) => s.totals.inFlight === 0 && s.stages.logpush?.restarts === 1 && s.stages.buftee?.restarts === 1, 30_000);
      expect(after.balanced).toBe(true);
      expect(after.totals.ingested).toBe(EVENTS);
      // Lost only to the crash, and not all of it: what Buftee had not sent was counted by its successor.
      expect(after.totals.dropped.crashed).toBeGreaterThan(0);
      expect(after.totals.delivered + after.totals.dropped.crashed).toBe(EVENTS);
      // Nobody is left holding anything.
      for (const entry of Object.values(after.ledger)) expect(entry.inFlight).toBe(0);
      expect(heldTotals(pipeline)).toEqual(NOTHING_HELD);
    } finally {
      await pipeline.stop();
    }
  });

  // Alone, neither death loses what Logpush has: Buftee takes back what a dead Logpush had of it,
  // and a Logpush keeps delivering what it had of a dead Buftee (orphans). Either way `lent` ends
  // at 0: let go by Buftee, or moved to Logpush's own word and out as the batches complete. (What
  // a dying Buftee has not sent yet is lost with it, counted crashed: so Buftee is killed once it
  // holds nothing unsent, and Logreceiver nothing unforwarded.)
  it.each(['logpush', 'buftee'] as const)('%s killed alone: nothing counted crashed, nothing left held', async (stage) => {
    const directory = mkdtempSync(join(root, `${stage}-`));
    const pipeline = pipelineOf(directory);
    await pipeline.start();
    try {
      await until(pipeline, (s) => s.totals.ingested >= EVENTS && (s.stages.logpush?.totals as { events?: number } | undefined)?.events! > 0, 30_000);
      if (stage === 'buftee') {
        await until(pipeline, () => {
          const held = heldTotals(pipeline);
          return held.buftee === 0 && held.logreceiver === 0;
        }, 30_000);
      }
      expect(heldTotals(pipeline).lent).toBeGreaterThan(0);
      await pipeline.tree.kill(stage);
      const after = await until(pipeline, (s) => s.totals.delivered >= EVENTS && s.stages[stage]?.restarts === 1, 30_000);
      expect(after.balanced).toBe(true);
      expect(after.totals.inFlight).toBe(0);
      expect(after.totals.dropped.crashed).toBe(0);
      expect(after.totals.delivered).toBe(EVENTS);
      expect(heldTotals(pipeline)).toEqual(NOTHING_HELD);
    } finally {
      await pipeline.stop();
    }
  });

  // Under traffic, pairs of kills at random gaps (0-60 ms, either stage first; seeded): each gap
  // lands somewhere else in the other stage's handover (before it noticed, while it settles, after).
  it('balances to the event after five pairs of kills under traffic, with nothing left in flight or held', async () => {
    const directory = mkdtempSync(join(root, 'pairs-'));
    const limit = 100_000;
    const pipeline = createPipeline({
      config: { jobs: defaultJobs({ zones: 20, jobs: 20, directory, compression: 'none' }).map((j) => ({ ...j, max_upload_interval_seconds: 1 })) },
      generator: { zones: 20, seed: 5, limit, ratePerSecond: 12_000, mix: { http_requests: 1 } },
      supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
      log: { level: 'silent' },
    });
    let seed = 0x2545f491;
    const random = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    await pipeline.start();
    try {
      for (let pair = 0; pair < 5; pair++) {
        await new Promise((r) => setTimeout(r, 600));
        const [first, second] = random() < 0.5 ? (['buftee', 'logpush'] as const) : (['logpush', 'buftee'] as const);
        const gapMs = Math.floor(random() * 60);
        const killed = pipeline.tree.kill(first);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        await Promise.all([killed, pipeline.tree.kill(second)]);
        await until(pipeline, (s) => s.stages.buftee?.restarts === pair + 1 && s.stages.logpush?.restarts === pair + 1, 30_000);
      }
      const after = await until(pipeline, (s) => s.totals.ingested >= limit && s.totals.inFlight === 0, 60_000);
      expect(after.balanced).toBe(true);
      expect(after.totals.ingested).toBe(limit);
      expect(after.totals.delivered + after.totals.dropped.crashed).toBe(limit);
      expect(heldTotals(pipeline)).toEqual(NOTHING_HELD);
    } finally {
      await pipeline.stop();
    }
  });
});
