/**
 * `seatbelt bench`'s headline figures from a bench's results file: the scale bench's per-event
 * targets (all jobs active, and the hot set with every job's buffer in place), judged as the file
 * says; the pipeline bench's targets, and the events lost over all its gzip-off runs.
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

describe('benchFigures(pipeline)', () => {
  it('judges the three targets and counts the events lost in every gzip-off run (--runs)', () => {
    const run = (compression: string, lost: number) => ({ compression, lost });
    const data = {
      eventsPerSec: 401_000,
      eventsPerSecGzip: 250_000,
      latencyP50Ms: 1200,
      latencyP99Ms: 6100,
      peakRssMb: 917,
      maxUploadIntervalSeconds: 5,
      runs: [run('none', 0), run('none', 3), run('none', 0), run('gzip', 7)],
    };
    const byName = new Map(benchFigures('pipeline', data).map((f) => [f.figure, f]));
    expect(byName.get('events/s delivered, gzip off')).toMatchObject({ value: 401_000, met: true });
    expect(byName.get('latency creation → object written, p99')).toMatchObject({ value: 6100, met: false });
    expect(byName.get('peak RSS')).toMatchObject({ value: 917, met: true });
    expect(byName.get('events lost, gzip off')).toMatchObject({ value: 3 });
  });

  it('reads the committed bench/results/pipeline.json', () => {
    const committed = JSON.parse(readFileSync(new URL('../bench/results/pipeline.json', import.meta.url), 'utf8')) as { eventsPerSec: number; runs: { compression: string; lost: number }[] };
    const byName = new Map(benchFigures('pipeline', committed).map((f) => [f.figure, f]));
    expect(byName.get('events/s delivered, gzip off')?.value).toBe(committed.eventsPerSec);
    const lost = committed.runs.filter((r) => r.compression === 'none').reduce((sum, r) => sum + r.lost, 0);
    expect(byName.get('events lost, gzip off')?.value).toBe(lost);
  });
});
