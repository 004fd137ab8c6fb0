/**
 * Sweeps an object-store directory of the temporary files that dead writers left behind.
 *
 * Every temporary file of a store lies in a job's folder and is named `.<job>.<writer>-<n>.tmp`
 * (object-store.ts): an object's staged lines, and the body of a put in progress. A Logpush that
 * dies (a crashed thread, a killed process) leaves them. The janitor removes the ones that no live
 * writer can still be using: another writer's, untouched for STALE_STAGED_MS.
 *
 * It walks the whole store, one job folder after another, not only the folders of jobs a thread
 * writes. A job that never comes back (removed from the config, or now sharded to another thread)
 * would otherwise keep its litter for good. It walks once when a thread first uses the directory,
 * then every `intervalMs` while a destination of the thread uses it (less often for a store so
 * large that a walk would take more than 1% of the time: gapMs). A thread has one janitor per
 * directory, whatever the number of jobs and destinations.
 *
 * The walk streams the store's folder (`opendir`): memory does not grow with the number of jobs.
 * Its cost is one folder read per job folder and walk. It reads no date folder (objects live there, no temporary
 * file does), and it follows no symlink: a job folder that is a link is skipped, so nothing outside
 * the store is removed.
 */

import type { Dir, Dirent } from 'node:fs';
import { opendir, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { NAME_PATTERN } from '../../job.js';

/**
 * A temporary file of another writer untouched this long is litter (its writer died). An open
 * object's staged file is written at least every upload interval (at most 300 s), and a put that
 * is tried again touches its file first, so 30 minutes leaves every live one alone.
 */
export const STALE_STAGED_MS = 30 * 60 * 1000;
/** How often a thread's janitor walks a store it uses. */
export const DEFAULT_SWEEP_INTERVAL_MS = 15 * 60 * 1000;
const MAX_SWEEP_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** A walk's share of the time at most: the next walk waits this many times the last walk's length, if that is longer than the interval. */
const WALK_DUTY = 100;
/** Directories a thread keeps a janitor for; past this, idle ones are forgotten first. */
const MAX_JANITORS = 1024;

/** `ms` if it is a valid sweep interval (an integer from 1 s to 24 h); else throws a RangeError naming `what`. */
export function checkSweepIntervalMs(ms: unknown, what: string): number {
  if (!(Number.isInteger(ms) && (ms as number) >= 1000 && (ms as number) <= MAX_SWEEP_INTERVAL_MS)) {
    throw new RangeError(`${what} must be an integer number of ms from 1000 to ${MAX_SWEEP_INTERVAL_MS}, got ${String(ms)}`);
  }
  return ms as number;
}

export interface JanitorOptions {
  /** Between two walks, in ms. */
  readonly intervalMs: number;
  /** Wall clock in ms (file times are compared with it). */
  readonly now: () => number;
  /** Part of the names of this thread's own temporary files: never removed. */
  readonly ours: string;
  /** A monotonic clock in ms, for the schedule and the walks' length. Default performance.now. */
  readonly monotonicNow?: () => number;
}

export interface JanitorStats {
  /** Walks begun. */
  readonly passes: number;
  /** Files removed. */
  readonly removed: number;
}

export class StoreJanitor {
  private users = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<void> | null = null;
  /** When the last walk began and how long it took (the monotonic clock's ms). */
  private lastPassAt = Number.NEGATIVE_INFINITY;
  private lastWalkMs = 0;
  passes = 0;
  removed = 0;

  constructor(
    readonly directory: string,
    private readonly options: JanitorOptions,
  ) {}

  get idle(): boolean {
    return this.users === 0;
  }

  /**
   * Between the start of one walk and the next: the interval, or WALK_DUTY times as long as the
   * last walk took, whichever is longer. A walk reads every job folder, ~60-80 µs of CPU each
   * (libuv's threads included), so a store of 1,000,000 job folders takes about a minute of CPU a
   * walk: every 15 minutes that would be ~7% of a core, at most 1% this way.
   */
  get gapMs(): number {
    return Math.max(this.options.intervalMs, WALK_DUTY * this.lastWalkMs);
  }

  /** A destination begins using the store: walks it now unless the last walk is within the gap, then again after each gap. */
  acquire(): void {
    this.users++;
    if (this.timer === null && this.running === null) this.schedule();
  }

  /** A destination is done with the store: the schedule stops with the last one. */
  release(): void {
    if (this.users === 0) return;
    if (--this.users === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** One walk of the store (joins the walk under way, if any). Never rejects. */
  pass(): Promise<void> {
    this.running ??= this.walk().finally(() => {
      this.running = null;
      if (this.users > 0 && this.timer === null) this.schedule();
    });
    return this.running;
  }

  /** The next walk, a gap after the last one began (now, if that is past). */
  private schedule(): void {
    const wait = Math.max(0, this.lastPassAt + this.gapMs - this.clock());
    if (wait === 0) {
      void this.pass();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.pass();
    }, wait);
    // Never what keeps a process alive.
    this.timer.unref();
  }

  private clock(): number {
    const now = this.options.monotonicNow;
    return now === undefined ? performance.now() : now();
  }

  private async walk(): Promise<void> {
    const began = this.clock();
    this.lastPassAt = began;
    this.passes++;
    const before = this.options.now() - STALE_STAGED_MS;
    const removedBefore = this.removed;
    let root: Dir | null = null;
    try {
      // The store's own folder streamed, 1,024 entries at a time: it may hold a million job folders.
      root = await opendir(this.directory, { bufferSize: 1024 });
      for (let entry = await root.read(); entry !== null; entry = await root.read()) {
        // isDirectory() is false for a symlink: a linked folder is not followed.
        if (entry.isDirectory() && NAME_PATTERN.test(entry.name)) await this.sweepJob(entry.name, before);
      }
    } catch {
      // No store yet, or it went away while walked: the next walk sees what is there then.
    } finally {
      await root?.close().catch(() => undefined);
    }
    this.lastWalkMs = this.clock() - began;
    const removed = this.removed - removedBefore;
    if (removed > 0 && reporter !== null) {
      try {
        reporter(this.directory, removed);
      } catch {
        // A reporter's failure is not the walk's.
      }
    }
  }

  private async sweepJob(jobId: string, before: number): Promise<void> {
    const folder = path.join(this.directory, jobId);
    const prefix = `.${jobId}.`;
    const ours = this.options.ours;
    let entries: Dirent[];
    try {
      // A job folder is small (its date folders and open objects' files): read whole, one request
      // to libuv (a Dir per folder took ~3x the CPU).
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      return; // The folder went away.
    }
    for (const entry of entries) {
      const name = entry.name;
      if (!entry.isFile() || !name.startsWith(prefix) || !name.endsWith('.tmp') || name.includes(ours)) continue;
      const file = path.join(folder, name);
      try {
        if ((await stat(file)).mtimeMs < before) {
          await unlink(file);
          this.removed++;
        }
      } catch {
        // Gone already (its writer finished it), or not ours to remove: left as it is.
      }
    }
  }
}

/** This thread's janitors, by directory. */
const janitors = new Map<string, StoreJanitor>();
/** Told of each walk that removed files (Logpush logs it). */
let reporter: ((directory: string, removed: number) => void) | null = null;

/** Sets (or, with null, clears) what this thread's janitors tell after a walk that removed files. */
export function reportJanitorRemovals(report: ((directory: string, removed: number) => void) | null): void {
  reporter = report;
}

/** Walks and files removed by the janitors this thread keeps (one forgotten past MAX_JANITORS takes its counts along). */
export function janitorTotals(): JanitorStats {
  let passes = 0;
  let removed = 0;
  for (const janitor of janitors.values()) {
    passes += janitor.passes;
    removed += janitor.removed;
  }
  return { passes, removed };
}

/** This thread's janitor of `directory` (made on first use), acquired: release it when done. */
export function acquireJanitor(directory: string, options: JanitorOptions): StoreJanitor {
  let janitor = janitors.get(directory);
  if (janitor === undefined) {
    if (janitors.size >= MAX_JANITORS) {
      for (const [dir, other] of janitors) if (other.idle) janitors.delete(dir);
    }
    janitor = new StoreJanitor(directory, options);
    // Still full of busy ones: this one works unshared.
    if (janitors.size < MAX_JANITORS) janitors.set(directory, janitor);
  }
  janitor.acquire();
  return janitor;
}

/** Walks and files removed by this thread's janitor of `directory`, if it has one. */
export function janitorStats(directory: string): JanitorStats | undefined {
  const janitor = janitors.get(path.resolve(directory));
  return janitor === undefined ? undefined : { passes: janitor.passes, removed: janitor.removed };
}
