/**
 * Buftee's stats say which limit it waited on: `blockedMsByLimit` splits `blockedMs` between a job
 * at its own budget (maxBytesPerBuffer) and Buftee at its total (maxTotalBytes). Each pipeline here
 * has one limit far below the other and objects due only after minutes, so Buftee fills and waits
 * on that limit alone. Whatever it gives up after blockMs is counted `buffer_full`, and the ledger
 * balances at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import type { BufteeOptions } from '../../../src/actors/buftee/limits.js';

const dir = mkdtempSync(join(tmpdir(), 'seatbelt-blocked-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PAD = 'x'.repeat(500);
/** Each pipeline's own object-store folder. */
let runs = 0;

async function blockedOn(limits: BufteeOptions['limits'], jobCount: number): Promise<Record<string, number>> {
  const run = ++runs;
  const jobs = Array.from({ length: jobCount }, (_, i) => ({
    id: `job-${i + 1}`,
    dataset: 'http_requests' as const,
    zones: [i + 1],
    output_options: { field_names: ['RayID', 'ZoneID'] },
    compression: 'none' as const,
    max_upload_interval_seconds: 300,
    destination: { type: 'object-store' as const, directory: join(dir, `run-${run}`) },
  }));
  const pipeline = createPipeline({
    config: { jobs },
    buftee: { limits },
    supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
    log: { level: 'silent' },
  });
  await pipeline.start();
  const total = 4000;
  let byLimit: Record<string, number> = {};
  try {
    for (let i = 0; i < total; i += 200) {
      const events = Array.from({ length: 200 }, (_, k) => ({ ZoneID: 1 + ((i + k) % jobCount), RayID: `ray-${i + k}`, EdgeStartTimestamp: Date.now() * 1e6, Pad: PAD }));
      await pipeline.ingest('http_requests', events);
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      const buftee = (await pipeline.stats()).stages.buftee as { blockedMs: number; blockedMsByLimit: Record<string, number> };
      byLimit = buftee.blockedMsByLimit;
      if (buftee.blockedMs >= 500 || Date.now() > deadline) {
        // Every millisecond of the wait is put down to a limit.
        const sum = Object.values(byLimit).reduce((a, b) => a + b, 0);
        expect(sum).toBeGreaterThanOrEqual(buftee.blockedMs - 1e-6);
        break;
      }
      await sleep(100);
    }
  } finally {
    await pipeline.stop();
  }
  const totals = pipeline.ledger.totals();
  expect(totals.ingested).toBe(total);
  expect(totals.inFlight).toBe(0);
  // Nothing refused for another reason (a batch over a limit would be oversized, not waited for).
  const others = Object.entries(totals.dropped).filter(([reason, n]) => reason !== 'buffer_full' && n !== 0);
  expect(others).toEqual([]);
  expect(totals.delivered + totals.dropped.buffer_full).toBe(total);
  return byLimit;
}

describe("Buftee's blocked time, by limit", () => {
  it("puts a job's wait at its own budget down to maxBytesPerBuffer", async () => {
    const byLimit = await blockedOn({ maxBytesPerBuffer: 512 << 10, maxTotalBytes: 64 << 20 }, 1);
    expect(byLimit.maxBytesPerBuffer).toBeGreaterThanOrEqual(500);
    expect(byLimit.maxTotalBytes).toBe(0);
    expect(Object.keys(byLimit).sort()).toEqual(['idleTtlMs', 'maxBuffers', 'maxBuffersPerPrefix', 'maxBytesPerBuffer', 'maxNewBuffersPerSecond', 'maxTotalBytes']);
  }, 60_000);

  it("puts Buftee's wait at its byte budget down to maxTotalBytes", async () => {
    const byLimit = await blockedOn({ maxBytesPerBuffer: 64 << 20, maxTotalBytes: 1 << 20 }, 4);
    expect(byLimit.maxTotalBytes).toBeGreaterThanOrEqual(500);
    expect(byLimit.maxBytesPerBuffer).toBe(0);
  }, 60_000);
});
