/**
 * What the pipeline's owner (the main thread, which runs the config guard) hands every stage
 * through `reconfigure()`: plain data, posted by the control plane.
 */

import type { JobConfig } from './job.js';
import type { LedgerHandle } from './ledger.js';
import type { GuardMode } from './logfwdr/config-guard.js';

export interface StageConfig {
  /** Increases with every accepted config. */
  generation: number;
  /** configured: route by the table; fail-open: forward every zone; fail-closed: forward none. */
  mode: GuardMode;
  jobs: JobConfig[];
  /** Every job's ledger slot is in here (slots are never reused). */
  ledger: LedgerHandle;
}

/** Slot counts kept per batch, flushed to the ledger with one atomic add per touched slot. */
export class SlotTally {
  private readonly counts: Float64Array;
  private readonly touched: number[] = [];

  constructor(slots: number) {
    this.counts = new Float64Array(slots);
  }

  add(slot: number, n: number): void {
    if (this.counts[slot] === 0) this.touched.push(slot);
    this.counts[slot]! += n;
  }

  /** Calls `flush(slot, count)` for every slot counted since the last drain, and resets. */
  drain(flush: (slot: number, count: number) => void): void {
    for (const slot of this.touched) {
      flush(slot, this.counts[slot]!);
      this.counts[slot] = 0;
    }
    this.touched.length = 0;
  }
}
