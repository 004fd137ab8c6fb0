/**
 * `seatbelt drill cut`: kills stage workers at random under load, every stage at least once, and
 * reports restarts, each stage's time to recover (kill to its successor answering stats()), and
 * loss by reason. Nothing that was in a ring may be lost; what a crashed stage held in memory (a
 * Buftee's buffers, a Logreceiver's coalescing) may be, and is then counted `crashed`, to the event.
 * Kills land at a worker's next event-loop turn unless `killAt` is `'now'` (see KillAt).
 */

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '../actors/buftee/limits.js';
import { defaultJobs } from '../actors/defaults.js';
import { createPipeline } from '../actors/pipeline.js';
import { Random } from '../actors/sources/prng.js';
import type { KillAt } from '../runtime/actor-process.js';
import type { LoggerOptions } from '../runtime/logger.js';
import { countLedger, DrillSampler, percentile, positive, sleepUntil, STAGE_IDS } from './sampler.js';
import type { DrillSecond, DrillSummary } from './types.js';

export interface CutDrillOptions {
  zones?: number;
  jobs?: number;
  /** Seconds the run lasts. Default 30. */
  durationSeconds?: number;
  /** Events per second. Default 20,000. */
  ratePerSecond?: number;
  maxBuffers?: number;
  /** Workers to kill, at least one per stage. Default 10. */
  kills?: number;
  /**
   * Where kills land (ActorProcess.kill): `'turn'` (default) at the worker's next event-loop turn,
   * so every record is handled exactly once and the checks below hold to the event; `'now'`
   * anywhere, so a record a kill interrupts is handled again (at least once: its events may be
   * delivered and counted twice).
   */
  killAt?: KillAt;
  /** The stages to kill, in order (instead of every stage once and then at random). */
  stages?: readonly string[];
  seed?: number;
  directory?: string;
  onSecond?: (second: DrillSecond) => void;
  /** Called after each kill, once the successor answers. */
  onCut?: (stage: string, recoverMs: number) => void;
  log?: LoggerOptions;
}

export interface CutDrillSummary extends DrillSummary {
  /** Where the kills landed (CutDrillOptions.killAt). */
  killAt: KillAt;
  /** Lines in every object written. More than delivered only by lines a Logpush wrote twice (it died before its ack: at-least-once). */
  objectLines: number;
  /** Distinct lines in every object written: each a delivered event, so equal to the ledger's delivered. */
  objectDistinctLines: number;
}

