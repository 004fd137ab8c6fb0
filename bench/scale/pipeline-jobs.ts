/**
 * bench/scale, one pipeline run in a process of its own: J jobs, each with a zone of its own, and
 * the edge generator over exactly those J zones (Zipf, as bench/pipeline), so every event is routed
 * to a job. gzip off, object-store destination. `node dist/bench/scale/pipeline-jobs.js J EVENTS
 * INTERVAL_S [DIRECTORY [HOT]]` prints one result line (RESULT_PREFIX + JSON).
 *
 * With HOT (< J), the run measures the per-event cost with J buffers in place and the traffic on
 * HOT of them: first a warm-up (not measured) ingests one event for every one of the J zones
 * (`pipeline.ingest`), so each job gets its Buftee buffer, its Logreceiver and Logpush state and
 * one object, and waits until all J are delivered; then the generator (created paused) runs Zipf
 * over the first HOT zones only, and the clock and CPU count from there as below. The J - HOT
 * buffers stay idle (Buftee's idle TTL is 5 minutes) while the hot jobs' events pass.
 *
 * Limits raised for the run, the same at every J: the ledger's maxJobs to J (+16, at most its
 * ceiling of 1,000,000); Buftee's maxBuffers and maxBuffersPerPrefix to 2J (at least the default
 * 100,000) so the buffers of J jobs never reach its pressure levels, and maxNewBuffersPerSecond to
 * 1,000,000 so a first burst over many zones is not refused. The config guard's own limits
 * (maxJobs 1,000,000, maxZoneEntries 10,000,000) hold J = 1,000,000 as they are.
 *
 * The clock runs from the end of start() (config checked, every stage up with the config) to the
 * end of stop(), called once the generator has handed its last event to Logfwdr: stop() drains each
 * stage, has Logpush seal every open object at once (no upload interval is waited out) and stops
 * the workers. events/s is delivered events over that time; CPU is process.cpuUsage over it (user +
 * system, every thread).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipeline, lostIn } from '../../src/actors/pipeline.js';
import { defaultJobs } from '../../src/actors/defaults.js';
import { DROP_REASONS } from '../../src/actors/job.js';
import { DEFAULT_LIMITS } from '../../src/actors/buftee/limits.js';
import { MAX_MAX_JOBS } from '../../src/actors/ledger.js';
import { PHASE_PREFIX, RESULT_PREFIX } from './child.js';

export interface PipelineJobsResult {
  jobs: number;
  events: number;
  /** The jobs the measured traffic went to (a warm-up gave every job a buffer first); null: all. */
  hot: number | null;
  /** The warm-up's seconds (not measured); 0 without HOT. */
  warmupSeconds: number;
  /** start(): config checked and handed to every stage, workers up. */
  startSeconds: number;
  /** From started to the generator's last event handed to Logfwdr. */
  ingestSeconds: number;
  /** From started to stop() done: every event delivered or dropped, objects sealed, workers stopped. */
  seconds: number;
  /** Of `seconds`, the time in stop(). */
  stopSeconds: number;
  delivered: number;
  /** Events not delivered for a reason other than a job's own filter or sampling. */
  lost: number;
  droppedByReason: Record<string, number>;
  clean: boolean;
  eventsPerSec: number;
  /** process.cpuUsage (user + system, every thread) over `seconds`, per delivered event. */
  cpuUsPerEvent: number;
  cpuSeconds: number;
  /** Stage busy seconds (event-loop active time) from started to the generator's last event sent. */
  busyByStage: Record<string, number>;
  /** Jobs that got at least one object (with HOT: every job, from the warm-up). */
  jobsWithObjects: number;
  peakRssMb: number;
  restarts: number;
  limits: { ledgerMaxJobs: number; maxBuffers: number; maxNewBuffersPerSecond: number };
}

const [jobsArg, eventsArg, intervalArg, directoryArg, hotArg] = process.argv.slice(2);
const JOBS = Number(jobsArg);
const EVENTS = Number(eventsArg);
const INTERVAL = Number(intervalArg ?? 5);
const HOT = hotArg === undefined ? undefined : Number(hotArg);
if (![JOBS, EVENTS, INTERVAL].every((v) => Number.isSafeInteger(v) && v > 0) || (HOT !== undefined && !(Number.isSafeInteger(HOT) && HOT > 0 && HOT <= JOBS))) {
  throw new Error(`usage: pipeline-jobs.js JOBS EVENTS [INTERVAL_S [DIRECTORY [HOT]]], got ${JSON.stringify(process.argv.slice(2))}`);
}
const WARMUP_CHUNK = 10_000;

let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
// The objects' directory: the caller's (bench/scale/run.ts removes it even after a crash here), or a new one.
const directory = directoryArg ?? mkdtempSync(join(tmpdir(), 'seatbelt-scale-'));
const ledgerMaxJobs = Math.min(MAX_MAX_JOBS, JOBS + 16);
const maxBuffers = Math.max(DEFAULT_LIMITS.maxBuffers, 2 * JOBS);
const maxNewBuffersPerSecond = 1_000_000;

