/**
 * bench/scale (`npm run bench:scale`, `-- --quick` for a smoke run): how Seatbelt scales with the
 * number of jobs, one buffer each.
 *
 * - Idle buffers: the heap of 1,000 / 10,000 / 100,000 / 1,000,000 idle Buftee buffers
 *   (idle-buffers.ts), bytes per buffer and per job. Target: 1,000,000 idle buffers in under 1 GiB.
 * - Pipeline: events/s and CPU µs per event through every stage with 1,000 / 10,000 / 100,000 /
 *   1,000,000 jobs (pipeline-jobs.ts), every event routed. Target: per-event cost at 100,000 jobs
 *   within 1.2x of that at 1,000 jobs (CPU µs per event, every thread: on a shared 2-core machine
 *   CPU time moves less than wall time; the wall-time ratio is reported beside it).
 *
 * - Hot set: the same pipeline with 1,000 / 10,000 / 100,000 jobs whose buffers all exist (a
 *   warm-up gave each job one event and one object) and the traffic on 1,000 of them: the
 *   per-event cost with J buffers in place, apart from the per-object and per-batch work that grows
 *   with the number of jobs that have traffic (every job gets its own objects each interval).
 *
 * Each measurement runs in a fresh process; one that fails or runs out of time is reported as such.
 * Prints a table and writes bench/results/scale.json (scale.quick.json with --quick).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { choosePlan } from '../plan.js';
import { runChild } from './child.js';
import type { IdleBuffersResult } from './idle-buffers.js';
import type { PipelineJobsResult } from './pipeline-jobs.js';

interface Plan {
  idleBuffers: number[];
  /** Job counts run with every job's buffer in place and the traffic on `hot` of them. */
  hotJobs: number[];
  hot: number;
  /**
   * Events of each hot-set run: long enough (~30 s at 1,000 hot jobs) that the costs paid once per
   * run (stop() at 100,000 jobs: its drain, the last reconfigure, the workers' exit) are not a
   * large part of the per-event figure, as they were in a 6 s window of 300,000 events.
   */
  hotEvents: number;
  /** Job counts run through the pipeline; `skipJobs` are listed in the results as not run. */
  pipelineJobs: number[];
  skipJobs: number[];
  events: number;
  intervalSeconds: number;
  /** Per run in a child; a pipeline of 1,000,000 jobs gets `bigTimeoutMs`. */
  timeoutMs: number;
  bigTimeoutMs: number;
  resultsFile: string;
}

const FULL: Plan = {
  idleBuffers: [1_000, 10_000, 100_000, 1_000_000],
  pipelineJobs: [1_000, 10_000, 100_000, 1_000_000],
  hotJobs: [1_000, 10_000, 100_000],
  hot: 1_000,
  hotEvents: 1_500_000,
  skipJobs: [],
  events: 300_000,
  intervalSeconds: 5,
  timeoutMs: 600_000,
  bigTimeoutMs: 600_000,
  resultsFile: 'scale.json',
};
const QUICK: Plan = {
  idleBuffers: [1_000, 10_000, 100_000, 1_000_000],
  pipelineJobs: [1_000, 10_000, 100_000],
  hotJobs: [1_000, 10_000],
  hot: 1_000,
  hotEvents: 60_000,
  skipJobs: [1_000_000],
  events: 60_000,
  intervalSeconds: 2,
  timeoutMs: 180_000,
  bigTimeoutMs: 180_000,
  resultsFile: 'scale.quick.json',
};

const RATIO_FROM = 1_000;
const RATIO_TO = 100_000;
const RATIO_TARGET = 1.2;
const IDLE_TARGET_BUFFERS = 1_000_000;
const IDLE_TARGET_MB = 1024;

type IdleRow = { buffers: number; ok: true; seconds: number } & IdleBuffersResult;
type PipelineRow = { jobs: number; ok: true; wallSeconds: number } & PipelineJobsResult;
type Failed = { ok: false; error: string; seconds: number };
type IdleEntry = IdleRow | ({ buffers: number } & Failed);
type PipelineEntry = PipelineRow | ({ jobs: number } & Failed) | { jobs: number; ok: false; skipped: string };

