/**
 * What a drill measures: one sample a second while it runs, and a summary at the end. The
 * terminal table, `--json` and the HTML report (`--report FILE.html`) all read these.
 */

export type DrillName = 'fail-open' | 'cut';
export type DrillPhase = 'steady' | 'blank' | 'after';
export type PressureLevel = 'ok' | 'soft' | 'hard';

/** One second of a drill; rates are per second, the `configured*` counts cumulative. */
export interface DrillSecond {
  /** Seconds since the drill started (1, 2, ...). */
  t: number;
  phase: DrillPhase;
  /** Buffers in Buftee at the end of the second, and the bytes they hold. */
  buffers: number;
  bufferBytes: number;
  pressure: PressureLevel;
  /** The config guard's mode: configured | fail-open | fail-closed (plus `+fallback` when the pipeline forced the last known good). */
  mode: string;
  ingestedPerSec: number;
  deliveredPerSec: number;
  /** Events dropped this second, by ledger reason (only reasons with a non-zero count). */
  droppedPerSec: Record<string, number>;
  configuredIngested: number;
  configuredDelivered: number;
  /** Configured jobs' events dropped for a reason other than their own filter or sampling. */
  configuredLost: number;
  /** Event-loop delay (p99 over the second, ms) of each stage's thread and of `main`. */
  lagMs: Record<string, number>;
  /** How long each stage's stats() took to answer this second (ms). */
  statsMs: Record<string, number>;
  rssMb: number;
  /** Restarts of any stage so far. */
  restarts: number;
}

export interface DrillSummary {
  drill: DrillName;
  unbuckled: boolean;
  zones: number;
  jobs: number;
  blankSeconds: number;
  durationSeconds: number;
  configuredIngested: number;
  configuredDelivered: number;
  configuredLost: number;
  /** Most buffers Buftee held at any sample. */
  maxBuffers: number;
  /** Buftee's maxBuffers limit in force (null when the run was unbuckled). */
  bufferLimit: number | null;
  /** Seconds from the revert until buffers and rates were back to steady state; null if they never were. */
  recoverySeconds: number | null;
  restarts: number;
  /** p99 over every stats() call of every stage (ms). */
  statsP99Ms: number;
  peakRssMb: number;
  droppedByReason: Record<string, number>;
  /** The configured jobs' drops alone, by reason (non-zero only). */
  configuredDroppedByReason: Record<string, number>;
  /** ingested = delivered + dropped + in flight for every job, with nothing in flight at the end. */
  ledgerBalanced: boolean;
  /** Why the run ended before its duration (the unbuckled run's safety cap), or null. */
  stoppedBy: string | null;
  /** Alerts raised, by stable name. */
  alerts: Record<string, number>;
  /** The cut drill: per stage, kills and the time its successor took to be running again (ms). */
  cuts?: Record<string, { kills: number; recoverMs: number[] }>;
  seconds: DrillSecond[];
}
