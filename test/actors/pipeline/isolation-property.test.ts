/**
 * Isolation, as a property over random configs: whatever jobs, zones and filters, no event ever
 * lands in another job's objects, and each job gets exactly the events of its zones that its
 * filter keeps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import type { JobConfig } from '../../../src/actors/job.js';
import { linesOf, readObjects } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-isolation-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const jobArb = fc.record({
  zones: fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 5 }),
  minZone: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
});

describe('isolation between jobs (property, real pipeline)', () => {
  it('never puts an event in another job\'s objects', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(jobArb, { minLength: 2, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 20, maxLength: 300 }),
        async (specs, zonesOfEvents) => {
          const dir = join(root, String(run++));
          const jobs: JobConfig[] = specs.map((s, i) => ({
            id: `job-${i}`,
            dataset: 'http_requests',
            zones: s.zones,
            ...(s.minZone === undefined ? {} : { filter: { where: { and: [{ key: 'ZoneID', operator: 'geq', value: s.minZone }] } } }),
            output_options: { field_names: ['RayID', 'ZoneID'] },
            compression: 'none',
            destination: { type: 'object-store', directory: dir },
          }));
          const pipeline = createPipeline({ config: { jobs }, supervisor: { onRootFailure: 'emit', log: { level: 'silent' } } });
          await pipeline.start();
          const events = zonesOfEvents.map((zone, i) => ({ ZoneID: zone, RayID: `r${i}`, EdgeStartTimestamp: 1e18 + i }));
          await pipeline.ingest('http_requests', events);
          expect(await pipeline.stop()).toBe(true);
          const got = new Map<string, string[]>();
          for (const o of readObjects(dir)) got.set(o.job, [...(got.get(o.job) ?? []), ...linesOf(o).map((l) => (JSON.parse(l) as { RayID: string }).RayID)]);
          specs.forEach((s, i) => {
            const want = events.filter((e) => s.zones.includes(e.ZoneID) && (s.minZone === undefined || e.ZoneID >= s.minZone)).map((e) => e.RayID);
            expect((got.get(`job-${i}`) ?? []).sort()).toEqual(want.sort());
          });
          expect(pipeline.ledger.balanced()).toBe(true);
        },
      ),
      { numRuns: 6 },
    );
  });
});
