/**
 * Prometheus metrics for the whole pipeline (prom-client): the runtime's own (createRuntimeMetrics:
 * per-actor gauges including the mailbox rings' occupancy, restarts by cause, main event-loop lag)
 * plus the ledger by job, outcome and drop reason, the stages' event and batch counts, Buftee's
 * buffers and pressure, the config generation and mode in force, and the alerts raised.
 *
 * Everything is gathered when scraped (collect callbacks): nothing runs on the data path. A scrape
 * asks the workers for their stats once (shared by every metric that needs them, the runtime's
 * included) and waits at most `statsTimeoutMs`; a stage that does not answer in time, or has
 * stopped, is left out of that scrape's stage series, never failing the scrape. The ledger and
 * Buftee's pressure are read from shared memory, without a message.
 *
 * Labels are bounded: stage and kind names, drop reasons, modes and alert names are closed sets;
 * job labels are the ids of the first `maxJobLabels` job slots (ids already fit NAME_PATTERN), every
 * later job summed under job="_other", "-" (events of no job) as job="-", and job="_all" for the
 * sums over every slot. Neither "_other" nor "_all" can be a job id (ids start with a letter or digit).
 *
 * The stages' counts are those of each stage's current incarnation: a restart starts them again
 * from zero, which Prometheus's rate() and increase() take as a counter reset.
 */

import { Counter, Gauge, Registry } from 'prom-client';
import type { ActorStats } from '../runtime/control.js';
import { createRuntimeMetrics } from '../runtime/metrics.js';
import type { Supervisor } from '../runtime/supervisor.js';
import { DROP_REASONS, type DropReason } from './job.js';
import { NONE_JOB } from './ledger.js';
import { ALERT_NAMES } from './logfwdr/guard-types.js';
import type { Pipeline, PipelineAlertName } from './pipeline.js';

export interface PipelineMetricsOptions {
  /** Where to register; default a new Registry. */
  registry?: Registry;
  /** Jobs (by ledger slot, "-" not counted) with a job label of their own; later ones are summed under "_other". Default 1000. */
  maxJobLabels?: number;
  /** How long a scrape waits for the workers' stats. Default 500 ms. */
  statsTimeoutMs?: number;
}

export const DEFAULT_MAX_JOB_LABELS = 1000;
/** The job label of the sums over every job slot beyond `maxJobLabels`. */
export const OTHER_JOBS = '_other';
/** The job label of the sums over every slot, "-" included (the ledger's totals). */
export const ALL_JOBS = '_all';
/** What `pipeline.mode()` says: the guard's mode, with `+fallback` during a fail-open fallback. */
export const CONFIG_MODES = ['configured', 'fail-open', 'fail-closed', 'fail-open+fallback'] as const;
export const PIPELINE_ALERT_NAMES: readonly PipelineAlertName[] = [...ALERT_NAMES, 'buftee_pressure'];
export const PRESSURE_LEVELS = { ok: 0, soft: 1, hard: 2 } as const;
export const LEDGER_OUTCOMES = ['ingested', 'delivered', 'dropped'] as const;

type Fields = Record<string, unknown>;
type Read = (actor: Fields) => number | undefined;

const field =
  (name: string): Read =>
  (actor) =>
    count(actor[name]);

/** Logpush's counts are per job (`jobs: { [id]: DeliveryCounts }`): summed over its jobs. */
/** A sum over every job Logpush runs, from its stats' `totals`. */
const perJob =
  (name: string): Read =>
  (actor) => {
    const totals = actor.totals;
    if (typeof totals !== 'object' || totals === null) return undefined;
    return count((totals as Fields)[name]);
  };

/**
 * `seatbelt_stage_events_total{stage, kind}`: events, from each stage's own stats().
 *   source       sent           events the generator landed in Logfwdr's mailbox
 *   logfwdr      forwarded      events forwarded to Logreceiver for configured jobs
 *                surplus        events of unconfigured zones forwarded during fail-open
 *                unconfigured   events of no job, dropped
 *                shed           events shed at hard pressure (every job past its fair share)
 *                shed_surplus   fail-open surplus events shed at soft or hard pressure
 *   logreceiver  received       events taken from Logfwdr
 *                unrouted       events of a job this stage's config no longer has, dropped
 *   logpush      received       events taken from Buftee, over the jobs it runs
 *                delivered      events the destinations confirmed, over the jobs it runs
 */
