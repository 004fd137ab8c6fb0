/**
 * End to end, exact: generated events through every real stage (one worker each) to an
 * object-store directory; every object is read back, decompressed and parsed, and each configured
 * job's events must be there exactly once, filtered and field-selected as configured. The expected
 * set is recomputed here from the generator's seed, independently of the pipeline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import type { JobConfig } from '../../../src/actors/job.js';
import { expectedEvents, type EdgeGeneratorOptions } from '../../../src/actors/sources/edge-generator.js';
import { linesOf, readObjects } from './helpers.js';

const EVENTS = Number(process.env.SEATBELT_E2E_EVENTS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'seatbelt-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const jobs: JobConfig[] = [
  {
    id: 'all-top',
    dataset: 'http_requests',
    zones: range(1, 40),
    output_options: { field_names: ['RayID', 'ZoneID', 'EdgeStartTimestamp'] },
    compression: 'gzip',
    max_upload_records: 20_000,
    destination: { type: 'object-store', directory: dir },
  },
  {
    id: 'filtered',
    dataset: 'http_requests',
    zones: [1, 2, 3, 7, 11, 500],
    filter: { where: { or: [{ key: 'ZoneID', operator: 'in', value: [1, 3] }, { key: 'ZoneID', operator: 'geq', value: 11 }] } },
    output_options: { field_names: ['ZoneID', 'RayID'] },
    compression: 'none',
    destination: { type: 'object-store', directory: dir },
  },
  {
    id: 'firewall-csv',
    dataset: 'firewall_events',
    zones: range(1, 100),
    output_options: { field_names: ['RayID', 'ZoneID', 'Action'], output_type: 'csv' },
    compression: 'gzip',
    destination: { type: 'object-store', directory: dir },
  },
];

const zoneFilter: Record<string, (zone: number) => boolean> = {
  'all-top': () => true,
  filtered: (z) => z === 1 || z === 3 || z >= 11,
  'firewall-csv': () => true,
};

describe(`end to end: ${EVENTS.toLocaleString('en')} generated events to the object store`, () => {
  it('delivers every configured job\'s events exactly once, filtered and field-selected, and the ledger balances', async () => {
    const generator: EdgeGeneratorOptions = { zones: 40_000, seed: 42 };
    const pipeline = createPipeline({
      config: { jobs },
      generator: { ...generator, limit: EVENTS },
      supervisor: { onRootFailure: 'emit', log: { level: 'warn' } },
    });
    await pipeline.start();
    for (;;) {
      const stats = await pipeline.stats();
      if ((stats.stages.source?.sent as number | undefined) === EVENTS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const produced = (await pipeline.stats()).stages.source!.produced as Record<string, number>;
    const clean = await pipeline.stop();
    expect(clean).toBe(true);

    const expected = new Map<string, string[]>(jobs.map((j) => [j.id, []]));
    for (const e of expectedEvents(generator, produced)) {
      for (const job of jobs) {
        if (job.dataset === e.dataset && job.zones.includes(e.zoneId) && zoneFilter[job.id]!(e.zoneId)) expected.get(job.id)!.push(`${e.rayId}:${e.zoneId}`);
      }
    }

    const got = new Map<string, string[]>(jobs.map((j) => [j.id, []]));
    for (const object of readObjects(dir)) {
      const job = jobs.find((j) => j.id === object.job)!;
      expect(job).toBeDefined();
      expect(object.key).toMatch(new RegExp(`^${job.id}/\\d{8}/\\d{8}T\\d{6}Z_\\d{8}T\\d{6}Z_\\d+\\.log${job.compression === 'gzip' ? '\\.gz' : ''}$`));
      const lines = linesOf(object);
      if (job.output_options.output_type === 'csv') {
        expect(lines.shift()).toBe('RayID,ZoneID,Action');
        for (const line of lines) {
          const [ray, zone, action] = line.split(',');
          expect(action).toMatch(/^[a-z_]+$/);
          got.get(job.id)!.push(`${ray}:${zone}`);
        }
      } else {
        for (const line of lines) {
          const event = JSON.parse(line) as Record<string, unknown>;
          expect(Object.keys(event)).toEqual(job.output_options.field_names);
          got.get(job.id)!.push(`${event.RayID as string}:${event.ZoneID as number}`);
        }
      }
    }
    const stats = pipeline.ledger.snapshot();
    if (process.env.SEATBELT_E2E_DEBUG) console.log(JSON.stringify(stats), [...got].map(([k, v]) => [k, v.length]), [...expected].map(([k, v]) => [k, v.length]), readObjects(dir).map((o) => [o.key, linesOf(o).length]));
    for (const job of jobs) {
      const want = expected.get(job.id)!;
      expect(want.length).toBeGreaterThan(0);
      const have = got.get(job.id)!;
      expect(have.length).toBe(want.length);
      expect(new Set(have).size).toBe(have.length);
      expect([...have].sort()).toEqual([...want].sort());
      const entry = stats[job.id]!;
      expect(entry.delivered).toBe(want.length);
      expect(entry.inFlight).toBe(0);
      expect(entry.ingested).toBe(entry.delivered + Object.values(entry.dropped).reduce((a, b) => a + b, 0));
    }
    expect(stats.filtered!.dropped.filtered).toBeGreaterThan(0);
    expect(pipeline.ledger.balanced()).toBe(true);
    expect(pipeline.ledger.totals().inFlight).toBe(0);
  });
});