try {
  const jobs = defaultJobs({ zones: JOBS, jobs: JOBS, directory, compression: 'none' }).map((j) => ({ ...j, max_upload_interval_seconds: INTERVAL }));
  const pipeline = createPipeline({
    config: { jobs },
    generator: { zones: HOT ?? JOBS, seed: 7, limit: EVENTS, mix: { http_requests: 1 }, paused: HOT !== undefined },
    maxJobs: ledgerMaxJobs,
    buftee: { limits: { maxBuffers, maxBuffersPerPrefix: maxBuffers, maxNewBuffersPerSecond } },
    supervisor: { onRootFailure: 'emit', log: { level: 'warn' } },
    log: { level: 'warn' },
  });
  const phase = (what: string): boolean => process.stdout.write(`${PHASE_PREFIX}${what}\n`);
  phase(`start() (config of ${JOBS} jobs checked and handed to every stage)`);
  const t0 = performance.now();
  await pipeline.start();
  phase('the run (events going through)');
  const startSeconds = (performance.now() - t0) / 1000;
  process.stderr.write(`  started in ${startSeconds.toFixed(1)} s\n`);
  let restarts = 0;
  let failure: Error | null = null;
  pipeline.tree.on('restart', () => restarts++);
  pipeline.tree.on('escalate', (e: { error: Error }) => (failure = e.error));
  let warmupSeconds = 0;
  let warmDelivered = 0;
  if (HOT !== undefined) {
    phase(`warm-up (one event for each of the ${JOBS} jobs, until all are delivered)`);
    const w0 = performance.now();
    const nowNs = Date.now() * 1e6;
    for (let first = 1; first <= JOBS; first += WARMUP_CHUNK) {
      const events = [];
      for (let zone = first; zone < Math.min(JOBS + 1, first + WARMUP_CHUNK); zone++) {
        events.push({ ZoneID: zone, EdgeStartTimestamp: nowNs, EdgeEndTimestamp: nowNs, RayID: zone.toString(16).padStart(16, '0'), ClientRequestHost: `z${zone}.example`, EdgeResponseStatus: 200 });
      }
      const r = await pipeline.ingest('http_requests', events);
      if (r.refused > 0) throw new Error(`warm-up: ${r.refused} events refused: ${JSON.stringify(r.reasons)}`);
    }
    for (;;) {
      if (failure !== null) throw new Error(`the pipeline's supervisor gave up: ${(failure as Error).message}`);
      const t = pipeline.ledger.totals();
      if (t.delivered + Object.values(t.dropped).reduce((a, b) => a + b, 0) >= JOBS) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const warm = pipeline.ledger.totals();
    warmDelivered = warm.delivered;
    // A warm-up that lost events (a stage crashed, a buffer refused) leaves jobs without their
    // buffer: the run would not measure what it says.
    if (warmDelivered < JOBS) throw new Error(`warm-up: only ${warmDelivered} of ${JOBS} delivered, dropped ${JSON.stringify(warm.dropped)} (restarts: ${restarts})`);
    warmupSeconds = (performance.now() - w0) / 1000;
    process.stderr.write(`  warm-up: ${warmDelivered} of ${JOBS} delivered in ${warmupSeconds.toFixed(1)} s\n`);
    phase(`the run (events of ${HOT} hot jobs going through, ${JOBS} buffers in place)`);
  }
  const activeAtStart = new Map((await pipeline.tree.stats(10_000)).map((s) => [s.id, s.activeMs]));
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  pipeline.resumeGenerator();
  // The generator's own count of events handed to Logfwdr: reading the ledger's totals walks
  // every job's slot, which at 100,000 jobs and more would load the main thread being measured.
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    if (failure !== null) throw new Error(`the pipeline's supervisor gave up: ${(failure as Error).message}`);
    const sent = Number((await pipeline.tree.find('source')?.control.stats(10_000))?.actor.sent ?? 0);
    if (sent >= EVENTS) break;
  }
  const ingestSeconds = (performance.now() - started) / 1000;
  const stages = await pipeline.tree.stats(10_000);
  const busyByStage = Object.fromEntries(stages.map((s) => [s.id, Number((Math.max(0, s.activeMs - (activeAtStart.get(s.id) ?? 0)) / 1000).toFixed(2))]));
  // stop() drains each stage in turn and has Logpush seal every open object at once (no upload
  // interval waited out), then stops the workers: the clock stops when it returns.
  phase('stop() (draining every stage, sealing objects)');
  const clean = await pipeline.stop();
  const seconds = (performance.now() - started) / 1000;
  const stopSeconds = seconds - ingestSeconds;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const totals = pipeline.ledger.totals();
  const delivered = totals.delivered - warmDelivered;
  const lost = lostIn(totals);
  const droppedByReason: Record<string, number> = {};
  for (const reason of DROP_REASONS) if (totals.dropped[reason] > 0) droppedByReason[reason] = totals.dropped[reason];
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result: PipelineJobsResult = {
    jobs: JOBS,
    events: EVENTS,
    startSeconds,
    ingestSeconds,
    seconds,
    stopSeconds,
    hot: HOT ?? null,
    warmupSeconds,
    delivered,
    lost,
    droppedByReason,
    clean,
    eventsPerSec: Math.round(delivered / seconds),
    cpuUsPerEvent: delivered > 0 ? (cpuSeconds * 1e6) / delivered : Number.NaN,
    cpuSeconds,
    busyByStage,
    jobsWithObjects: readdirSync(directory).length,
    peakRssMb: Math.round(peakRss / 2 ** 20),
    restarts,
    limits: { ledgerMaxJobs, maxBuffers, maxNewBuffersPerSecond },
  };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
} finally {
  clearInterval(sampler);
  rmSync(directory, { recursive: true, force: true });
}
