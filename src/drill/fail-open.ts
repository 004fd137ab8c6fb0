/**
 * `seatbelt drill fail-open`: the incident of 2024-11-14 on a compressed clock. Steady state with
 * Z zones of which J have push jobs; then the config provider hands out a blank config for
 * `blankSeconds` with Logfwdr on `fail-open` (the seed's worst case: the guard takes the blank as
 * no config, so every zone's events are forwarded); then it reverts. Measures, once a second,
 * buffers, rates, drops by reason, the configured jobs' loss, lag, stats() latency, RSS and
 * restarts, and the time from the revert until buffers and rates are back to steady state.
 *
 * `unbuckled` runs the same with every Buftee limit off (unsafe), under a safety cap on buffers,
 * RSS and time so it cannot take the machine down: it shows the cascade the seatbelts prevent.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMIT_NAMES, DEFAULT_LIMITS } from '../actors/buftee/limits.js';
import { defaultJobs } from '../actors/defaults.js';
import { createPipeline } from '../actors/pipeline.js';
import type { NatsBufteeOptions } from '../actors/buftee/nats/options.js';
import type { LoggerOptions } from '../runtime/logger.js';
import { countLedger, DrillSampler, percentile, positive, sleepUntil } from './sampler.js';
import type { DrillPhase, DrillSecond, DrillSummary } from './types.js';

export interface FailOpenDrillOptions {
  /** Zones at the synthetic edge. Default 40,000. */
  zones?: number;
  /** Zones with a push job. Default 1,000. */
  jobs?: number;
  /** Seconds of steady state before the blank config. Default 10. */
  steadySeconds?: number;
  /** Seconds the provider hands out a blank config (the seed's five minutes, compressed). Default 10. */
  blankSeconds?: number;
  /** Seconds the whole run lasts. Default 40. */
  durationSeconds?: number;
  /** Events per second from the edge. Default 20,000 (below what the pipeline takes on 2 cores). */
  ratePerSecond?: number;
  /** Buftee's maxBuffers (the other limits keep their defaults). Default 100,000. */
  maxBuffers?: number;
  /** Every Buftee limit off, under the safety cap. */
  unbuckled?: boolean;
  /** The unbuckled run is stopped past any of these. Defaults: 4,096 MB RSS, 10 x maxBuffers, the duration. */
  safety?: { rssMb?: number; buffers?: number };
  /** Object-store directory; default a temporary one, removed at the end. */
  directory?: string;
  seed?: number;
  /** Called with every second's sample as it is taken. */
  onSecond?: (second: DrillSecond) => void;
  log?: LoggerOptions;
  /** Buftee on NATS JetStream (these servers) instead of in the process: buffers are subjects. */
  nats?: NatsBufteeOptions;
}

