/**
 * `seatbelt bench`'s headline figures from a bench's results file: the scale bench's per-event
 * targets (all jobs active, and the hot set with every job's buffer in place), judged as the file
 * says.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benchFigures } from '../src/bench-command.js';

describe('benchFigures(scale)', () => {
  it('reports both per-event ratios against 1.2x and the idle-buffer memory against 1 GiB', () => {
    const data = {
      bytesPerIdleBuffer: { '1000': 349 },
      pipeline: [{ jobs: 1000, ok: true, eventsPerSec: 57_655, cpuUsPerEvent: 26 }],
      targets: {
        idleBuffers: { mb: 516.4 },
        perEventCost: { cpuRatio: 9.63, wallRatio: 11.2 },
        perEventCostHotSet: { toJobs: 100_000, cpuRatio: 1.1 },
      },
    };
    const figures = benchFigures('scale', data);
    const byName = new Map(figures.map((f) => [f.figure, f]));
    expect(byName.get('CPU per event, 100,000 jobs vs 1,000 jobs')).toMatchObject({ value: 9.63, met: false });
    expect(byName.get('CPU per event, 100,000 buffers vs 1,000, traffic on 1,000 jobs')).toMatchObject({ value: 1.1, met: true });
    expect(byName.get('1,000,000 idle buffers (with their config and subscription)')).toMatchObject({ value: 516, met: true });
  });

  it('reads the committed bench/results/scale.json, and an older file without the hot set', () => {
    const committed = JSON.parse(readFileSync(new URL('../bench/results/scale.json', import.meta.url), 'utf8')) as { targets: { perEventCostHotSet: { cpuRatio: number } } };
    const hot = benchFigures('scale', committed).find((f) => f.figure.includes('traffic on 1,000 jobs'));
    expect(hot?.value).toBeCloseTo(committed.targets.perEventCostHotSet.cpuRatio, 1);
    const older = { targets: { perEventCost: { cpuRatio: 12 } } };
    expect(benchFigures('scale', older).some((f) => f.figure.includes('traffic on 1,000 jobs'))).toBe(false);
  });
});
