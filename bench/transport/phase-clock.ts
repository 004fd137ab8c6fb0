/**
 * Main's side of a cell's phases: WARMUP from `start`, MEASURE after the warm-up, STOP after the
 * measurement. Main-thread producers call `tick` between batches, so the phases follow the clock
 * without a timer (a busy producer gives timers no chance to run).
 */

import { PHASE_IDLE, PHASE_INDEX, PHASE_MEASURE, PHASE_STOP, PHASE_WARMUP } from './protocol.js';

export interface CellTiming {
  warmupMs: number;
  measureMs: number;
}

export function publishPhase(control: Int32Array, phase: number): void {
  // Publishes the phase to every thread of the cell.
  Atomics.store(control, PHASE_INDEX, phase);
  // Wakes producer workers blocked until the cell starts.
  Atomics.notify(control, PHASE_INDEX);
}

export class PhaseClock {
  private readonly control: Int32Array;
  private readonly timing: CellTiming;
  private phase = PHASE_IDLE;
  private measureAt = 0;
  private stopAt = 0;

  constructor(control: Int32Array, timing: CellTiming) {
    this.control = control;
    this.timing = timing;
  }

  start(): void {
    const now = performance.now();
    this.measureAt = now + this.timing.warmupMs;
    this.stopAt = this.measureAt + this.timing.measureMs;
    this.enter(PHASE_WARMUP);
  }

  /** Moves to the phase the clock says; false once STOP is published. */
  tick(): boolean {
    if (this.phase === PHASE_STOP) return false;
    const now = performance.now();
    if (this.phase === PHASE_WARMUP && now >= this.measureAt) this.enter(PHASE_MEASURE);
    if (this.phase === PHASE_MEASURE && now >= this.stopAt) this.enter(PHASE_STOP);
    return this.phase !== PHASE_STOP;
  }

  /** Milliseconds until the next phase change (for a main thread that only coordinates). */
  untilNext(): number {
    const next = this.phase === PHASE_WARMUP ? this.measureAt : this.stopAt;
    return Math.max(0, next - performance.now());
  }

  private enter(phase: number): void {
    this.phase = phase;
    publishPhase(this.control, phase);
  }
}