const plan = choosePlan(process.argv.slice(2), FULL, QUICK);
const started = performance.now();
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const idle: IdleEntry[] = [];
for (const n of plan.idleBuffers) {
  process.stderr.write(`idle buffers: ${fmt(n)}...\n`);
  const outcome = await runChild<IdleBuffersResult>('idle-buffers', [String(n)], { nodeArgs: ['--expose-gc'], timeoutMs: plan.timeoutMs });
  if (outcome.ok) {
    idle.push({ ...outcome.result, buffers: n, ok: true, seconds: Number(outcome.seconds.toFixed(1)) });
    process.stderr.write(`  ${fmt(outcome.result.bytesPerBuffer)} B/buffer, ${fmt(outcome.result.bytesPerJob)} B/job, ${fmt(outcome.result.totalMb, 1)} MiB\n`);
  } else {
    idle.push({ buffers: n, ok: false, error: outcome.error, seconds: Number(outcome.seconds.toFixed(1)) });
    process.stderr.write(`  failed: ${outcome.error}\n`);
  }
}

const pipeline: PipelineEntry[] = [];
for (const jobs of [...plan.pipelineJobs, ...plan.skipJobs].sort((a, b) => a - b)) {
  if (plan.skipJobs.includes(jobs)) {
    pipeline.push({ jobs, ok: false, skipped: '--quick runs at most 100,000 jobs; the full run tries 1,000,000' });
    continue;
  }
  process.stderr.write(`pipeline: ${fmt(jobs)} jobs, ${fmt(plan.events)} events...\n`);
  const timeoutMs = jobs >= 1_000_000 ? plan.bigTimeoutMs : plan.timeoutMs;
  // Made and removed here, so a run that dies leaves no objects behind.
  const directory = mkdtempSync(join(tmpdir(), 'seatbelt-scale-'));
  const outcome = await runChild<PipelineJobsResult>('pipeline-jobs', [String(jobs), String(plan.events), String(plan.intervalSeconds), directory], { timeoutMs });
  rmSync(directory, { recursive: true, force: true });
  if (outcome.ok) {
    const r = outcome.result;
    pipeline.push({ ...r, jobs, ok: true, wallSeconds: Number(outcome.seconds.toFixed(1)) });
    process.stderr.write(`  ${fmt(r.eventsPerSec)} events/s, ${fmt(r.cpuUsPerEvent, 1)} CPU µs/event, start ${fmt(r.startSeconds, 1)} s, peak RSS ${fmt(r.peakRssMb)} MB\n`);
  } else {
    pipeline.push({ jobs, ok: false, error: outcome.error, seconds: Number(outcome.seconds.toFixed(1)) });
    process.stderr.write(`  failed: ${outcome.error}\n`);
  }
}

const hotSet: PipelineEntry[] = [];
for (const jobs of plan.hotJobs) {
  process.stderr.write(`hot set: ${fmt(jobs)} jobs with buffers, traffic on ${fmt(plan.hot)}, ${fmt(plan.hotEvents)} events...\n`);
  const directory = mkdtempSync(join(tmpdir(), 'seatbelt-scale-'));
  const outcome = await runChild<PipelineJobsResult>('pipeline-jobs', [String(jobs), String(plan.hotEvents), String(plan.intervalSeconds), directory, String(plan.hot)], { timeoutMs: plan.timeoutMs });
  rmSync(directory, { recursive: true, force: true });
  if (outcome.ok) {
    const r = outcome.result;
    hotSet.push({ ...r, jobs, ok: true, wallSeconds: Number(outcome.seconds.toFixed(1)) });
    process.stderr.write(`  ${fmt(r.eventsPerSec)} events/s, ${fmt(r.cpuUsPerEvent, 1)} CPU µs/event (warm-up ${fmt(r.warmupSeconds, 1)} s)\n`);
  } else {
    hotSet.push({ jobs, ok: false, error: outcome.error, seconds: Number(outcome.seconds.toFixed(1)) });
    process.stderr.write(`  failed: ${outcome.error}\n`);
  }
}

