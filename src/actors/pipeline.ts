/**
 * The pipeline on the main thread: the config guard and its provider, the ledger, and a
 * supervision tree with one actor per stage:
 *
 *   source (edge generator) → logfwdr → logreceiver → buftee ⇄ logpush → destinations
 *
 * The main thread owns every shared buffer (rings, ledger), so a restarted stage re-attaches.
 * Each config the guard accepts is handed to every stage with `reconfigure`, downstream first, so
 * a new job has its destination before its first event arrives.
 *
 * Seatbelts: Buftee publishes its pressure (ok, soft, hard) in shared memory; Logfwdr reads it on
 * every batch and sheds by itself. The owner watches it too (every `pressureWatchMs`): on a trip
 * it raises the `buftee_pressure` alert, and during a fail-open episode it tells every stage to
 * fall back to the last known good config until the episode ends. A stage whose heartbeat stalls
 * is restarted by the supervisor's watchdog. When the pressure clears, shedding stops by itself.
 *
 * Alerts (the guard's and the pressure's) are error log lines with a stable `alert` field, counted
 * by name in stats().alerts, and emitted as 'alert' events.
 */

import { EventEmitter } from 'node:events';
import { createRing } from '../native/ring.js';
import { createSupervisor, type CreateSupervisorOptions } from '../runtime/create-supervisor.js';
import { createLogger, type Logger, type LoggerOptions } from '../runtime/logger.js';
import type { Supervisor } from '../runtime/supervisor.js';
import { BatchWriter, Codec, isCodecError, type CodecStructures } from '../runtime/codec.js';
import type { BufteeOptions, Pressure } from './buftee/limits.js';
import { createPressureGauges, PressureGauges, type PressureSnapshot } from './buftee/pressure.js';
import { DROP_REASONS, INTENTIONAL_REASONS, type Dataset, type JobConfig } from './job.js';
import { Ledger, NONE_SLOT, type LedgerEntry, type LedgerSnapshot } from './ledger.js';
import { ConfigGuard, type ConfigGuardOptions, type FailurePolicy } from './logfwdr/config-guard.js';
import type { AlertName, GuardAlert } from './logfwdr/guard-types.js';
import { fileProvider, functionProvider, httpProvider, type Provider } from './logfwdr/providers.js';
import type { DestinationOptions } from './logpush/destinations/create-destination.js';
import { GATE_OPEN, LINK_GAUGES, TYPE_EVENTS } from './messages.js';
import { SharedGauges } from '../native/shared-gauges.js';
import type { EdgeGeneratorOptions } from './sources/edge-generator.js';
import { toEvent } from './sources/ingest-event.js';
import { HttpSource, type HttpSourceOptions } from './sources/http-source.js';
import { ledgerRefusals } from './sources/ingest-sink.js';
import { TcpSource, type TcpSourceOptions } from './sources/tcp-source.js';
import { PIPELINE_STRUCTURES } from './sources/structures.js';
import type { StageConfig } from './stage-config.js';
import { JobTable } from './job-table.js';
import { createInFlight } from './buftee/nats/in-flight.js';
import { resolveNatsOptions, type NatsBufteeOptions, type ResolvedNatsOptions, type Role } from './buftee/nats/options.js';
import { randomBytes } from 'node:crypto';
import { DEFAULT_PRESSURE_ALERT_HOLD_MS, PressureAlerts } from './pressure-alerts.js';
import { checkInitialOldSpaceMb, setInitialOldSpaceForNewIsolates } from '../runtime/isolate-heap.js';
import { checkSweepIntervalMs } from './logpush/destinations/store-janitor.js';

export type ConfigSource =
  | { jobs: JobConfig[] }
  | { file: string; intervalMs?: number }
  | { url: string; intervalMs?: number }
  | { fn: (signal: AbortSignal) => unknown; intervalMs?: number };

