/**
 * What every drill measures, once a second, on a running pipeline: Buftee's buffers and pressure
 * (from shared memory), the ledger (all events and the configured jobs' alone), each stage's
 * stats() latency and event-loop delay, the main thread's delay, RSS and restarts.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DROP_REASONS } from '../actors/job.js';
import { NONE_JOB } from '../actors/ledger.js';
import { lostIn, type Pipeline } from '../actors/pipeline.js';
import type { DrillPhase, DrillSecond } from './types.js';

export const STAGE_IDS = ['source', 'logfwdr', 'logreceiver', 'buftee', 'logpush'] as const;

export interface LedgerCounts {
  ingested: number;
  delivered: number;
  dropped: Record<string, number>;
  configuredIngested: number;
  configuredDelivered: number;
  configuredLost: number;
  configuredDropped: Record<string, number>;
}

/** Totals over the ledger, and over the configured jobs (every slot but "-"). */
export function countLedger(pipeline: Pipeline): LedgerCounts {
  const snapshot = pipeline.ledger.snapshot();
  const totals = pipeline.ledger.totals();
  let configuredIngested = 0;
  let configuredDelivered = 0;
  let configuredLost = 0;
  const configuredDropped: Record<string, number> = {};
  for (const [id, entry] of Object.entries(snapshot)) {
    if (id === NONE_JOB) continue;
    configuredIngested += entry.ingested;
    configuredDelivered += entry.delivered;
    configuredLost += lostIn(entry);
    for (const reason of DROP_REASONS) {
      const n = entry.dropped[reason];
      if (n > 0) configuredDropped[reason] = (configuredDropped[reason] ?? 0) + n;
    }
  }
  return { ingested: totals.ingested, delivered: totals.delivered, dropped: { ...totals.dropped }, configuredIngested, configuredDelivered, configuredLost, configuredDropped };
}

export class DrillSampler {
  readonly seconds: DrillSecond[] = [];
  /** Every stats() latency measured (ms), for the p99. */
  readonly statsLatencies: number[] = [];
  peakRssMb = 0;
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  private last: LedgerCounts;
  private readonly startedAt = performance.now();

  constructor(
    private readonly pipeline: Pipeline,
    /** The phase of second t (1, 2, ...), which covers (t - 1, t] of the drill's clock. */
    private readonly phase: (t: number) => DrillPhase,
  ) {
    this.loop.enable();
    this.last = countLedger(pipeline);
  }

  /** Seconds since the sampler was made. */
  elapsed(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Takes one sample (call it once a second). */
  async sample(): Promise<DrillSecond> {
    const pipeline = this.pipeline;
    const statsMs: Record<string, number> = {};
    const lagMs: Record<string, number> = {};
    await Promise.all(
      STAGE_IDS.map(async (id) => {
        const actor = pipeline.tree.find(id);
        if (actor === null) return;
        const started = performance.now();
        try {
          const stats = await actor.control.stats(2000);
          lagMs[id] = round(stats.eventLoopDelayP99Ms);
        } catch {
          // A stage restarting or too busy to answer in 2 s: its latency is the timeout.
        }
        const ms = performance.now() - started;
        statsMs[id] = round(ms);
        this.statsLatencies.push(ms);
      }),
    );
    lagMs.main = round(this.loop.count > 0 ? this.loop.percentile(99) / 1e6 : 0);
    this.loop.reset();
    const now = countLedger(pipeline);
    const droppedPerSec: Record<string, number> = {};
    for (const reason of DROP_REASONS) {
      const n = (now.dropped[reason] ?? 0) - (this.last.dropped[reason] ?? 0);
      if (n !== 0) droppedPerSec[reason] = n;
    }
    const pressure = pipeline.pressure.snapshot();
    const rssMb = Math.round(process.memoryUsage.rss() / 2 ** 20);
    this.peakRssMb = Math.max(this.peakRssMb, rssMb);
    const restarts = Object.values(pipeline.tree.restartCounts()).reduce((sum, causes) => sum + Object.values(causes).reduce((a, b) => a + b, 0), 0);
    const second: DrillSecond = {
      t: this.seconds.length + 1,
      phase: this.phase(this.seconds.length + 1),
      buffers: pressure.buffers,
      bufferBytes: pressure.bytes,
      pressure: pressure.level,
      mode: pipeline.mode(),
      ingestedPerSec: now.ingested - this.last.ingested,
      deliveredPerSec: now.delivered - this.last.delivered,
      droppedPerSec,
      configuredIngested: now.configuredIngested,
      configuredDelivered: now.configuredDelivered,
      configuredLost: now.configuredLost,
      lagMs,
      statsMs,
      rssMb,
      restarts,
    };
    this.last = now;
    this.seconds.push(second);
    return second;
  }

  close(): void {
    this.loop.disable();
  }
}

/** The p-th percentile (0..100) of `values`, nearest rank; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** `value`, checked to be a positive integer (a drill option); a RangeError naming it otherwise. */
export function positive(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  return value;
}

/** Resolves at `at` (performance.now() time), at once if that has passed. */
export function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}
