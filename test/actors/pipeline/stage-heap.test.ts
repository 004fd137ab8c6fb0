/**
 * Every stage runs with a small V8 young generation (STAGE_YOUNG_GENERATION_MB): Node's default of
 * 48 MiB a thread, grown to the full size by every busy stage, was ~100 MiB of bench:pipeline's
 * peak RSS. The thread's heap limit is its old plus its young generation, so it tells.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline, STAGE_YOUNG_GENERATION_MB } from '../../../src/actors/pipeline.js';
import { defaultJobs } from '../../../src/actors/defaults.js';
import { CHILD_DEFAULTS } from '../../../src/runtime/child-spec.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-heap-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the stages' heaps", () => {
  it('every stage thread, the generator too, has the small young generation', async () => {
    expect(STAGE_YOUNG_GENERATION_MB).toBeLessThan(48);
    const pipeline = createPipeline({
      config: { jobs: defaultJobs({ zones: 20, jobs: 5, directory: root, compression: 'none' }) },
      generator: { zones: 20, seed: 1, limit: 1000, mix: { http_requests: 1 } },
      supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
      log: { level: 'silent' },
    });
    await pipeline.start();
    try {
      const stats = await pipeline.tree.stats(5000);
      expect(stats.map((s) => s.id).sort()).toEqual(['buftee', 'logfwdr', 'logpush', 'logreceiver', 'source']);
      for (const s of stats) expect({ id: s.id, limitMb: s.heapLimitBytes / 2 ** 20 }).toEqual({ id: s.id, limitMb: CHILD_DEFAULTS.maxOldGenerationSizeMb + STAGE_YOUNG_GENERATION_MB });
    } finally {
      expect(await pipeline.stop()).toBe(true);
    }
  });

  it('refuses an initial old space outside 0-256 MiB before anything starts', () => {
    for (const bad of [-1, 257, 1.5]) {
      expect(() =>
        createPipeline({ config: { jobs: [] }, stageInitialOldSpaceMb: bad, supervisor: { onRootFailure: 'emit', log: { level: 'silent' } }, log: { level: 'silent' } }),
      ).toThrow(/stageInitialOldSpaceMb must be an integer number of MiB from 0 to 256/);
    }
  });
});