export interface PipelineOptions {
  config: ConfigSource;
  /** What to do with no valid config at hand. Default last-known-good. */
  policy?: FailurePolicy;
  /**
   * The synthetic edge as a source; absent: events come only from `ingest()`. `paused`: the
   * generator makes nothing until `resumeGenerator()` (e.g. after the embedder's own warm-up).
   */
  generator?: EdgeGeneratorOptions & { ratePerSecond?: number; limit?: number; batchEvents?: number; paused?: boolean };
  maxJobs?: number;
  buftee?: BufteeOptions;
  destinations?: DestinationOptions;
  /**
   * Logpush: a job's delivery idle this long (nothing open or pending) is closed until its next
   * batch (default 60 s); at most maxConcurrentPuts objects are put at once over all jobs (default 64).
   */
  logpush?: { idleDeliveryMs?: number; maxConcurrentPuts?: number; pressureSealAheadMs?: number };
  supervisor?: CreateSupervisorOptions;
  /** Network sources: listening once every stage runs, closed first by stop(). */
  sources?: { tcp?: Omit<TcpSourceOptions, 'onRefused'>[]; http?: Omit<HttpSourceOptions, 'onRefused'> };
  /** How long stop() waits for in-flight events to be delivered. Default 60 s. */
  drainTimeoutMs?: number;
  /** Guard options beyond the policy (blankIsNoConfig, unavailableGraceMs, maxRemovedFraction). */
  guard?: Omit<ConfigGuardOptions, 'policy' | 'onAlert' | 'onEvent' | 'now'>;
  /** How often the owner reads Buftee's pressure. Default 100 ms. */
  pressureWatchMs?: number;
  /**
   * A rise to soft pressure this soon after the last `buftee_pressure` alert is logged as a warning,
   * not raised again (pressure-alerts.ts); a rise to hard always is. Default 60 s (0 to 1 h).
   */
  pressureAlertHoldMs?: number;
  /**
   * V8's initial old generation for the stages' isolates, in MiB (runtime/isolate-heap.ts): fewer
   * full GCs for a little more memory. A process-wide V8 flag, set at start() for the workers made
   * after it. Default 32; 0 leaves V8's sizing (or the process's own flag) alone; at most 256.
   */
  stageInitialOldSpaceMb?: number;
  /** Where alert lines (and the owner's other lines) go. Default: the supervisor's log options. */
  log?: LoggerOptions;
  /** The datasets taken in; events of any other are counted `unconfigured`. Default both. */
  datasets?: readonly Dataset[];
  /** The stages' supervisor: restarts allowed per period before it gives up. Default 10 per 10 s. */
  supervision?: { intensity?: number; periodMs?: number };
  /**
   * Where Buftee's buffers live: in this process (`embedded`, the default) or in NATS JetStream
   * (`nats`, with `nats` options). Nothing above or below Buftee knows which one runs.
   */
  backend?: 'embedded' | 'nats';
  nats?: NatsBufteeOptions;
  /**
   * With the NATS backend, which stages this process runs: `all` (default), `edge` (sources,
   * Logfwdr, Logreceiver, Buftee's publisher) or `push` (Buftee's consumer, Logpush).
   */
  role?: Role;
}

export type PipelineAlertName = AlertName | 'buftee_pressure';

/** An alert of the guard, or of Buftee's pressure (with its level). */
export interface PipelineAlert extends Omit<GuardAlert, 'alert'> {
  readonly alert: PipelineAlertName;
  readonly level?: Pressure;
}

export interface PipelineStats {
  ledger: LedgerSnapshot;
  totals: LedgerEntry;
  /** Every job's ingested = delivered + dropped + inFlight, and inFlight >= 0. */
  balanced: boolean;
  /** Events not delivered for a reason other than the job's own filter or sampling. */
  lost: number;
  stages: Record<string, Record<string, unknown>>;
  generation: number;
  mode: string;
  /** Buftee's pressure as published in shared memory. */
  pressure: PressureSnapshot;
  /** The owner made the stages fall back to the last known good during a fail-open episode. */
  fallback: boolean;
  /** Alerts raised so far, by name. */
  alerts: Record<string, number>;
}

