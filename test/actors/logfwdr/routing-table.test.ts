import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DATASETS, type Dataset } from '../../../src/actors/job.js';
import { parseConfig } from '../../../src/actors/logfwdr/config-schema.js';
import { RoutingTable, type RoutedJob } from '../../../src/actors/logfwdr/routing-table.js';
import { job } from './fixtures.js';

/** The definition: scan every job for every question. */
class NaiveTable {
  constructor(private readonly jobs: readonly RoutedJob[]) {}
  private routed(): RoutedJob[] {
    return this.jobs.filter((j) => j.enabled !== false);
  }
  jobsFor(dataset: Dataset, zone: number): string[] {
    return this.routed()
      .filter((j) => j.dataset === dataset && j.zones.includes(zone))
      .map((j) => j.id);
  }
  zones(dataset: Dataset): Set<number> {
    return new Set(this.routed().filter((j) => j.dataset === dataset).flatMap((j) => [...j.zones]));
  }
}

// A small zone pool, so jobs share zones often.
const ZONES = 40;
const arbitraryJobs = fc.uniqueArray(
  fc.record({
    id: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,6}$/),
    dataset: fc.constantFrom(...DATASETS),
    zones: fc.uniqueArray(fc.integer({ min: 1, max: ZONES }), { minLength: 1, maxLength: 12 }),
    enabled: fc.option(fc.boolean(), { nil: undefined }),
  }),
  { selector: (j) => j.id, maxLength: 25 },
);

describe('RoutingTable', () => {
  it('answers as a scan of every job would (property)', () => {
    fc.assert(
      fc.property(arbitraryJobs, (jobs) => {
        const table = RoutingTable.fromJobs(jobs);
        const naive = new NaiveTable(jobs);
        const routed = jobs.filter((j) => j.enabled !== false);
        expect(table.jobIds).toEqual(routed.map((j) => j.id));
        expect(table.routeCount).toBe(routed.reduce((n, j) => n + j.zones.length, 0));
        let size = 0;
        for (const dataset of DATASETS) {
          const zones = naive.zones(dataset);
          size += zones.size;
          expect(new Set(table.zones(dataset))).toEqual(zones);
          expect(table.zoneCount(dataset)).toBe(zones.size);
          // Zones beyond the pool, and 0, are never configured.
          for (let zone = 0; zone <= ZONES + 1; zone++) {
            expect(table.jobsFor(dataset, zone)).toEqual(naive.jobsFor(dataset, zone));
            expect(table.isConfigured(dataset, zone)).toBe(naive.jobsFor(dataset, zone).length > 0);
          }
        }
        expect(table.size).toBe(size);
        for (const j of jobs) expect(table.hasJob(j.id)).toBe(j.enabled !== false);
      }),
      { numRuns: 300 },
    );
  });

  it('returns the same frozen array on every lookup, and shares it between zones with the same jobs', () => {
    const table = RoutingTable.fromJobs([
      { id: 'a', dataset: 'http_requests', zones: [1, 2, 3] },
      { id: 'b', dataset: 'http_requests', zones: [2, 3, 4] },
    ]);
    const first = table.jobsFor('http_requests', 2);
    expect(first).toEqual(['a', 'b']);
    expect(table.jobsFor('http_requests', 2)).toBe(first);
    expect(table.jobsFor('http_requests', 3)).toBe(first);
    expect(table.jobsFor('http_requests', 1)).not.toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => (first as string[]).push('c')).toThrow(TypeError);
    const none = table.jobsFor('firewall_events', 2);
    expect(none).toEqual([]);
    expect(table.jobsFor('http_requests', 99)).toBe(none);
    expect(Object.isFrozen(none)).toBe(true);
  });

  it('is immutable', () => {
    const table = RoutingTable.fromJobs([{ id: 'a', dataset: 'http_requests', zones: [1] }]);
    expect(Object.isFrozen(table)).toBe(true);
    expect(Object.isFrozen(table.jobIds)).toBe(true);
    expect(() => {
      (table as { size: number }).size = 0;
    }).toThrow(TypeError);
  });

  it('is built from a parsed config, routing only enabled jobs, a zone of several jobs in config order', () => {
    const config = parseConfig(
      {
        jobs: [
          job('siem', [10, 20]),
          job('paused', [10, 30], { enabled: false }),
          job('r2', [20], { dataset: 'firewall_events' }),
          job('archive', [10]),
        ],
      },
      'test',
    );
    const table = RoutingTable.fromConfig(config);
    expect(table.jobIds).toEqual(['siem', 'r2', 'archive']);
    expect(table.jobsFor('http_requests', 10)).toEqual(['siem', 'archive']);
    expect(table.jobsFor('http_requests', 20)).toEqual(['siem']);
    expect(table.isConfigured('http_requests', 30)).toBe(false);
    expect(table.isConfigured('firewall_events', 20)).toBe(true);
    expect(table.isConfigured('firewall_events', 10)).toBe(false);
    expect(table.size).toBe(3);
    expect(table.routeCount).toBe(4);
  });

  it('has an empty table', () => {
    const table = RoutingTable.EMPTY;
    expect(table.size).toBe(0);
    expect(table.jobIds).toEqual([]);
    expect(table.isConfigured('http_requests', 1)).toBe(false);
    expect([...table.zones('http_requests')]).toEqual([]);
  });

  it('holds a hundred thousand zones of one job in one shared array', () => {
    const zones = Array.from({ length: 100_000 }, (_, i) => i + 1);
    const table = RoutingTable.fromJobs([{ id: 'big', dataset: 'http_requests', zones }]);
    expect(table.size).toBe(100_000);
    expect(table.jobsFor('http_requests', 1)).toBe(table.jobsFor('http_requests', 100_000));
  });
});
