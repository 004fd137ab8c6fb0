/**
 * `stats().stages[id].restarts` is the supervisor's count of that stage's restarts, whatever the
 * stage reports of itself: Buftee's own stats once had a `restarts` field (the Logpush HELLOs it
 * answered) that hid the supervisor's, so a run with no crash read one restart, and `seatbelt
 * run`'s live block summed it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { defaultJobs } from '../../../src/actors/defaults.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-restarts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the stages' restart counts in stats()", () => {
  it('read 0 for every stage of a run without a crash, and 1 for Buftee once it was killed and restarted', async () => {
    const pipeline = createPipeline({
      config: { jobs: defaultJobs({ zones: 20, jobs: 5, directory: root, compression: 'none' }) },
      generator: { zones: 20, seed: 1, limit: 2000, mix: { http_requests: 1 } },
      supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
      log: { level: 'silent' },
    });
    await pipeline.start();
    try {
      const before = await until(() => pipeline.stats(), (s) => s.totals.delivered + s.lost >= 2000, 30_000);
      for (const [id, stage] of Object.entries(before.stages)) expect({ id, restarts: stage.restarts }).toEqual({ id, restarts: 0 });
      // Buftee's own count of the HELLOs it answered is still there, under its own name.
      expect(before.stages.buftee!.logpushHellos).toBe(1);

      await pipeline.tree.kill('buftee');
      const after = await until(() => pipeline.stats(), (s) => s.stages.buftee?.restarts === 1, 15_000);
      expect(after.stages.logpush!.restarts).toBe(0);
      expect(after.stages.logreceiver!.restarts).toBe(0);
      expect(after.balanced).toBe(true);
    } finally {
      await pipeline.stop();
    }
  });
});
