/**
 * generator.paused: the edge generator makes nothing until Pipeline.resumeGenerator(), then runs
 * to its limit (what bench/scale's hot-set run relies on: a warm-up through ingest() first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { defaultJobs } from '../../../src/actors/defaults.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-paused-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a paused generator', () => {
  it('sends nothing until resumed, while ingest() goes through; then runs to its limit', async () => {
    const jobs = defaultJobs({ zones: 50, jobs: 50, directory: root, compression: 'none' }).map((j) => ({ ...j, max_upload_interval_seconds: 1 }));
    const pipeline = createPipeline({
      config: { jobs },
      generator: { zones: 50, seed: 3, limit: 20_000, mix: { http_requests: 1 }, paused: true },
      supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
      log: { level: 'silent' },
    });
    await pipeline.start();
    const sent = async (): Promise<number> => Number((await pipeline.tree.find('source')!.control.stats(5000)).actor.sent);
    try {
      const ingested = await pipeline.ingest('http_requests', Array.from({ length: 50 }, (_, i) => ({ ZoneID: i + 1, RayID: `w${i}` })));
      expect(ingested.accepted).toBe(50);
      for (let i = 0; i < 100 && pipeline.ledger.totals().delivered < 50; i++) await sleep(100);
      expect(pipeline.ledger.totals().delivered).toBe(50);
      // Well past the warm-up's delivery, the generator still waits.
      expect(await sent()).toBe(0);
      pipeline.resumeGenerator();
      for (let i = 0; i < 200 && (await sent()) < 20_000; i++) await sleep(50);
      expect(await sent()).toBe(20_000);
    } finally {
      expect(await pipeline.stop()).toBe(true);
    }
    expect(pipeline.ledger.totals().delivered).toBe(20_050);
  });
});