export async function runCutDrill(options: CutDrillOptions = {}): Promise<CutDrillSummary> {
  const zones = positive('zones', options.zones ?? 40_000);
  const jobCount = positive('jobs', options.jobs ?? 1_000);
  const durationSeconds = positive('durationSeconds', options.durationSeconds ?? 30);
  const ratePerSecond = positive('ratePerSecond', options.ratePerSecond ?? 20_000);
  const maxBuffers = positive('maxBuffers', options.maxBuffers ?? DEFAULT_LIMITS.maxBuffers);
  const stages = options.stages;
  const killAt = options.killAt ?? 'turn';
  for (const stage of stages ?? []) if (!(STAGE_IDS as readonly string[]).includes(stage)) throw new RangeError(`unknown stage ${JSON.stringify(stage)}; stages: ${STAGE_IDS.join(', ')}`);
  const kills = stages?.length ?? Math.max(STAGE_IDS.length, positive('kills', options.kills ?? 10));
  if (durationSeconds < 8 + kills) throw new RangeError(`durationSeconds (${durationSeconds}) must be at least 8 + kills (${kills}): a second between kills, and time to drain`);
  const rng = new Random(options.seed ?? 20241114);
  const random = (): number => rng.next();
  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'seatbelt-cut-')));
  const jobs = defaultJobs({ zones, jobs: jobCount, directory, compression: 'none' }).map((job) => ({ ...job, max_upload_interval_seconds: 1 }));
  const pipeline = createPipeline({
    config: { jobs },
    generator: { zones, seed: options.seed ?? 20241114, ratePerSecond },
    maxJobs: jobCount + 16,
    buftee: { limits: { maxBuffers, maxBuffersPerPrefix: maxBuffers } },
    drainTimeoutMs: 30_000,
    // Ten kills in a run: the tree must not give up on a stage killed on purpose.
    supervisor: { log: options.log ?? { level: 'warn' } },
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  // Every stage once, in random order, then stages at random; spread over the run, leaving the
  // last 5 seconds for recovery.
  const order: string[] = stages === undefined ? shuffle([...STAGE_IDS], random) : [...stages];
  while (order.length < kills) order.push(STAGE_IDS[Math.floor(random() * STAGE_IDS.length)]!);
  const window = durationSeconds - 7;
  const at = order.map((_, i) => 2 + ((i + 0.2 + 0.6 * random()) * window) / kills);
  const cuts: Record<string, { kills: number; recoverMs: number[] }> = {};
  let sampler: DrillSampler | null = null;
  let clean = false;
  let objects = { lines: 0, distinct: 0 };
  let restarts = 0;
  try {
    await pipeline.start();
    const startedAt = performance.now();
    sampler = new DrillSampler(pipeline, () => 'steady');
    const cutting = (async () => {
      for (let i = 0; i < order.length; i++) {
        await sleepUntil(startedAt + at[i]! * 1000);
        const stage = order[i]!;
        const before = pipeline.tree.find(stage);
        const t0 = performance.now();
        await pipeline.tree.kill(stage, killAt);
        const recoverMs = await successorAnswers(pipeline, stage, before);
        const cut = (cuts[stage] ??= { kills: 0, recoverMs: [] });
        cut.kills++;
        cut.recoverMs.push(Math.round((performance.now() - t0) * 10) / 10);
        options.onCut?.(stage, recoverMs);
      }
    })();
    for (let t = 1; t <= durationSeconds; t++) {
      await sleepUntil(startedAt + t * 1000);
      // Sampled whether or not anyone listens (an optional call would skip its argument).
      const second = await sampler.sample();
      options.onSecond?.(second);
    }
    await cutting;
    restarts = Object.values(pipeline.tree.restartCounts()).reduce((sum, causes) => sum + Object.values(causes).reduce((a, b) => a + b, 0), 0);
  } finally {
    clean = await pipeline.stop();
    sampler?.close();
    objects = await countLines(directory);
    if (ownDirectory) await rm(directory, { recursive: true, force: true });
  }
  const seconds = sampler!.seconds;
  const end = countLedger(pipeline);
  return {
    drill: 'cut',
    unbuckled: false,
    zones,
    jobs: jobCount,
    blankSeconds: 0,
    durationSeconds,
    configuredIngested: end.configuredIngested,
    configuredDelivered: end.configuredDelivered,
    configuredLost: end.configuredLost,
    maxBuffers: Math.max(0, ...seconds.map((s) => s.buffers)),
    bufferLimit: maxBuffers,
    recoverySeconds: null,
    restarts,
    statsP99Ms: Math.round(percentile(sampler!.statsLatencies, 99) * 10) / 10,
    peakRssMb: sampler!.peakRssMb,
    droppedByReason: Object.fromEntries(Object.entries(end.dropped).filter(([, n]) => n > 0)),
    configuredDroppedByReason: end.configuredDropped,
    ledgerBalanced: clean && pipeline.ledger.balanced() && pipeline.ledger.totals().inFlight === 0,
    stoppedBy: null,
    alerts: (await pipeline.stats()).alerts,
    cuts,
    killAt,
    seconds,
    objectLines: objects.lines,
    objectDistinctLines: objects.distinct,
  };
}

/** Waits until the stage's successor (not `before`) answers stats(); returns the ms it took. */
async function successorAnswers(pipeline: ReturnType<typeof createPipeline>, stage: string, before: unknown): Promise<number> {
  const t0 = performance.now();
  const deadline = t0 + 30_000;
  while (performance.now() < deadline) {
    const actor = pipeline.tree.find(stage);
    if (actor !== null && actor !== before) {
      try {
        await actor.control.stats(1000);
        return performance.now() - t0;
      } catch {
        // still starting
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`stage ${stage} did not come back within 30 s of being killed`);
}

/** Lines, and distinct lines (each carries its event's RayID), in every object under `directory`. */
async function countLines(directory: string): Promise<{ lines: number; distinct: number }> {
  let lines = 0;
  const seen = new Set<string>();
  const entries = await readdir(directory, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.log')) continue;
    const text = await readFile(join(entry.parentPath, entry.name), 'utf8');
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      lines++;
      seen.add(line);
    }
  }
  return { lines, distinct: seen.size };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
