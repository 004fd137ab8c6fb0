/**
 * The job table: a config's jobs encoded once into shared memory. Round trips (property), the slot
 * index, change detection by bytes, and a real worker thread reading the same memory (no clone).
 */
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JobTable, isJobTableHandle } from '../../src/actors/job-table.js';
import type { JobConfig } from '../../src/actors/job.js';
import { eachJob, enabledJobs } from '../../src/actors/stage-config.js';
import { RoutingIndex } from '../../src/actors/routing-index.js';
import { RoutingTable } from '../../src/actors/logfwdr/routing-table.js';
import { DATASETS } from '../../src/actors/job.js';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

function job(id: string, zones: number[], extra: Partial<JobConfig> = {}): JobConfig {
  return { id, dataset: 'http_requests', zones, output_options: { field_names: ['RayID', 'ZoneID'] }, destination: { type: 'object-store', directory: '/tmp/x' }, ...extra };
}

const arbJob = fc.record({
  id: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
  zones: fc.array(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { maxLength: 20 }),
  enabled: fc.option(fc.boolean(), { nil: undefined }),
  sample: fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }), { nil: undefined }),
  overflow: fc.option(fc.constantFrom('block' as const, 'drop_oldest' as const, 'drop_newest' as const), { nil: undefined }),
  uri: fc.string({ maxLength: 30 }),
});

