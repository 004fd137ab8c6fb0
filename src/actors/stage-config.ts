/**
 * What the pipeline's owner (the main thread, which runs the config guard) hands every stage
 * through `reconfigure()`: plain data, posted by the control plane.
 */

import type { JobConfig } from './job.js';
import { isJobTableHandle, JobTable, type StageJobs } from './job-table.js';
import type { RoutingIndex } from './routing-index.js';
import type { LedgerHandle } from './ledger.js';
import type { GuardMode } from './logfwdr/config-guard.js';
import { isCodecError, type BatchReader } from '../runtime/codec.js';
import { NONE_SLOT, type LedgerView } from './ledger.js';

export interface StageConfig {
  /** Increases with every accepted config. */
  generation: number;
  /** configured: route by the table; fail-open: forward every zone; fail-closed: forward none. */
  mode: GuardMode;
  /** The pipeline sends a JobTable (shared memory, decoded on demand); tests and embedders may give a list. */
  jobs: StageJobs;
  /** Every job's ledger slot is in here (slots are never reused). */
  ledger: LedgerHandle;
}

/** The config's jobs one at a time: decoded from the table, or the list as given. */
export function eachJob(jobs: StageJobs): Iterable<JobConfig> {
  return isJobTableHandle(jobs) ? JobTable.attach(jobs).jobs() : jobs;
}

/** Where each zone's events go under `config` (Logfwdr, Logreceiver): the table's routing index. Jobs of a plain list without a slot route to "-". */
export function routesOf(config: StageConfig, ledger: LedgerView): RoutingIndex {
  return JobTable.of(config.jobs, (id) => ledger.slotOf(id) ?? NONE_SLOT).routing;
}

/** What Buftee keeps of each enabled job: its id, dataset and overflow policy (never the whole config). */
export function enabledJobs(jobs: StageJobs): Pick<JobConfig, 'id' | 'dataset' | 'overflow'>[] {
  const out: Pick<JobConfig, 'id' | 'dataset' | 'overflow'>[] = [];
  for (const j of eachJob(jobs)) if (j.enabled !== false) out.push({ id: j.id, dataset: j.dataset, overflow: j.overflow });
  return out;
}

/** Slot counts kept per batch, flushed to the ledger with one atomic add per touched slot. */
export class SlotTally {
  private readonly counts: Float64Array;
  /**
   * The slots counted since the last drain are its first `touchedCount` entries. Never shortened:
   * emptying it after each drain made every batch grow it again (Logreceiver's and Logfwdr's
   * allocation after the batch copies); it holds at most one entry per slot.
   */
  private readonly touched: number[] = [];
  private touchedCount = 0;

  constructor(slots: number) {
    this.counts = new Float64Array(slots);
  }

  /** Counts `n` (> 0) more for `slot`. */
  add(slot: number, n: number): void {
    if (this.counts[slot] === 0) this.touched[this.touchedCount++] = slot;
    this.counts[slot]! += n;
  }

  /** Calls `flush(slot, count)` for every slot counted since the last drain, and resets. */
  drain(flush: (slot: number, count: number) => void): void {
    const touched = this.touched;
    for (let i = 0; i < this.touchedCount; i++) {
      const slot = touched[i]!;
      flush(slot, this.counts[slot]!);
      this.counts[slot] = 0;
    }
    this.touchedCount = 0;
  }
}

/**
 * Resets `reader` on a stage's incoming batch; a batch that is not one is a single ledger entry
 * (`malformed` under "-") and a warning, and the stage keeps serving. False when it was counted so.
 */
export function readBatchOrCount(reader: BatchReader, batch: Uint8Array, ledger: LedgerView, log: { warn(o: object, m: string): void }): boolean {
  try {
    reader.reset(batch);
    return true;
  } catch (error) {
    if (!isCodecError(error)) throw error;
    ledger.ingest(NONE_SLOT, 1);
    ledger.drop(NONE_SLOT, 'malformed', 1);
    log.warn({ err: error }, 'malformed batch dropped');
    return false;
  }
}
