/**
 * Staged objects in the running pipeline: two jobs with a 300-s interval take ~2.4 MB of lines
 * each. While their objects are open, Logpush holds at most about the spill size of each in memory
 * (stats().openObjects and the seatbelt_logpush_open_object_bytes gauge), the rest sits in their
 * staged files; stop() seals and stores them, every event once (gzip and not), and no temporary
 * file is left. Logpush's janitor removes what a dead writer left in the folder of a job no longer
 * configured (stats().janitor).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { createPipelineMetrics } from '../../../src/actors/pipeline-metrics.js';
import { DEFAULT_SPILL_BYTES } from '../../../src/actors/logpush/upload-batcher.js';
import { linesOf, readObjects } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'seatbelt-staged-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const URI = `/${'u'.repeat(480)}`;
const PER_JOB = 5_000;

describe('staged objects in the pipeline', () => {
  it("holds about the spill size of each open object in memory, the rest staged, and stores every event once at stop", async () => {
    const jobs = (['none', 'gzip'] as const).map((compression, i) => ({
      id: `job-${compression}`,
      dataset: 'http_requests' as const,
      zones: [i + 1],
      output_options: { field_names: ['RayID', 'ZoneID', 'ClientRequestURI'] },
      compression,
      max_upload_interval_seconds: 300,
      destination: { type: 'object-store' as const, directory: dir },
    }));
    // A dead writer's staged file, stale, in the folder of a job that is gone from the config.
    const litter = join(dir, 'job-gone', '.job-gone.1-dead0000-7-1.tmp');
    mkdirSync(join(dir, 'job-gone'));
    writeFileSync(litter, 'x');
    const old = (Date.now() - 31 * 60_000) / 1000;
    utimesSync(litter, old, old);
    const pipeline = createPipeline({ config: { jobs }, supervisor: { onRootFailure: 'emit', log: { level: 'silent' } } });
    await pipeline.start();
    const registry = createPipelineMetrics(pipeline);
    try {
      for (let i = 0; i < 2 * PER_JOB; i += 500) {
        const events = Array.from({ length: 500 }, (_, k) => ({ ZoneID: 1 + ((i + k) % 2), RayID: `ray-${i + k}`, EdgeStartTimestamp: Date.now() * 1e6, ClientRequestURI: URI }));
        await pipeline.ingest('http_requests', events);
      }
      // Lines of ~530 bytes: ~2.6 MB a job, open until the interval ends (300 s) or stop.
      let open = { memoryBytes: 0, stagedBytes: 0 };
      for (let waited = 0; waited < 30_000 && open.stagedBytes < 2 * 2_000_000; waited += 100) {
        await sleep(100);
        open = ((await pipeline.tree.stats(2000)).find((s) => s.id === 'logpush')!.actor as { openObjects: typeof open }).openObjects;
      }
      expect(open.stagedBytes).toBeGreaterThan(2 * 2_000_000);
      expect(open.memoryBytes).toBeGreaterThan(0);
      expect(open.memoryBytes).toBeLessThanOrEqual(2 * 2 * DEFAULT_SPILL_BYTES);
      expect(pipeline.ledger.totals().delivered).toBe(0);
      // The gauge serves the same figures.
      const text = await registry.metrics();
      const memory = /seatbelt_logpush_open_object_bytes\{where="memory"\} (\d+)/.exec(text);
      const staged = /seatbelt_logpush_open_object_bytes\{where="staged"\} (\d+)/.exec(text);
      expect(Number(memory?.[1])).toBeLessThanOrEqual(2 * 2 * DEFAULT_SPILL_BYTES);
      expect(Number(staged?.[1])).toBeGreaterThan(2 * 2_000_000);
      // Each job's folder holds its staged file, and no object yet.
      for (const job of jobs) expect(readdirSync(join(dir, job.id)).filter((n) => n.endsWith('.tmp'))).toHaveLength(1);
      expect(readObjects(dir)).toEqual([]);
      // Logpush's janitor walked the store when it first staged: the litter is gone.
      const janitor = ((await pipeline.tree.stats(2000)).find((s) => s.id === 'logpush')!.actor as { janitor: { passes: number; removed: number } }).janitor;
      expect(janitor).toEqual({ passes: 1, removed: 1 });
      expect(existsSync(litter)).toBe(false);
    } finally {
      expect(await pipeline.stop()).toBe(true);
    }
    const objects = readObjects(dir);
    for (const job of jobs) {
      const rays = objects.filter((o) => o.job === job.id).flatMap(linesOf).map((l) => (JSON.parse(l) as { RayID: string; ClientRequestURI: string }));
      expect(rays).toHaveLength(PER_JOB);
      expect(new Set(rays.map((r) => r.RayID)).size).toBe(PER_JOB);
      expect(rays.every((r) => r.ClientRequestURI === URI)).toBe(true);
      expect(readdirSync(join(dir, job.id)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    expect(pipeline.ledger.balanced()).toBe(true);
    expect(pipeline.ledger.totals().delivered).toBe(2 * PER_JOB);
  });
});