export async function runFailOpenDrill(options: FailOpenDrillOptions = {}): Promise<DrillSummary> {
  const zones = positive('zones', options.zones ?? 40_000);
  const jobCount = positive('jobs', options.jobs ?? 1_000);
  const steadySeconds = positive('steadySeconds', options.steadySeconds ?? 10);
  const blankSeconds = positive('blankSeconds', options.blankSeconds ?? 10);
  const durationSeconds = positive('durationSeconds', options.durationSeconds ?? 40);
  const ratePerSecond = positive('ratePerSecond', options.ratePerSecond ?? 20_000);
  const maxBuffers = positive('maxBuffers', options.maxBuffers ?? DEFAULT_LIMITS.maxBuffers);
  if (jobCount > zones) throw new RangeError(`jobs (${jobCount}) must be at most zones (${zones})`);
  if (steadySeconds + blankSeconds >= durationSeconds) {
    throw new RangeError(`durationSeconds (${durationSeconds}) must be more than steadySeconds + blankSeconds (${steadySeconds + blankSeconds})`);
  }
  const unbuckled = options.unbuckled === true;
  const safetyRssMb = positive('safety.rssMb', options.safety?.rssMb ?? 4096);
  const safetyBuffers = positive('safety.buffers', options.safety?.buffers ?? maxBuffers * 10);

  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'seatbelt-drill-')));
  // A compressed clock: objects every second, so delivery rates are steady second to second.
  const jobs = defaultJobs({ zones, jobs: jobCount, directory, compression: 'none' }).map((job) => ({ ...job, max_upload_interval_seconds: 1 }));

  let startedAt: number | null = null;
  const phaseAt = (t: number): DrillPhase => (t < steadySeconds ? 'steady' : t < steadySeconds + blankSeconds ? 'blank' : 'after');
  const phase = (): DrillPhase => (startedAt === null ? 'steady' : phaseAt((performance.now() - startedAt) / 1000));
  const pipeline = createPipeline({
    config: { fn: () => (phase() === 'blank' ? { jobs: [] } : { jobs }), intervalMs: 250 },
    policy: 'fail-open',
    guard: { blankIsNoConfig: true },
    generator: { zones, seed: options.seed ?? 20241114, ratePerSecond },
    maxJobs: jobCount + 16,
    buftee: unbuckled ? { unsafe: { unlimited: [...LIMIT_NAMES] } } : { limits: { maxBuffers, maxBuffersPerPrefix: maxBuffers } },
    drainTimeoutMs: 30_000,
    ...(options.nats === undefined ? {} : { backend: 'nats' as const, nats: { prefix: `drill${Date.now().toString(36)}`, ...options.nats } }),
    ...(options.log === undefined ? { supervisor: { log: { level: 'warn' } } } : { log: options.log, supervisor: { log: options.log } }),
  });
  let sampler: DrillSampler | null = null;
  let stoppedBy: string | null = null;
  let clean = false;
  try {
    await pipeline.start();
    startedAt = performance.now();
    sampler = new DrillSampler(pipeline, (t) => phaseAt(t - 0.5));
    for (let t = 1; t <= durationSeconds; t++) {
      await sleepUntil(startedAt + t * 1000);
      const second = await sampler.sample();
      options.onSecond?.(second);
      if (unbuckled) {
        if (second.buffers > safetyBuffers) stoppedBy = `safety cap: ${second.buffers} buffers > ${safetyBuffers}`;
        else if (second.rssMb > safetyRssMb) stoppedBy = `safety cap: RSS ${second.rssMb} MB > ${safetyRssMb} MB`;
        if (stoppedBy !== null) break;
      }
    }
  } finally {
    clean = await pipeline.stop();
    sampler?.close();
    if (ownDirectory) await rm(directory, { recursive: true, force: true });
  }
  const seconds = sampler!.seconds;
  const end = countLedger(pipeline);
  const stats = pipeline.ledger;
  return {
    drill: 'fail-open',
    unbuckled,
    zones,
    jobs: jobCount,
    blankSeconds,
    durationSeconds,
    configuredIngested: end.configuredIngested,
    configuredDelivered: end.configuredDelivered,
    configuredLost: end.configuredLost,
    maxBuffers: Math.max(0, ...seconds.map((s) => s.buffers)),
    bufferLimit: unbuckled ? null : maxBuffers,
    recoverySeconds: stoppedBy === null ? recovery(seconds, steadySeconds + blankSeconds, jobCount) : null,
    restarts: seconds.at(-1)?.restarts ?? 0,
    statsP99Ms: Math.round(percentile(sampler!.statsLatencies, 99) * 10) / 10,
    peakRssMb: sampler!.peakRssMb,
    droppedByReason: Object.fromEntries(Object.entries(end.dropped).filter(([, n]) => n > 0)),
    configuredDroppedByReason: end.configuredDropped,
    ledgerBalanced: clean && stats.balanced() && stats.totals().inFlight === 0,
    stoppedBy,
    alerts: (await pipeline.stats()).alerts,
    seconds,
  };
}

/**
 * Seconds from the revert until a sample is back to steady state: buffers within 10% (or 20) of
 * the steady seconds' most, or no more than one per configured job (the steady state's own
 * ceiling, which a short steady phase may not have reached yet); pressure ok; the guard
 * configured; intake at least 90% of the steady median. Null if no sample after the revert is.
 * The first second (warm-up) is not steady state.
 */
export function recovery(seconds: readonly DrillSecond[], revertAt: number, jobs: number): number | null {
  const steady = seconds.filter((s) => s.phase === 'steady' && s.t > 1);
  if (steady.length === 0) return null;
  const steadyBuffers = Math.max(...steady.map((s) => s.buffers));
  const steadyIntake = percentile(steady.map((s) => s.ingestedPerSec), 50);
  for (const s of seconds) {
    if (s.t < revertAt) continue;
    const buffersBack = s.buffers <= Math.max(steadyBuffers * 1.1, steadyBuffers + 20, jobs);
    if (buffersBack && s.pressure === 'ok' && s.mode === 'configured' && s.ingestedPerSec >= 0.9 * steadyIntake) return s.t - revertAt;
  }
  return null;
}