describe('JobTable', () => {
  it('round-trips every job with its slot, in order, and indexes jobs by slot (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbJob, { selector: (j) => j.id, maxLength: 40 }), fc.integer({ min: 0, max: 50 }), (specs, base) => {
        const jobs = specs.map((s) =>
          job(s.id, s.zones, {
            ...(s.enabled === undefined ? {} : { enabled: s.enabled }),
            ...(s.overflow === undefined ? {} : { overflow: s.overflow }),
            output_options: { field_names: ['RayID'], ...(s.sample === undefined ? {} : { sample_rate: s.sample }) },
            filter: { where: { key: 'ClientRequestURI', operator: 'eq', value: s.uri } },
          }),
        );
        // Every other job has no ledger slot: left out of the table.
        const slots = new Map(jobs.map((j, i) => [j.id, i % 2 === 0 ? base + 3 * i : undefined]));
        const table = JobTable.build(jobs, (id) => slots.get(id));
        const kept = jobs.filter((j) => slots.get(j.id) !== undefined);
        expect(table.count).toBe(kept.length);
        expect([...table.jobs()]).toEqual(kept);
        for (const [i, j] of kept.entries()) {
          const slot = slots.get(j.id)!;
          expect(table.slotAt(i)).toBe(slot);
          expect(table.entryOfSlot(slot)).toBe(i);
          expect(table.jobOfSlot(slot)).toEqual(j);
          // Slots next to a job's own belong to no job.
          expect(table.entryOfSlot(slot + 1)).toBe(-1);
        }
        expect(table.entryOfSlot(-1)).toBe(-1);
        const attached = JobTable.attach(table.handle);
        expect([...attached.entries()].map((e) => e.slot)).toEqual(kept.map((j) => slots.get(j.id)));
        expect(enabledJobs(table.handle).map((j) => j.id)).toEqual(kept.filter((j) => j.enabled !== false).map((j) => j.id));
      }),
      { numRuns: 200 },
    );
  });

  it('routes (dataset, zone) to the slots of its enabled jobs, as RoutingTable does by id (property)', () => {
    const arbRouted = fc.record({
      dataset: fc.constantFrom(...DATASETS),
      zones: fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 60 }), fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER)), { minLength: 1, maxLength: 12 }),
      enabled: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(arbRouted, { maxLength: 30 }), (specs) => {
        const jobs = specs.map((s, i) => job(`j${i}`, s.zones, { dataset: s.dataset, enabled: s.enabled }));
        const table = JobTable.build(jobs, (id) => 10 + Number(id.slice(1)));
        const reference = RoutingTable.fromJobs(jobs);
        const routing = JobTable.attach(table.handle).routing;
        expect(routing.jobCount).toBe(reference.jobIds.length);
        expect(routing.routeCount).toBe(reference.routeCount);
        expect(routing.zoneCount).toBe(reference.size);
        const probes = [0, -1, 1.5, 61, 2 ** 33, ...specs.flatMap((s) => s.zones)];
        for (const dataset of [...DATASETS, 'dns_logs']) {
          for (const zone of probes) {
            const expected = DATASETS.includes(dataset as never) && Number.isSafeInteger(zone) && zone > 0 ? reference.jobsFor(dataset as never, zone).map((id) => 10 + Number(id.slice(1))) : [];
            expect(routing.slotsFor(dataset, zone)).toEqual(expected);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('shares one list between zones with the same jobs, and one array per list in a thread', () => {
    const jobs = [job('a', [1, 2, 3]), job('b', [2, 3, 4])];
    const routing = JobTable.build(jobs, (id) => (id === 'a' ? 1 : 2)).routing;
    expect(routing.slotsFor('http_requests', 2)).toEqual([1, 2]);
    expect(routing.slotsFor('http_requests', 2)).toBe(routing.slotsFor('http_requests', 3));
    expect(routing.slotsFor('http_requests', 1)).toEqual([1]);
    expect(routing.slotsFor('firewall_events', 1)).toEqual([]);
    expect(Object.isFrozen(routing.slotsFor('http_requests', 4))).toBe(true);
    // A zone of one job: one [slot] array per slot, whichever slot comes first.
    const wide = JobTable.build([job('c', [7, 8]), job('d', [9])], (id) => (id === 'c' ? 40 : 3)).routing;
    expect(wide.slotsFor('http_requests', 9)).toEqual([3]);
    expect(wide.slotsFor('http_requests', 7)).toEqual([40]);
    expect(wide.slotsFor('http_requests', 8)).toBe(wide.slotsFor('http_requests', 7));
    expect(wide.slotsFor('http_requests', 9)).toBe(wide.slotsFor('http_requests', 9));
  });

  it('tells an unchanged job from a changed, removed or added one by its bytes', () => {
    const a = job('a', [1]);
    const b = job('b', [2]);
    const c = job('c', [3]);
    const slots: Record<string, number> = { a: 1, b: 2, c: 3 };
    const before = JobTable.build([a, b], (id) => slots[id]);
    const after = JobTable.build([{ ...a }, { ...b, zones: [2, 4] }, c], (id) => slots[id]);
    expect(before.sameJob(after, 1)).toBe(true);
    expect(before.sameJob(after, 2)).toBe(false);
    expect(before.sameJob(after, 3)).toBe(false);
    expect(after.sameJob(JobTable.build([a], (id) => slots[id]), 2)).toBe(false);
  });

  it('decodes a job to keep (jobOfSlot) whose strings do not keep its whole payload alive', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapUsed = (): number => {
      for (let i = 0; i < 3; i++) gc();
      return process.memoryUsage().heapUsed;
    };
    const N = 20_000;
    const long = (i: number): string => `a-job-with-a-long-id-${i}`;
    // A payload of ~400 bytes, most of it a destination no stage keeps.
    const jobs = Array.from({ length: N }, (_, i) =>
      job(long(i), [i + 1], { destination: { type: 'http', url: `https://logs.example.com/${'x'.repeat(300)}/${i}` } } as Partial<JobConfig>),
    );
    const table = JobTable.build(jobs, (id) => Number(id.slice(id.lastIndexOf('-') + 1)) + 1);
    const kept: string[] = [];
    const before = heapUsed();
    for (let slot = 1; slot <= N; slot++) {
      const decoded = table.jobOfSlot(slot)!;
      kept.push(decoded.id, decoded.dataset);
    }
    const perJob = (heapUsed() - before) / N;
    expect(kept[2 * 7]).toBe(long(7));
    expect(kept[2 * 7 + 1]).toBe('http_requests');
    // Two strings of their own (or shared): tens of bytes; a view into the decoded payload kept all ~400.
    expect(perJob).toBeLessThan(160);
    expect(table.jobOfSlot(5)).toEqual(jobs[4]);
  });

  it('passes lists through eachJob as they are, and refuses a buffer that is no table', () => {
    const list = [job('a', [1])];
    expect(eachJob(list)).toBe(list);
    expect(isJobTableHandle({ kind: 'job-table', buffer: new ArrayBuffer(16) })).toBe(false);
    const routing = new SharedArrayBuffer(64);
    expect(() => JobTable.attach({ kind: 'job-table', buffer: new SharedArrayBuffer(64), routing })).toThrow(/bad magic/);
    expect(() => JobTable.attach({ kind: 'job-table', buffer: new SharedArrayBuffer(3), routing })).toThrow(/too short/);
    expect(() => new RoutingIndex(routing)).toThrow(/bad magic/);
  });

  it('is read by a worker thread from shared memory', async () => {
    const jobs = Array.from({ length: 5000 }, (_, i) => job(`job-${i}`, [i + 1, i + 100_000]));
    const table = JobTable.build(jobs, (id) => Number(id.slice(4)) + 1);
    const module = pathToFileURL(join(PROJECT_ROOT, 'dist/src/actors/job-table.js')).href;
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(${JSON.stringify(module)}).then(({ JobTable }) => {
        const table = JobTable.attach(workerData.handle);
        const shared = workerData.handle.buffer instanceof SharedArrayBuffer;
        let zones = 0;
        for (const j of table.jobs()) zones += j.zones.length;
        const last = table.jobOfSlot(5000);
        // Shared memory: what the worker writes into a buffer posted alongside, the main thread sees.
        Atomics.store(new Int32Array(workerData.flag), 0, table.count);
        parentPort.postMessage({ count: table.count, zones, last: last && last.id, shared });
      });`;
    const flag = new SharedArrayBuffer(4);
    const worker = new Worker(source, { eval: true, workerData: { handle: table.handle, flag } });
    const reply = await new Promise<{ count: number; zones: number; last: string; shared: boolean }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(reply).toEqual({ count: 5000, zones: 10_000, last: 'job-4999', shared: true });
    expect(Atomics.load(new Int32Array(flag), 0)).toBe(5000);
  });
});
