/**
 * Buftee's pressure, published in shared memory (src/native/shared-gauges.ts): Buftee writes it
 * after every batch and every tick of its loop; Logfwdr reads the level on every batch, without a
 * message, to shed; the pipeline's owner watches it to alert and fall back. One writer.
 */

import { SharedGauges } from '../../native/shared-gauges.js';
import type { Pressure } from './limits.js';

export const PRESSURE_LEVELS: readonly Pressure[] = ['ok', 'soft', 'hard'];

/** The gauges, by index. */
export const LEVEL = 0;
export const BUFFERS = 1;
/** Bytes held, in KiB (an i32 holds 2 TiB of KiB). */
export const KIB = 2;
/** Buffers of zones outside the configured set (fail-open surplus). */
export const UNCONFIGURED_BUFFERS = 3;
/** Times the level rose from ok. */
export const TRIPS = 4;
/** The maxBuffers limit in force; -1 when it is off (unsafe). */
export const MAX_BUFFERS = 5;
/** Bumped on every publication: a reader sees Buftee is alive and publishing. */
export const SEQUENCE = 6;
const COUNT = 7;

export interface PressureSnapshot {
  level: Pressure;
  buffers: number;
  bytes: number;
  unconfiguredBuffers: number;
  trips: number;
  maxBuffers: number | null;
  sequence: number;
}

/** Created by the owner and handed to Buftee (writer) and Logfwdr (reader) in their args. */
export function createPressureGauges(): SharedArrayBuffer {
  return SharedGauges.create(COUNT).buffer;
}

export class PressureGauges {
  readonly gauges: SharedGauges;

  constructor(buffer: SharedArrayBuffer) {
    this.gauges = SharedGauges.attach(buffer);
  }

  /** 0 ok, 1 soft, 2 hard: one atomic load, for the hot path. */
  levelIndex(): number {
    return this.gauges.load(LEVEL);
  }

  level(): Pressure {
    return PRESSURE_LEVELS[this.gauges.load(LEVEL)] ?? 'ok';
  }

  /** Buftee's side: publishes its state; counts a trip when the level rises from ok. */
  publish(level: Pressure, buffers: number, bytes: number, unconfiguredBuffers: number, maxBuffers: number): void {
    const g = this.gauges;
    const index = PRESSURE_LEVELS.indexOf(level);
    if (index > 0 && g.load(LEVEL) === 0) g.add(TRIPS, 1);
    g.store(BUFFERS, buffers);
    g.store(KIB, Math.min(0x7fffffff, Math.ceil(bytes / 1024)));
    g.store(UNCONFIGURED_BUFFERS, unconfiguredBuffers);
    g.store(MAX_BUFFERS, Number.isFinite(maxBuffers) ? maxBuffers : -1);
    g.store(LEVEL, index);
    g.add(SEQUENCE, 1);
  }

  snapshot(): PressureSnapshot {
    const g = this.gauges;
    const max = g.load(MAX_BUFFERS);
    return {
      level: this.level(),
      buffers: g.load(BUFFERS),
      bytes: g.load(KIB) * 1024,
      unconfiguredBuffers: g.load(UNCONFIGURED_BUFFERS),
      trips: g.load(TRIPS),
      maxBuffers: max < 0 ? null : max,
      sequence: g.load(SEQUENCE),
    };
  }
}