export const STAGE_EVENT_KINDS: Readonly<Record<string, Readonly<Record<string, Read>>>> = {
  source: { sent: field('sent') },
  logfwdr: { forwarded: field('forwarded'), surplus: field('surplus'), unconfigured: field('unconfigured'), shed: field('shed'), shed_surplus: field('shedSurplus') },
  logreceiver: { received: field('events'), unrouted: field('unrouted') },
  logpush: { received: perJob('events'), delivered: perJob('delivered') },
};

/**
 * `seatbelt_stage_batches_total{stage, kind}`: batches, from each stage's own stats().
 *   logfwdr      malformed               batches that did not decode, dropped
 *   logreceiver  sent                    job and zone batches committed to Buftee's ring
 *                malformed               batches that did not decode, dropped
 *   buftee       appended                batches appended to a job's buffer
 *                sent                    batches sent to Logpush
 *                acked                   acks from Logpush (one per delivered batch)
 *   logpush      received                batch records taken from Buftee
 *                unknown_job             batches of a job Logpush does not run (acked, counted in the ledger)
 *                malformed               batches that did not decode
 *                dropped_before_resync   batches of an earlier Buftee, before its RESYNC
 */
export const STAGE_BATCH_KINDS: Readonly<Record<string, Readonly<Record<string, Read>>>> = {
  logfwdr: { malformed: field('malformed') },
  logreceiver: { sent: field('batchesOut'), malformed: field('malformed') },
  buftee: { appended: field('appended'), sent: field('sent'), acked: field('acked') },
  logpush: { received: field('batches'), unknown_job: field('unknownJob'), malformed: field('malformedBatches'), dropped_before_resync: field('droppedBeforeResync') },
};

interface Sums {
  ingested: number;
  delivered: number;
  dropped: Record<DropReason, number>;
  inFlight: number;
}

interface LedgerRead {
  /** Label → sums, in slot order: "-", the labelled jobs, "_other", "_all". */
  byLabel: Map<string, Sums>;
}

/**
 * Registers the pipeline's metrics (the runtime's included) in `options.registry` and returns it.
 * Call it after `await pipeline.start()`: it binds to the supervision tree `start()` creates
 * (`pipeline.tree`), so after a stop and a new start, call it again with a new registry.
 */
