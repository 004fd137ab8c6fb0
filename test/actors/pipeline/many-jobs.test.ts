/**
 * Many jobs, few with traffic: the stages get the config as a shared job table, Buftee admits a job
 * (configured, subscribed) as its first batch comes, Logpush opens a
 * job's delivery only when its first batch comes and closes it again after idleDeliveryMs, keeping
 * its counts; a job that comes back delivers into new objects, never over old ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import type { JobConfig } from '../../../src/actors/job.js';
import { linesOf, readObjects } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-many-jobs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = { onRootFailure: 'emit' as const, log: { level: 'silent' as const } };

function job(i: number, directory: string): JobConfig {
  return {
    id: `job-${i}`,
    dataset: 'http_requests',
    zones: [i],
    output_options: { field_names: ['RayID', 'ZoneID'] },
    compression: 'none',
    max_upload_interval_seconds: 1,
    destination: { type: 'object-store', directory },
  };
}

interface LogpushStats {
  jobCount: number;
  totals: { delivered: number; objects: number };
}

describe('many jobs, few busy', () => {
  it('opens deliveries only for jobs with events and closes idle ones without losing their counts', async () => {
    const dir = join(root, 'lazy');
    const pipeline = createPipeline({
      config: { jobs: Array.from({ length: 20_000 }, (_, i) => job(i + 1, dir)) },
      // One put at a time over all jobs: every object still gets out, in turn.
      logpush: { idleDeliveryMs: 1500, maxConcurrentPuts: 1 },
      supervisor: quiet,
    });
    await pipeline.start();
    const logpush = async (): Promise<LogpushStats> => (await pipeline.tree.find('logpush')!.control.stats(5000)).actor as unknown as LogpushStats;
    const busy = [7, 4242, 19_999];
    const events = (round: number) => busy.flatMap((zone) => Array.from({ length: 50 }, (_, i) => ({ ZoneID: zone, RayID: `r${round}-${zone}-${i}` })));
    expect((await pipeline.ingest('http_requests', events(1))).accepted).toBe(150);
    for (let i = 0; i < 100 && (await logpush()).totals.delivered < 150; i++) await sleep(100);
    const first = await logpush();
    // 20,000 jobs configured; three deliveries exist, and Buftee admitted three jobs.
    expect(first.jobCount).toBe(3);
    const buftee = (await pipeline.tree.find('buftee')!.control.stats(5000)).actor as { configuredJobs: number; subscribedJobs: number };
    expect(buftee).toMatchObject({ configuredJobs: 3, subscribedJobs: 3 });
    expect(first.totals.delivered).toBe(150);
    // Idle past idleDeliveryMs (swept every quarter of it): closed, counts kept.
    for (let i = 0; i < 100 && (await logpush()).jobCount > 0; i++) await sleep(100);
    const idle = await logpush();
    expect(idle.jobCount).toBe(0);
    expect(idle.totals.delivered).toBe(150);
    // Every event of each ingested record had a job: Logfwdr forwarded the records as they came.
    const logfwdr = (await pipeline.tree.find('logfwdr')!.control.stats(5000)).actor as { wholeRecords: number; forwarded: number };
    expect(logfwdr.wholeRecords).toBeGreaterThan(0);
    expect(logfwdr.forwarded).toBe(150);
    // The same jobs again: new deliveries, new objects beside the old.
    expect((await pipeline.ingest('http_requests', events(2))).accepted).toBe(150);
    expect(await pipeline.stop()).toBe(true);
    for (const zone of busy) expect(pipeline.ledger.entry(`job-${zone}`)!.delivered).toBe(100);
    expect(pipeline.ledger.balanced()).toBe(true);
    const objects = readObjects(dir);
    expect(new Set(objects.map((o) => o.job))).toEqual(new Set(busy.map((z) => `job-${z}`)));
    const rays = objects.flatMap(linesOf).map((l) => (JSON.parse(l) as { RayID: string }).RayID);
    expect(rays.length).toBe(300);
    expect(new Set(rays).size).toBe(300);
    for (const zone of busy) expect(objects.filter((o) => o.job === `job-${zone}`).length).toBeGreaterThanOrEqual(2);
  });
});
