/**
 * Counts what a consumer verified during the measurement window, on the consumer's own clock.
 *
 * The window opens at the first phase check that sees MEASURE and closes at the last batch
 * consumed before a check saw STOP. Closing on the last batch rather than on the check itself keeps
 * a consumer that was asleep when STOP came (up to one doorbell sleep, 200 ms) from stretching the
 * window with time in which no producer was writing anyway.
 */

import { PHASE_IDLE, PHASE_INDEX, PHASE_MEASURE, PHASE_STOP, type ConsumedMessage, MSG_CONSUMED } from './protocol.js';
import type { RecordSink } from './record-sink.js';

export class ConsumerMeter {
  private readonly control: Int32Array;
  private phase = PHASE_IDLE;
  private measuring = false;
  /** Records consumed since the worker started, warm-up included. */
  count = 0;
  private startCount = 0;
  private startTime = 0;
  private endCount = 0;
  private endTime = 0;

  constructor(control: Int32Array) {
    this.control = control;
  }

  /** Counts a batch of `n` verified records. */
  add(n: number): void {
    this.count += n;
    if (this.measuring) {
      this.endCount = this.count;
      this.endTime = performance.now();
    }
  }

  /** Checks the phase; true once STOP has been seen. */
  stopped(): boolean {
    // Consumes main's phase changes.
    const phase = Atomics.load(this.control, PHASE_INDEX);
    if (phase === this.phase) return phase === PHASE_STOP;
    if (phase >= PHASE_MEASURE && this.phase < PHASE_MEASURE) {
      this.startCount = this.endCount = this.count;
      this.startTime = this.endTime = performance.now();
      this.measuring = true;
    }
    if (phase === PHASE_STOP) this.measuring = false;
    this.phase = phase;
    return phase === PHASE_STOP;
  }

  report(sink: RecordSink): ConsumedMessage {
    return {
      code: MSG_CONSUMED,
      records: this.endCount - this.startCount,
      elapsedMs: this.endTime - this.startTime,
      totalRecords: this.count,
      errors: sink.errors,
      firstError: sink.firstError,
    };
  }
}