export function createPipelineMetrics(pipeline: Pipeline, options: PipelineMetricsOptions = {}): Registry {
  const registry = options.registry ?? new Registry();
  const maxJobLabels = options.maxJobLabels ?? DEFAULT_MAX_JOB_LABELS;
  if (!(Number.isSafeInteger(maxJobLabels) && maxJobLabels >= 0)) throw new RangeError(`maxJobLabels must be a non-negative integer, got ${String(maxJobLabels)}`);
  const statsTimeoutMs = options.statsTimeoutMs ?? 500;
  if (!(Number.isFinite(statsTimeoutMs) && statsTimeoutMs > 0)) throw new RangeError(`statsTimeoutMs must be a positive number of ms, got ${String(statsTimeoutMs)}`);

  const tree = pipeline.tree;
  const actorStats = sharedPerScrape(() => statsWithin(tree, statsTimeoutMs));
  createRuntimeMetrics(withSharedStats(tree, actorStats), registry, { statsTimeoutMs });

  // The ledger: one read of every slot per scrape, shared by its three metrics.
  const ledger = sharedPerScrape(async () => readLedger(pipeline, maxJobLabels));
  new Counter({
    name: 'seatbelt_ledger_events_total',
    help: `Events counted in the ledger, by job and outcome (${LEDGER_OUTCOMES.join(', ')}; dropped sums every reason). job="${NONE_JOB}": events of no job; "${OTHER_JOBS}": jobs beyond the labelled ones; "${ALL_JOBS}": every slot.`,
    labelNames: ['job', 'outcome'],
    registers: [registry],
    async collect() {
      const read = await ledger();
      this.reset();
      for (const [job, sums] of read.byLabel) {
        this.inc({ job, outcome: 'ingested' }, sums.ingested);
        this.inc({ job, outcome: 'delivered' }, sums.delivered);
        this.inc({ job, outcome: 'dropped' }, droppedOf(sums));
      }
    },
  });
  new Counter({
    name: 'seatbelt_ledger_dropped_events_total',
    help: `Events dropped, by job and reason (${DROP_REASONS.join(', ')}); filtered and sampled are the job's own choice, every other reason is a loss.`,
    labelNames: ['job', 'reason'],
    registers: [registry],
    async collect() {
      const read = await ledger();
      this.reset();
      for (const [job, sums] of read.byLabel) for (const reason of DROP_REASONS) this.inc({ job, reason }, sums.dropped[reason]);
    },
  });
  new Gauge({
    name: 'seatbelt_ledger_in_flight_events',
    help: 'Events ingested and neither delivered nor dropped yet, by job.',
    labelNames: ['job'],
    registers: [registry],
    async collect() {
      const read = await ledger();
      this.reset();
      for (const [job, sums] of read.byLabel) this.set({ job }, sums.inFlight);
    },
  });

  // The stages' own counts: from the one stats() round trip of this scrape.
  const stageCounter = (name: string, help: string, kinds: typeof STAGE_EVENT_KINDS): void => {
    new Counter({
      name,
      help,
      labelNames: ['stage', 'kind'],
      registers: [registry],
      async collect() {
        const stats = await actorStats();
        this.reset();
        for (const s of stats) {
          const readers = kinds[s.id];
          if (readers === undefined) continue;
          for (const [kind, read] of Object.entries(readers)) {
            const value = read(s.actor);
            if (value !== undefined) this.inc({ stage: s.id, kind }, value);
          }
        }
      },
    });
  };
  stageCounter('seatbelt_stage_events_total', 'Events a stage reports, by stage and kind, since the stage\'s current incarnation started (a restart is a counter reset).', STAGE_EVENT_KINDS);
  stageCounter('seatbelt_stage_batches_total', 'Batches a stage reports, by stage and kind, since the stage\'s current incarnation started (a restart is a counter reset).', STAGE_BATCH_KINDS);
  new Counter({
    name: 'seatbelt_logpush_objects_total',
    help: 'Objects Logpush sealed for upload, and objects it gave up on (a destination\'s final refusal), over the jobs it runs.',
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      const stats = await actorStats();
      this.reset();
      const logpush = stats.find((s) => s.id === 'logpush');
      if (logpush === undefined) return;
      this.inc({ outcome: 'sealed' }, perJob('objects')(logpush.actor) ?? 0);
      this.inc({ outcome: 'failed' }, perJob('failedObjects')(logpush.actor) ?? 0);
    },
  });
  new Counter({
    name: 'seatbelt_logpush_upload_retries_total',
    help: 'Uploads Logpush retried after a retryable destination error, over the jobs it runs.',
    registers: [registry],
    async collect() {
      const stats = await actorStats();
      this.reset();
      const logpush = stats.find((s) => s.id === 'logpush');
      if (logpush !== undefined) this.inc(perJob('retries')(logpush.actor) ?? 0);
    },
  });

  new Gauge({
    name: 'seatbelt_logpush_open_object_bytes',
    help: 'Bytes of the objects Logpush has open (not yet sealed), over its jobs: in memory, or already written to the destination\'s staged files (object store).',
    labelNames: ['where'],
    registers: [registry],
    async collect() {
      const stats = await actorStats();
      this.reset();
      const open = stats.find((s) => s.id === 'logpush')?.actor.openObjects as { memoryBytes?: unknown; stagedBytes?: unknown } | undefined;
      if (typeof open?.memoryBytes === 'number') this.set({ where: 'memory' }, open.memoryBytes);
      if (typeof open?.stagedBytes === 'number') this.set({ where: 'staged' }, open.stagedBytes);
    },
  });

  // Buftee's pressure, as it publishes it in shared memory: one snapshot per scrape.
  const pressure = sharedPerScrape(async () => pipeline.pressure.snapshot());
  const pressureGauge = (name: string, help: string, value: (p: Awaited<ReturnType<typeof pressure>>) => number | null): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const v = value(await pressure());
        this.reset();
        if (v !== null) this.set(v);
      },
    });
  };
  pressureGauge('seatbelt_buftee_buffers', 'Buffers Buftee holds (configured jobs and fail-open zones).', (p) => p.buffers);
  pressureGauge('seatbelt_buftee_bytes', 'Bytes Buftee\'s buffers hold (KiB resolution).', (p) => p.bytes);
  pressureGauge('seatbelt_buftee_unconfigured_buffers', 'Buffers of unconfigured zones (the fail-open surplus).', (p) => p.unconfiguredBuffers);
  pressureGauge('seatbelt_buftee_max_buffers', 'Buftee\'s buffer limit; absent when it has none.', (p) => p.maxBuffers);
  pressureGauge('seatbelt_buftee_pressure_level', 'Buftee\'s pressure: 0 ok, 1 soft (Logfwdr sheds the fail-open surplus), 2 hard (and each job past its fair share).', (p) => PRESSURE_LEVELS[p.level]);
  new Counter({
    name: 'seatbelt_buftee_pressure_trips_total',
    help: 'Times Buftee\'s pressure rose from ok.',
    registers: [registry],
    async collect() {
      const p = await pressure();
      this.reset();
      this.inc(p.trips);
    },
  });

  // The config in force and the alerts: owner state, no message.
  new Gauge({
    name: 'seatbelt_config_generation',
    help: 'Generation of the config in force: the config guard\'s count of accepted configs (0 before the first).',
    registers: [registry],
    collect() {
      this.set(pipeline.guard.generation);
    },
  });
  new Gauge({
    name: 'seatbelt_config_mode',
    help: `1 for the mode in force, 0 for the others (${CONFIG_MODES.join(', ')}).`,
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      const mode = pipeline.mode();
      this.reset();
      for (const m of CONFIG_MODES) this.set({ mode: m }, m === mode ? 1 : 0);
      // A mode this list does not know yet still shows, as the one in force.
      if (!(CONFIG_MODES as readonly string[]).includes(mode)) this.set({ mode }, 1);
    },
  });
  new Counter({
    name: 'seatbelt_alerts_total',
    help: `Alerts raised (error log lines with an \`alert\` field), by name (${PIPELINE_ALERT_NAMES.join(', ')}).`,
    labelNames: ['alert'],
    registers: [registry],
    collect() {
      const counts = pipeline.alertCounts();
      this.reset();
      for (const alert of PIPELINE_ALERT_NAMES) this.inc({ alert }, counts[alert] ?? 0);
      for (const [alert, n] of Object.entries(counts)) if (!(PIPELINE_ALERT_NAMES as readonly string[]).includes(alert)) this.inc({ alert }, n);
    },
  });
  return registry;
}