const STAGES = ['logpush', 'buftee', 'logreceiver', 'logfwdr'] as const;
/**
 * Each stage's V8 young generation, in MiB (semi-spaces of 4 MiB; Node's default is 48 MiB, 16 MiB
 * semi-spaces). Six isolates that churn through batches all grew theirs to the full size: the V8
 * heap pages took ~233 MiB of bench:pipeline's peak RSS for ~90 MiB of live heap. At 12 MiB the
 * peak fell ~70-100 MiB (2 M events: 933 against 1,005 MiB; 4 M: 1,008-1,034 against
 * 1,109-1,142 MiB) and the GC did no more work (pauses summed over all isolates with --trace-gc:
 * 1,375 ms against 1,400 ms; more scavenges, each one shorter).
 */
export const STAGE_YOUNG_GENERATION_MB = 12;
/** See PipelineOptions.stageInitialOldSpaceMb and runtime/isolate-heap.ts. */
export const DEFAULT_STAGE_INITIAL_OLD_SPACE_MB = 32;

/** The events of `totals` dropped for a reason the jobs did not ask for (all but filtered and sampled): PipelineStats.lost. */
export function lostIn(totals: LedgerEntry): number {
  let lost = 0;
  for (const reason of DROP_REASONS) if (!INTENTIONAL_REASONS.has(reason)) lost += totals.dropped[reason];
  return lost;
}

export class Pipeline extends EventEmitter<{ alert: [PipelineAlert]; config: [number] }> {
  readonly ledger: Ledger;
  readonly guard: ConfigGuard;
  readonly pressure: PressureGauges;
  readonly log: Logger;
  private readonly pressureBuffer: SharedArrayBuffer;
  private readonly alertCounts_: Record<string, number> = {};
  private fallback = false;
  /** The accepted config's jobs in shared memory, built once per config. */
  private jobTable: { config: unknown; table: JobTable } | null = null;
  private readonly pressureAlerts: PressureAlerts;
  private readonly stageInitialOldSpaceMb: number;
  private watcher: NodeJS.Timeout | null = null;
  readonly structures: CodecStructures = PIPELINE_STRUCTURES;
  private supervisor: Supervisor | null = null;
  private provider: Provider | null = null;
  private writer: BatchWriter;
  private running = false;
  /** This process in Buftee's message ids (NATS de-duplication): 64 random bits. */
  readonly nonce = randomBytes(8).toString('hex');
  private ingesting: Promise<void> = Promise.resolve();
  /** Gauge GATE_OPEN = 1 once the generator may run (generator.paused; see resumeGenerator). */
  private readonly generatorGate = SharedGauges.create(1);
  private readonly tcpSources: TcpSource[];
  private readonly httpSource: HttpSource | null;
  readonly role: Role;
  private readonly nats: ResolvedNatsOptions | null;

  constructor(private readonly options: PipelineOptions) {
    super();
    this.role = options.role ?? 'all';
    if (options.backend === 'nats') {
      if (options.nats === undefined) throw new Error('pipeline: backend nats needs nats options (servers)');
      this.nats = resolveNatsOptions(options.nats);
    } else {
      if (this.role !== 'all') throw new Error(`pipeline: role ${this.role} needs backend nats (the embedded Buftee lives in one process)`);
      this.nats = null;
    }
    if (this.role === 'push' && (options.generator !== undefined || (options.sources?.tcp?.length ?? 0) > 0 || options.sources?.http !== undefined)) {
      throw new Error('pipeline: a push process has no sources (they belong to an edge process)');
    }
    this.ledger = Ledger.create({ maxJobs: options.maxJobs ?? 100_000 });
    const log = options.log ?? options.supervisor?.log ?? {};
    this.log = createLogger({ component: 'pipeline' }, { level: log.level ?? 'info', destination: log.destination ?? 2 });
    this.pressureAlerts = new PressureAlerts(options.pressureAlertHoldMs ?? DEFAULT_PRESSURE_ALERT_HOLD_MS);
    const sweep = options.destinations?.objectStore?.sweepIntervalMs;
    if (sweep !== undefined) checkSweepIntervalMs(sweep, 'pipeline: destinations.objectStore.sweepIntervalMs');
    this.stageInitialOldSpaceMb = checkInitialOldSpaceMb(options.stageInitialOldSpaceMb ?? DEFAULT_STAGE_INITIAL_OLD_SPACE_MB, 'pipeline: stageInitialOldSpaceMb');
    this.pressureBuffer = createPressureGauges();
    this.pressure = new PressureGauges(this.pressureBuffer);
    this.guard = new ConfigGuard({
      ...options.guard,
      policy: options.policy ?? 'last-known-good',
      onAlert: (alert) => this.raise(alert),
      onEvent: (event) => {
        // The episode is over: the fallback it caused is too.
        if (event.type === 'mode_changed' && event.mode !== 'fail-open') this.fallback = false;
        if (event.type === 'accepted' || event.type === 'mode_changed') void this.pushConfig();
      },
    });
    this.writer = new BatchWriter(new Codec(this.structures));
    const onRefused = ledgerRefusals(this.ledger);
    this.tcpSources = (options.sources?.tcp ?? []).map((o) => new TcpSource(this, { ...o, onRefused }));
    this.httpSource = options.sources?.http === undefined ? null : new HttpSource(this, { ...options.sources.http, onRefused });
  }

