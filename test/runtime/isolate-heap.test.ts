import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_INITIAL_OLD_SPACE_MB, checkInitialOldSpaceMb, setInitialOldSpaceForNewIsolates } from '../../src/runtime/isolate-heap.js';
import { workerModuleUrl } from '../../src/runtime/worker-module.js';

/** Full GCs of a promotion-heavy worker in a process of its own, with the initial old space `mb`. */
function majorGcs(mb: number): number {
  const script = fileURLToPath(workerModuleUrl(new URL('./fixtures/isolate-heap.script.ts', import.meta.url)));
  const run = spawnSync(process.execPath, [script, String(mb)], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  return Number(run.stdout.trim());
}

describe('the initial old space of new isolates', () => {
  it('takes 0 to 256 MiB and refuses anything else with a message naming the value', () => {
    expect(checkInitialOldSpaceMb(0, 'x')).toBe(0);
    expect(checkInitialOldSpaceMb(MAX_INITIAL_OLD_SPACE_MB, 'x')).toBe(256);
    for (const bad of [-1, 1.5, 257, Number.NaN, '64', null]) {
      expect(() => checkInitialOldSpaceMb(bad, 'pipeline: stageInitialOldSpaceMb')).toThrow(/pipeline: stageInitialOldSpaceMb must be an integer number of MiB from 0 to 256/);
    }
    expect(() => setInitialOldSpaceForNewIsolates(-5)).toThrow(RangeError);
  });

  it('makes a worker started after it run fewer full GCs (one process each: the flag is process-wide)', () => {
    const without = majorGcs(0);
    const withFlag = majorGcs(64);
    // ~12 against 5-6 on this machine; the ring keeps the same live data either way.
    expect(without).toBeGreaterThanOrEqual(6);
    expect(withFlag).toBeLessThanOrEqual(Math.floor(without * 0.7));
  }, 120_000);
});