const idleAt = (n: number): IdleRow | undefined => idle.find((r): r is IdleRow => r.buffers === n && r.ok);
const runAt = (j: number, rows: PipelineEntry[] = pipeline): PipelineRow | undefined => rows.find((r): r is PipelineRow => r.jobs === j && r.ok);
const from = runAt(RATIO_FROM);
const to = runAt(RATIO_TO);
const cpuRatio = from && to ? to.cpuUsPerEvent / from.cpuUsPerEvent : null;
const wallRatio = from && to ? from.eventsPerSec / to.eventsPerSec : null;
const hotFrom = runAt(RATIO_FROM, hotSet);
const hotTo = runAt(plan.hotJobs.includes(RATIO_TO) ? RATIO_TO : Math.max(...plan.hotJobs), hotSet);
const hotRatio = hotFrom && hotTo ? hotTo.cpuUsPerEvent / hotFrom.cpuUsPerEvent : null;
const big = idleAt(IDLE_TARGET_BUFFERS);
const round = (v: number, digits: number): number => Number(v.toFixed(digits));

const targets = {
  perEventCost: {
    target: `CPU µs per event at ${RATIO_TO} jobs <= ${RATIO_TARGET}x that at ${RATIO_FROM} jobs`,
    fromJobs: RATIO_FROM,
    toJobs: RATIO_TO,
    cpuRatio: cpuRatio === null ? null : round(cpuRatio, 3),
    wallRatio: wallRatio === null ? null : round(wallRatio, 3),
    met: cpuRatio === null ? null : cpuRatio <= RATIO_TARGET,
  },
  perEventCostHotSet: {
    target: `with every job's buffer in place and the traffic on ${plan.hot} jobs: CPU µs per event at ${hotTo?.jobs ?? RATIO_TO} jobs <= ${RATIO_TARGET}x that at ${RATIO_FROM} jobs`,
    fromJobs: RATIO_FROM,
    toJobs: hotTo?.jobs ?? RATIO_TO,
    cpuRatio: hotRatio === null ? null : round(hotRatio, 3),
    wallRatio: hotFrom && hotTo ? round(hotFrom.eventsPerSec / hotTo.eventsPerSec, 3) : null,
    met: hotRatio === null ? null : hotRatio <= RATIO_TARGET,
  },
  idleBuffers: {
    target: `${fmt(IDLE_TARGET_BUFFERS)} idle buffers in < ${IDLE_TARGET_MB} MiB`,
    buffers: IDLE_TARGET_BUFFERS,
    mb: big ? round(big.totalMb, 1) : null,
    met: big ? big.totalMb < IDLE_TARGET_MB : null,
  },
};

const byKey = <T extends { ok: boolean }>(rows: T[], key: (r: T) => number, value: (r: T) => number): Record<string, number | null> =>
  Object.fromEntries(rows.map((r) => [String(key(r)), r.ok ? value(r) : null]));

const result = {
  bytesPerIdleBuffer: byKey(idle, (r) => r.buffers, (r) => round((r as IdleRow).bytesPerBuffer, 1)),
  bytesPerIdleJob: byKey(idle, (r) => r.buffers, (r) => round((r as IdleRow).bytesPerJob, 1)),
  idleMbAt1M: targets.idleBuffers.mb,
  eventsPerSecByJobs: byKey(pipeline, (r) => r.jobs, (r) => (r as PipelineRow).eventsPerSec),
  cpuUsPerEventByJobs: byKey(pipeline, (r) => r.jobs, (r) => round((r as PipelineRow).cpuUsPerEvent, 2)),
  hotSetCpuUsPerEventByJobs: byKey(hotSet, (r) => r.jobs, (r) => round((r as PipelineRow).cpuUsPerEvent, 2)),
  targets,
  idle,
  pipeline,
  hotSet,
  plan: { idleBuffers: plan.idleBuffers, pipelineJobs: plan.pipelineJobs, hotJobs: plan.hotJobs, hot: plan.hot, hotEvents: plan.hotEvents, skipJobs: plan.skipJobs, events: plan.events, intervalSeconds: plan.intervalSeconds, gzip: false },
  machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' },
  seconds: round((performance.now() - started) / 1000, 1),
};

