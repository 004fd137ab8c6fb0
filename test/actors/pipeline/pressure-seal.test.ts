/**
 * Buftee near its byte budget makes Logpush seal objects before their interval: with a 300-s
 * upload interval (objects due after 75 s at the earliest) and a 2 MiB budget, ~5 MB of events
 * go in, and all but what fits under the soft level (80%: ~1.6 MiB) reach the object store within
 * seconds (while Buftee is at soft pressure, every tick of Logpush seals the objects due within its
 * horizon, set here past them all). The rest
 * is sealed by the drain at stop; each event lands exactly once, the ledger balanced. Without the
 * pressure seals nothing is written before the interval ends, and Buftee, at its budget, blocks
 * the ingest until then.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { linesOf, readObjects } from './helpers.js';
import { checkSealAhead } from '../../../src/actors/logpush/logpush.actor.js';

const dir = mkdtempSync(join(tmpdir(), 'seatbelt-pressure-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PAD = 'x'.repeat(500);

describe("Buftee's pressure seals Logpush's objects early", () => {
  it('delivers within seconds under a 300-s interval what passes 80% of Buftee\'s byte budget', async () => {
    const jobs = [1, 2, 3, 4].map((zone) => ({
      id: `job-${zone}`,
      dataset: 'http_requests' as const,
      zones: [zone],
      output_options: { field_names: ['RayID', 'ZoneID'] },
      compression: 'none' as const,
      max_upload_interval_seconds: 300,
      destination: { type: 'object-store' as const, directory: dir },
    }));
    const pipeline = createPipeline({
      config: { jobs },
      buftee: { limits: { maxTotalBytes: 2 << 20, maxBytesPerBuffer: 2 << 20 } },
      // The horizon starts past every object's due time (at least 75 s: a quarter interval).
      logpush: { pressureSealAheadMs: 300_000 },
      supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
    });
    await pipeline.start();
    const total = 10_000;
    try {
      const started = Date.now();
      for (let i = 0; i < total; i += 250) {
        const events = Array.from({ length: 250 }, (_, k) => ({ ZoneID: 1 + ((i + k) % 4), RayID: `ray-${i + k}`, EdgeStartTimestamp: Date.now() * 1e6, Pad: PAD }));
        await pipeline.ingest('http_requests', events);
      }
      let early = 0;
      while (Date.now() - started < 30_000 && early < 4000) {
        await sleep(100);
        early = pipeline.ledger.totals().delivered;
      }
      // Objects are due 75 s after they opened at the earliest: only pressure seals write these.
      expect(early).toBeGreaterThanOrEqual(4000);
      const stats = await pipeline.tree.stats(2000);
      const logpush = stats.find((s) => s.id === 'logpush')!.actor as { pressureSeals: number };
      expect(logpush.pressureSeals).toBeGreaterThan(0);
    } finally {
      await pipeline.stop();
    }
    const totals = pipeline.ledger.totals();
    expect(totals.ingested).toBe(total);
    expect(totals.delivered).toBe(total);
    {
      const rays = readObjects(dir).flatMap((o) => linesOf(o).map((l) => (JSON.parse(l) as { RayID: string }).RayID));
      expect(rays).toHaveLength(total);
      expect(new Set(rays).size).toBe(total);
    }
  }, 60_000);

  it('refuses a horizon that is not a number of ms above 0 and at most 300 s', () => {
    expect(checkSealAhead(1000)).toBe(1000);
    expect(checkSealAhead(300_000)).toBe(300_000);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 300_001]) expect(() => checkSealAhead(bad)).toThrow(/pressureSealAheadMs/);
  });
});
