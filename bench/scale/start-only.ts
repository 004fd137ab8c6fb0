/**
 * bench/scale helper: how long start() takes with J jobs, and where (`node --cpu-prof
 * dist/bench/scale/start-only.js J`). Prints one line: jobs, seconds, RSS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline } from '../../src/actors/pipeline.js';
import { defaultJobs } from '../../src/actors/defaults.js';
import { MAX_MAX_JOBS } from '../../src/actors/ledger.js';

const JOBS = Number(process.argv[2] ?? 100_000);
const directory = mkdtempSync(join(tmpdir(), 'seatbelt-start-'));
try {
  const t0 = performance.now();
  const jobs = defaultJobs({ zones: JOBS, jobs: JOBS, directory, compression: 'none' });
  const t1 = performance.now();
  const maxBuffers = Math.max(100_000, 2 * JOBS);
  const pipeline = createPipeline({
    config: { jobs },
    maxJobs: Math.min(MAX_MAX_JOBS, JOBS + 16),
    buftee: { limits: { maxBuffers, maxBuffersPerPrefix: maxBuffers, maxNewBuffersPerSecond: 1_000_000 } },
    supervisor: { onRootFailure: 'emit', log: { level: 'warn' } },
    log: { level: 'warn' },
  });
  await pipeline.start();
  const t2 = performance.now();
  await pipeline.stop();
  console.log(JSON.stringify({ jobs: JOBS, makeJobsSeconds: (t1 - t0) / 1000, startSeconds: (t2 - t1) / 1000, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) }));
} finally {
  rmSync(directory, { recursive: true, force: true });
}