  /** Ports the network sources listen on (after start). */
  get ports(): { tcp: number[]; http: number | null } {
    return { tcp: this.tcpSources.map((s) => s.port), http: this.httpSource?.port ?? null };
  }

  /** The config every stage gets now: the guard's jobs, each with its ledger slot. */
  stageConfig(): StageConfig {
    const current = this.guard.current?.config ?? null;
    if (this.jobTable === null || this.jobTable.config !== current) {
      const jobs = (current?.jobs ?? []) as JobConfig[];
      // Encoded once per accepted config, into shared memory every stage reads (job-table.ts).
      this.jobTable = { config: current, table: JobTable.build(jobs, (id) => this.ledger.slot(id)) };
    }
    const mode = this.fallback && this.guard.mode === 'fail-open' ? 'configured' : this.guard.mode;
    return { generation: this.guard.generation, mode, jobs: this.jobTable.table.handle, ledger: this.ledger.handle() };
  }

  /** Logs an alert as an error line with its stable name, counts it, and emits it. */
  private raise(alert: PipelineAlert): void {
    this.alertCounts_[alert.alert] = (this.alertCounts_[alert.alert] ?? 0) + 1;
    const { message, ...fields } = alert;
    this.log.error(fields, message);
    this.emit('alert', alert);
  }

  /** Reads Buftee's pressure: a rise is an alert, and during fail-open the trigger of the fallback. */
  private watchPressure(): void {
    const snapshot = this.pressure.snapshot();
    const level = snapshot.level;
    const change = this.pressureAlerts.next(level, performance.now());
    if (change === 'none') return;
    if (change === 'cleared') {
      this.log.info({ pressure: level, buffers: snapshot.buffers }, 'buftee pressure cleared; forwarding resumes');
      return;
    }
    const falling = this.guard.mode === 'fail-open' && !this.fallback;
    const limit = snapshot.maxBuffers === null ? 'no limit' : `limit ${snapshot.maxBuffers}`;
    const sheds = level === 'hard' ? 'the fail-open surplus and each job beyond its fair share' : 'the fail-open surplus';
    if (change === 'repeat') {
      this.log.warn(
        { pressure: level, repeats: this.pressureAlerts.repeats, buffers: snapshot.buffers, bytes: snapshot.bytes },
        `buftee pressure ${level} again within ${this.pressureAlerts.holdMs} ms of its alert (${(snapshot.bytes / 2 ** 20).toFixed(1)} MiB held); Logfwdr sheds ${sheds}`,
      );
    } else this.raise({
      alert: 'buftee_pressure',
      level,
      message:
        `Buftee pressure ${level}: ${snapshot.buffers} buffers (${limit}), ${(snapshot.bytes / 2 ** 20).toFixed(1)} MiB held; ` +
        `Logfwdr sheds ${sheds}` +
        (falling ? '; falling back to the last known good config until the fail-open episode ends' : ''),
      generation: this.guard.generation,
      at: Date.now(),
    });
    // A fail-open episode falls back whether or not this rise was an alert of its own.
    if (falling) {
      this.fallback = true;
      void this.pushConfig();
    }
  }

