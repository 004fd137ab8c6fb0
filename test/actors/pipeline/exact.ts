/**
 * The exact end-to-end check, shared by the embedded test (end-to-end.test.ts) and the NATS one
 * (nats-end-to-end.test.ts): three jobs (gzip NDJSON, a filtered one, CSV), the expected set
 * recomputed from the generator's seed independently of the pipeline, and every object read back.
 */
import { expect } from 'vitest';
import type { JobConfig } from '../../../src/actors/job.js';
import type { LedgerSnapshot } from '../../../src/actors/ledger.js';
import { expectedEvents, type EdgeGeneratorOptions } from '../../../src/actors/sources/edge-generator.js';
import { linesOf, readObjects } from './helpers.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

export const E2E_GENERATOR: EdgeGeneratorOptions = { zones: 40_000, seed: 42 };

export function e2eJobs(dir: string): JobConfig[] {
  return [
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
}

const zoneFilter: Record<string, (zone: number) => boolean> = {
  'all-top': () => true,
  filtered: (z) => z === 1 || z === 3 || z >= 11,
  'firewall-csv': () => true,
};

/**
 * Checks the objects under `dir` hold each job's expected events exactly once, in the configured
 * format, and that `ledger` (the delivering process's) counts them delivered with nothing in flight.
 */
export function expectExactDelivery(jobs: JobConfig[], dir: string, produced: Record<string, number>, ledger: LedgerSnapshot): void {
  const expected = new Map<string, string[]>(jobs.map((j) => [j.id, []]));
  for (const e of expectedEvents(E2E_GENERATOR, produced)) {
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
  if (process.env.SEATBELT_E2E_DEBUG) console.log(JSON.stringify(ledger), [...got].map(([k, v]) => [k, v.length]), [...expected].map(([k, v]) => [k, v.length]));
  for (const job of jobs) {
    const want = expected.get(job.id)!;
    expect(want.length).toBeGreaterThan(0);
    const have = got.get(job.id)!;
    expect(have.length).toBe(want.length);
    expect(new Set(have).size).toBe(have.length);
    expect([...have].sort()).toEqual([...want].sort());
    const entry = ledger[job.id]!;
    expect(entry.delivered).toBe(want.length);
    expect(entry.inFlight).toBe(0);
    expect(entry.ingested).toBe(entry.delivered + Object.values(entry.dropped).reduce((a, b) => a + b, 0));
  }
  expect(ledger.filtered!.dropped.filtered).toBeGreaterThan(0);
}