const idleTable = idle.map((r) =>
  r.ok
    ? { buffers: fmt(r.buffers), 'B/buffer': fmt(r.bytesPerBuffer), 'B/job (+config, subscription)': fmt(r.bytesPerJob), 'MiB in all': fmt(r.totalMb, 1), 'RSS MiB': fmt(r.rssMb, 1), 'µs/buffer made': fmt(r.createUsPerBuffer, 2) }
    : { buffers: fmt(r.buffers), 'B/buffer': `failed: ${r.error}` },
);
const runTable = (rows: PipelineEntry[]): Record<string, unknown>[] => rows.map((r) =>
  r.ok
    ? {
        jobs: fmt(r.jobs),
        'events/s': fmt(r.eventsPerSec),
        'CPU µs/event': fmt(r.cpuUsPerEvent, 1),
        'start s': fmt(r.startSeconds, 1),
        ...(r.hot === null ? {} : { 'warm-up s': fmt(r.warmupSeconds, 1) }),
        'run s': fmt(r.seconds, 1),
        delivered: fmt(r.delivered),
        lost: fmt(r.lost),
        'jobs w/ objects': fmt(r.jobsWithObjects),
        'peak RSS MB': fmt(r.peakRssMb),
        restarts: r.restarts,
      }
    : { jobs: fmt(r.jobs), 'events/s': 'skipped' in r ? 'not run (--quick)' : `failed: ${r.error}` },
);
const pipelineTable = runTable(pipeline);
console.log(`\nidle Buftee buffers (a configured job, Logpush subscribed, one batch appended, read and acked; heapUsed + arrayBuffers)`);
console.table(idleTable);
console.log(`pipeline, every job its own zone, generator over as many zones (Zipf), ${fmt(plan.events)} events, gzip off`);
console.table(pipelineTable);
for (const r of pipeline) if (r.ok) console.log(`busy seconds by stage, ${fmt(r.jobs)} jobs: ${JSON.stringify(r.busyByStage)}`);
console.log(`hot set: every job's buffer in place (a warm-up event and object each), the generator over ${fmt(plan.hot)} of the jobs' zones (Zipf), ${fmt(plan.hotEvents)} events`);
console.table(runTable(hotSet));
for (const r of hotSet) if (r.ok) console.log(`busy seconds by stage, ${fmt(r.jobs)} jobs (hot set): ${JSON.stringify(r.busyByStage)}`);
const verdict = (met: boolean | null): string => (met === null ? 'NOT MEASURED' : met ? 'MET' : 'MISSED');
const p = targets.perEventCost;
console.log(
  `target: ${p.target}: ${p.cpuRatio === null ? 'n/a' : `${p.cpuRatio.toFixed(2)}x`} ${verdict(p.met)}` +
    (p.wallRatio === null ? '' : ` (wall time per event: ${p.wallRatio.toFixed(2)}x)`),
);
const h = targets.perEventCostHotSet;
console.log(`target: ${h.target}: ${h.cpuRatio === null ? 'n/a' : `${h.cpuRatio.toFixed(2)}x`} ${verdict(h.met)}` + (h.wallRatio === null ? '' : ` (wall time per event: ${h.wallRatio.toFixed(2)}x)`));
console.log(`target: ${targets.idleBuffers.target}: ${targets.idleBuffers.mb === null ? 'n/a' : `${fmt(targets.idleBuffers.mb, 1)} MiB`} ${verdict(targets.idleBuffers.met)}`);
const out = join(PROJECT_ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, plan.resultsFile), `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${join(out, plan.resultsFile)} (${fmt(result.seconds, 0)} s)`);