  async start(): Promise<void> {
    const source = this.options.config;
    if ('jobs' in source) {
      this.guard.offer({ kind: 'value', source: 'options.config', value: { jobs: source.jobs } });
    } else {
      const onEvent = (e: Parameters<ConfigGuard['handle']>[0]): void => void this.guard.handle(e);
      this.provider =
        'file' in source
          ? fileProvider(source.file, { onEvent, intervalMs: source.intervalMs })
          : 'url' in source
            ? httpProvider(source.url, { onEvent, intervalMs: source.intervalMs })
            : functionProvider(source.fn, { onEvent, intervalMs: source.intervalMs });
      await this.provider.refresh();
    }
    const config = this.stageConfig();
    const structures = this.structures;
    // Logpush → Buftee acks travel on a ring of their own (see BufteeArgs.acks); 1 MiB holds ~40,000.
    const acks = createRing({ capacity: 1 << 20 });
    // Logpush's HELLO nonce, for a Buftee that starts after its predecessor read the HELLO (messages.ts).
    const link = SharedGauges.create(LINK_GAUGES).buffer;
    const gen = this.options.generator;
    const mailboxBytes = 8 << 20;
    const resourceLimits = { maxYoungGenerationSizeMb: STAGE_YOUNG_GENERATION_MB };
    // Before the first worker: V8 reads it as each isolate is made (a restarted stage's too).
    setInitialOldSpaceForNewIsolates(this.stageInitialOldSpaceMb);
    const logpush = { id: 'logpush', type: 'worker', module: new URL('./logpush/logpush.actor.ts', import.meta.url), mailboxBytes, resourceLimits, args: { acks, link, bufteeKeepsSent: this.nats !== null, structures, config, destinations: this.options.destinations, idleDeliveryMs: this.options.logpush?.idleDeliveryMs, maxConcurrentPuts: this.options.logpush?.maxConcurrentPuts, pressureSealAheadMs: this.options.logpush?.pressureSealAheadMs, pressure: this.pressureBuffer } };
    const pushes = this.role !== 'edge';
    const buftee =
      this.nats === null
        ? { id: 'buftee', type: 'worker', module: new URL('./buftee/buftee.actor.ts', import.meta.url), sendsTo: ['logpush'], mailboxBytes, resourceLimits, args: { target: 'logpush', acks, link, config, buftee: this.options.buftee, pressure: this.pressureBuffer } }
        : {
            id: 'buftee',
            type: 'worker',
            module: new URL('./buftee/nats/nats-buftee.actor.ts', import.meta.url),
            sendsTo: pushes ? ['logpush'] : [],
            mailboxBytes,
            resourceLimits,
            args: { role: this.role, nats: this.nats, nonce: this.nonce, config, buftee: this.options.buftee, pressure: this.pressureBuffer, inFlight: createInFlight(this.nats.maxInFlightPublishes), ...(pushes ? { target: 'logpush', acks, link } : {}) },
          };
    const children: Record<string, unknown>[] = [...(pushes ? [logpush] : []), buftee];
    if (this.role !== 'push') {
      children.push(
        { id: 'logreceiver', type: 'worker', module: new URL('./logreceiver/logreceiver.actor.ts', import.meta.url), sendsTo: ['buftee'], mailboxBytes, resourceLimits, args: { target: 'buftee', structures, config } },
        { id: 'logfwdr', type: 'worker', module: new URL('./logfwdr/logfwdr.actor.ts', import.meta.url), sendsTo: ['logreceiver'], mailboxBytes, resourceLimits, args: { target: 'logreceiver', structures, config, pressure: this.pressureBuffer } },
      );
    }
    if (gen !== undefined) {
      const { ratePerSecond, limit, batchEvents, paused, ...generator } = gen;
      if (paused !== true) this.generatorGate.store(GATE_OPEN, 1);
      children.push({
        id: 'source',
        type: 'worker',
        module: new URL('./sources/generator.actor.ts', import.meta.url),
        sendsTo: ['logfwdr'],
        restart: 'transient',
        resourceLimits,
        args: { target: 'logfwdr', generator, ratePerSecond, limit, batchEvents, gate: this.generatorGate.buffer },
      });
    }
    this.supervisor = createSupervisor(
      {
        id: 'pipeline',
        type: 'supervisor',
        strategy: 'one_for_one',
        intensity: this.options.supervision?.intensity ?? 10,
        periodMs: this.options.supervision?.periodMs ?? 10_000,
        children,
      },
      { log: { level: 'warn' }, ...this.options.supervisor },
    );
    await this.supervisor.start();
    this.running = true;
    this.watcher = setInterval(() => this.watchPressure(), this.options.pressureWatchMs ?? 100);
    this.watcher.unref();
    try {
      for (const source of this.tcpSources) await source.listen();
      await this.httpSource?.listen();
    } catch (error) {
      // A port in use, say: no worker is left running behind a failed start.
      await this.stop();
      throw error;
    }
    this.provider?.start();
  }

