/**
 * Logpush staggers each job's first object (JobDelivery's staggerFirstObject, turned on by the
 * actor): jobs that open together are due at firstIntervalFraction(id) of their interval, 0.25-1
 * by a hash of the id, not all at the end of it. Five jobs picked for well-apart fractions get one
 * event each at the same moment; their objects must be written in the order of their fractions,
 * seconds apart. Without the stagger all five are due at the same tick (in no particular order).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { firstIntervalFraction } from '../../../src/actors/logpush/job-delivery.js';

const dir = mkdtempSync(join(tmpdir(), 'seatbelt-stagger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const INTERVAL_S = 6;

/** Five job ids whose fractions lie at least 0.12 apart (0.72 s of a 6-s interval), in rising order. */
function spreadIds(): string[] {
  const picked: { id: string; f: number }[] = [];
  for (let n = 0; picked.length < 5 && n < 10_000; n++) {
    const id = `stagger-${n}`;
    const f = firstIntervalFraction(id);
    if (picked.every((p) => Math.abs(p.f - f) >= 0.12)) picked.push({ id, f });
  }
  expect(picked).toHaveLength(5);
  return picked.sort((a, b) => a.f - b.f).map((p) => p.id);
}

describe("Logpush's first objects", () => {
  it('are written at the fraction of the interval their job ids give, not together', async () => {
    const ids = spreadIds();
    const jobs = ids.map((id, i) => ({
      id,
      dataset: 'http_requests' as const,
      zones: [i + 1],
      output_options: { field_names: ['RayID', 'ZoneID'] },
      compression: 'none' as const,
      max_upload_interval_seconds: INTERVAL_S,
      destination: { type: 'object-store' as const, directory: dir },
    }));
    const pipeline = createPipeline({ config: { jobs }, supervisor: { onRootFailure: 'emit', log: { level: 'silent' } }, log: { level: 'silent' } });
    await pipeline.start();
    // When each job's first object appeared (its file's mtime), by job id.
    const written = new Map<string, number>();
    try {
      // Events stamped now: due by their open time, not by an old event time.
      const events = ids.map((_, i) => ({ ZoneID: i + 1, RayID: `ray-${i}`, EdgeStartTimestamp: Date.now() * 1e6 }));
      expect((await pipeline.ingest('http_requests', events)).accepted).toBe(5);
      for (let i = 0; i < 200 && pipeline.ledger.totals().delivered < 5; i++) await sleep(50);
      expect(pipeline.ledger.totals().delivered).toBe(5);
      for (const id of ids) {
        const days = readdirSync(join(dir, id));
        const files = days.flatMap((d) => readdirSync(join(dir, id, d)).map((f) => join(dir, id, d, f)));
        expect(files).toHaveLength(1);
        written.set(id, statSync(files[0]!).mtimeMs);
      }
    } finally {
      expect(await pipeline.stop()).toBe(true);
    }
    const times = ids.map((id) => written.get(id)!);
    // In the order of their fractions, and spread over seconds (the fractions span at least 0.48 of 6 s).
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[4]! - times[0]!).toBeGreaterThan(1500);
  }, 30_000);
});