/** Non-negative finite numbers only: anything else in a stage's stats is not a count. */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function droppedOf(sums: Sums): number {
  let n = 0;
  for (const reason of DROP_REASONS) n += sums.dropped[reason];
  return n;
}

function emptySums(): Sums {
  return { ingested: 0, delivered: 0, dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>, inFlight: 0 };
}

function addInto(into: Sums, entry: Sums): void {
  into.ingested += entry.ingested;
  into.delivered += entry.delivered;
  into.inFlight += entry.inFlight;
  for (const reason of DROP_REASONS) into.dropped[reason] += entry.dropped[reason];
}

/**
 * Every slot in use, once, in slot order: "-" (slot 0), the first `maxJobLabels` jobs under their
 * ids, every later one into "_other", and every slot into "_all" (the ledger's totals(), from the
 * same reads, so "_all" is the sum of the other series of the same scrape).
 */
function readLedger(pipeline: Pipeline, maxJobLabels: number): LedgerRead {
  const ledger = pipeline.ledger;
  const byLabel = new Map<string, Sums>();
  const other = emptySums();
  const all = emptySums();
  const slots = ledger.allocated();
  for (let slot = 0; slot < slots; slot++) {
    const job = ledger.jobOf(slot);
    const entry = job === undefined ? undefined : ledger.entry(job);
    if (job === undefined || entry === undefined) continue;
    addInto(all, entry);
    if (slot === 0 || slot <= maxJobLabels) byLabel.set(slot === 0 ? NONE_JOB : job, entry);
    else addInto(other, entry);
  }
  if (!byLabel.has(NONE_JOB)) byLabel.set(NONE_JOB, emptySums());
  byLabel.set(OTHER_JOBS, other);
  byLabel.set(ALL_JOBS, all);
  return { byLabel };
}

/** The actors' stats within `timeoutMs` (plus a little for the round trip); never rejects, [] at worst. */
async function statsWithin(tree: Supervisor, timeoutMs: number): Promise<ActorStats[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ActorStats[]>((resolve) => {
    timer = setTimeout(() => resolve([]), timeoutMs + 100);
    timer.unref();
  });
  try {
    return await Promise.race([tree.stats(timeoutMs).catch((): ActorStats[] => []), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One call of `fetch` for every caller while it is in flight: a scrape starts every metric's
 * collect in the same turn, so they all share one call, and the next scrape makes a new one.
 */
function sharedPerScrape<T>(fetch: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    if (pending === null) {
      const current = fetch().finally(() => {
        if (pending === current) pending = null;
      });
      pending = current;
    }
    return pending;
  };
}

/** The tree, with stats() answered by the scrape's shared round trip (for createRuntimeMetrics). */
function withSharedStats(tree: Supervisor, stats: () => Promise<ActorStats[]>): Supervisor {
  return new Proxy(tree, {
    get(target, property) {
      if (property === 'stats') return stats;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