  get tree(): Supervisor {
    if (this.supervisor === null) throw new Error('the pipeline is not started');
    return this.supervisor;
  }

  /**
   * Offers a config document (`{ generation?, jobs }`, decoded) to the guard, as a provider would:
   * SIGHUP's reload. Refused ones keep the last known good, with an alert.
   */
  reload(document: unknown, source: string): ReturnType<ConfigGuard['offer']> {
    return this.guard.offer({ kind: 'value', source, value: document });
  }

  /** Asks the config provider (a file or URL) for its config now; false when jobs were given inline. */
  async refreshProvider(): Promise<boolean> {
    if (this.provider === null) return false;
    await this.provider.refresh();
    return true;
  }

  private async pushConfig(): Promise<void> {
    if (!this.running) return;
    const config = this.stageConfig();
    for (const id of STAGES) await this.tree.find(id)?.control.reconfigure(config, 10_000);
    this.emit('config', config.generation);
  }

  /** Lets a generator created with `paused: true` run (a no-op when it runs already). */
  resumeGenerator(): void {
    this.generatorGate.store(GATE_OPEN, 1);
    this.generatorGate.notify(GATE_OPEN);
  }

  /**
   * Feeds events of `dataset` into Logfwdr (the embedders' source). Each event needs a ZoneID;
   * an invalid one is counted in the ledger (malformed, or unconfigured for an unknown dataset)
   * and reported in the result, never thrown.
   */
  ingest(dataset: string, events: readonly unknown[]): Promise<{ accepted: number; refused: number; reasons: Record<string, number> }> {
    // One call at a time: calls share one batch writer, whose finished bytes the next begin reuses.
    const result = this.ingesting.then(() => this.ingestNow(dataset, events));
    this.ingesting = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async ingestNow(dataset: string, events: readonly unknown[]): Promise<{ accepted: number; refused: number; reasons: Record<string, number> }> {
    const reasons: Record<string, number> = {};
    const writer = this.writer;
    const ref = this.tree.ref('logfwdr');
    const receivedNs = Date.now() * 1e6;
    let accepted = 0;
    let open = false;
    const sendOpen = async (): Promise<void> => {
      if (open && writer.count > 0) await ref.send(writer.finish(), TYPE_EVENTS);
      open = false;
    };
    const taken = this.options.datasets === undefined || (this.options.datasets as readonly string[]).includes(dataset);
    for (const value of events) {
      if (!taken) {
        reasons.unconfigured = (reasons.unconfigured ?? 0) + 1;
        continue;
      }
      const result = toEvent(dataset, value, receivedNs);
      if (!result.ok) {
        reasons[result.reason] = (reasons[result.reason] ?? 0) + 1;
        continue;
      }
      const e = result.event;
      if (!open) {
        writer.begin(e.dataset as Dataset);
        open = true;
      }
      try {
        if (!writer.tryAddEvent(e.key, e.timestamp, e.event)) {
          await sendOpen();
          writer.begin(e.dataset);
          open = true;
          writer.addEvent(e.key, e.timestamp, e.event);
        }
      } catch (error) {
        // An event that cannot fit even an empty batch (over its 1 MiB), or that msgpack cannot hold.
        if (!isCodecError(error)) throw error;
        const reason = error.code === 'ERR_CODEC_TOO_LARGE' ? 'oversized' : 'malformed';
        reasons[reason] = (reasons[reason] ?? 0) + 1;
        continue;
      }
      accepted++;
    }
    let refused = 0;
    try {
      await sendOpen();
    } finally {
      for (const [reason, n] of Object.entries(reasons)) {
        refused += n;
        this.ledger.ingest(NONE_SLOT, n);
        this.ledger.drop(NONE_SLOT, reason as (typeof DROP_REASONS)[number], n);
      }
    }
    return { accepted, refused, reasons };
  }

  async stats(): Promise<PipelineStats> {
    const stages = this.supervisor === null ? [] : await this.supervisor.stats(1000);
    const totals = this.ledger.totals();
    const lost = lostIn(totals);
    return {
      ledger: this.ledger.snapshot(),
      totals,
      balanced: this.ledger.balanced(),
      lost,
      // The supervisor's figures last: a stage's own stats cannot stand in for its restarts.
      stages: Object.fromEntries(stages.map((s) => [s.id, { ...s.actor, restarts: s.restartCount, mailboxBytes: s.mailboxBytes }])),
      generation: this.guard.generation,
      mode: this.guard.mode,
      pressure: this.pressure.snapshot(),
      fallback: this.fallback,
      alerts: { ...this.alertCounts_ },
    };
  }

  /** The guard's mode, with `+fallback` while the owner holds the stages on the last known good. */
  mode(): string {
    return this.fallback && this.guard.mode === 'fail-open' ? 'fail-open+fallback' : this.guard.mode;
  }

  /** Alerts raised so far, by name (also in stats().alerts, without asking the workers). */
  alertCounts(): Record<string, number> {
    return { ...this.alertCounts_ };
  }

  /** Events ingested and neither delivered nor dropped yet, over every job. */
  inFlight(): number {
    return this.ledger.totals().inFlight;
  }

  /**
   * Stops taking input, delivers everything in flight (each stage drains, senders first; Logpush
   * seals its open objects), then stops every stage. Resolves with whether nothing was left in flight.
   */
  async stop(): Promise<boolean> {
    if (this.supervisor === null) return true;
    // Network sources first: what they read is handed to Logfwdr before the stages drain.
    await Promise.all([...this.tcpSources, ...(this.httpSource === null ? [] : [this.httpSource])].map((s) => s.close()));
    await this.ingesting;
    this.provider?.stop();
    const tree = this.supervisor;
    const deadline = Date.now() + (this.options.drainTimeoutMs ?? 60_000);
    // An edge process drains Buftee too: its publisher's mailbox, into JetStream.
    for (const id of this.role === 'edge' ? ['source', 'logfwdr', 'logreceiver', 'buftee'] : ['source', 'logfwdr', 'logreceiver']) {
      await tree.find(id)?.control.drain(Math.max(1000, deadline - Date.now())).catch(() => {});
    }
    // The fail-open surplus Buftee holds has no reader: outside fail-open it is deleted (and
    // counted `unconfigured`), so the drain below waits only for what has a destination. A push
    // process stops fetching: what is still in the streams waits there for the next one.
    const last = { ...this.stageConfig(), mode: 'configured', ...(this.role === 'push' ? { pull: false } : {}) };
    await tree.find('buftee')?.control.reconfigure(last, 10_000).catch(() => {});
    // Buftee keeps sending and Logpush keeps delivering; Logpush's drain seals open objects.
    // The in-flight count sums every job's counters (~5 ms at 100,000 jobs): polled at least 20
    // times its cost apart, so the main thread's share of a long drain stays near 5%.
    const logpush = tree.find('logpush');
    let pollMs = 50;
    const inFlight = (): number => {
      const t0 = performance.now();
      const n = this.inFlight();
      pollMs = Math.max(50, 20 * (performance.now() - t0));
      return n;
    };
    while (inFlight() > 0 && Date.now() < deadline) {
      await logpush?.control.drain(Math.max(1000, deadline - Date.now())).catch(() => {});
      if (inFlight() > 0) await new Promise((r) => setTimeout(r, pollMs));
    }
    const clean = this.inFlight() === 0;
    this.running = false;
    if (this.watcher !== null) clearInterval(this.watcher);
    this.watcher = null;
    await tree.stop();
    this.supervisor = null;
    return clean;
  }
}

export function createPipeline(options: PipelineOptions): Pipeline {
  return new Pipeline(options);
}
