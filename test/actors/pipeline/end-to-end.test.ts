/**
 * End to end, exact: generated events through every real stage (one worker each) to an
 * object-store directory; every object is read back, decompressed and parsed, and each configured
 * job's events must be there exactly once, filtered and field-selected as configured. The expected
 * set is recomputed here from the generator's seed, independently of the pipeline (exact.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { E2E_GENERATOR, e2eJobs, expectExactDelivery } from './exact.js';

const EVENTS = Number(process.env.SEATBELT_E2E_EVENTS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'seatbelt-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(`end to end: ${EVENTS.toLocaleString('en')} generated events to the object store`, () => {
  it('delivers every configured job\'s events exactly once, filtered and field-selected, and the ledger balances', async () => {
    const jobs = e2eJobs(dir);
    const pipeline = createPipeline({
      config: { jobs },
      generator: { ...E2E_GENERATOR, limit: EVENTS },
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
    expectExactDelivery(jobs, dir, produced, pipeline.ledger.snapshot());
    expect(pipeline.ledger.balanced()).toBe(true);
    expect(pipeline.ledger.totals().inFlight).toBe(0);
  });
});
