import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Pool } from '../../src/runtime/pool.js';

const TASKS = new URL('./fixtures/gzip.task.ts', import.meta.url);

describe('pool', () => {
  it('runs CPU work on its threads and returns the result', async () => {
    const pool = new Pool({ module: TASKS, maxThreads: 2 });
    try {
      const input = new TextEncoder().encode('{"ClientIP":"192.0.2.1"}\n'.repeat(1000));
      const outputs = await Promise.all(Array.from({ length: 8 }, () => pool.run<Uint8Array>(input)));
      for (const out of outputs) expect(new Uint8Array(gunzipSync(out))).toEqual(input);
      expect(pool.stats().completed).toBe(8);
    } finally {
      await pool.close();
    }
  });

  it('refuses work past its bounded queue instead of piling it up', async () => {
    const pool = new Pool({ module: TASKS, name: 'slow', maxThreads: 1, maxQueue: 2 });
    try {
      const accepted = [pool.run(300), pool.run(1), pool.run(1)];
      await new Promise((r) => setTimeout(r, 50));
      await expect(pool.run(1)).rejects.toMatchObject({ code: 'ERR_POOL_FULL' });
      expect(await Promise.all(accepted)).toEqual([300, 1, 1]);
    } finally {
      await pool.close();
    }
  });

  it('refuses a pool with no threads or an unbounded queue', () => {
    expect(() => new Pool({ module: TASKS, maxThreads: 0 })).toThrow(/maxThreads must be an integer from 1 to 4096, got 0/);
    expect(() => new Pool({ module: TASKS, maxQueue: Infinity })).toThrow(/maxQueue must be an integer/);
  });
});
