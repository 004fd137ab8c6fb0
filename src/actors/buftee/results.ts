/**
 * What Buftee's operations return: every refusal names its reason (a DropReason, so the caller
 * counts it in the ledger as is) and the events it carried; every drop says whose events they were.
 */

import type { DropReason } from '../job.js';
import type { BufferedBatch, DroppedBatches } from './buffer.js';
import type { LimitName, OverflowPolicy, Pressure } from './limits.js';
import type { Resolution } from './resolutions.js';

export type RefusalReason = Extract<DropReason, 'buffer_limit' | 'buffer_full' | 'oversized' | 'malformed'>;
export const REFUSAL_REASONS: readonly RefusalReason[] = ['buffer_limit', 'buffer_full', 'oversized', 'malformed'];

export type AppendResult =
  | {
      readonly status: 'appended';
      readonly offset: number;
      /** This append created the buffer. */
      readonly created: boolean;
      /** What drop_oldest freed to make room: count `buffer_full` for its unread events. */
      readonly dropped: DroppedBatches | null;
    }
  | {
      /** The job's policy is `block`: keep the batch upstream and offer it again (backpressure). Count `reason` only if you give it up. */
      readonly status: 'full';
      readonly reason: 'buffer_full' | 'buffer_limit';
      readonly events: number;
      readonly limit: LimitName;
    }
  | {
      /** The batch was not taken: count its events as `reason` now. */
      readonly status: 'refused';
      readonly reason: RefusalReason;
      readonly events: number;
      /** The limit that refused it; null for a malformed name. */
      readonly limit: LimitName | null;
    };

export interface ReadResult {
  /** Tells this buffer from an earlier one of the job (0: no buffer); pass it back to `ack`. */
  readonly incarnation: number;
  readonly batches: readonly BufferedBatch[];
}

/** A buffer removed with data still in it (idle eviction with no consumer, or deletion). */
export interface RemovedBuffer extends DroppedBatches {
  readonly job: string;
  readonly prefix: string;
}

export interface Eviction {
  readonly buffers: number;
  /** Buffers that nobody consumed, evicted with their batches: count `expired` for their events. */
  readonly expired: readonly RemovedBuffer[];
  /** The job of every buffer evicted (empty or not). */
  readonly jobs: readonly string[];
}

export interface Tally {
  batches: number;
  events: number;
}

export interface BufteeStats {
  buffers: number;
  prefixes: number;
  /** Buffers idle eviction may take once their time is up. */
  evictable: number;
  configuredJobs: number;
  subscribedJobs: number;
  batches: number;
  events: number;
  /** Charged bytes: data plus BATCH_OVERHEAD_BYTES per batch. */
  bytes: number;
  pressure: Pressure;
  prefixesAtSoft: number;
  prefixesAtHard: number;
  refused: Record<RefusalReason, Tally>;
  blocked: Tally;
  droppedOldest: Tally;
  expired: Tally & { buffers: number };
  deleted: Tally & { buffers: number };
  created: number;
  evicted: number;
  /** Batches and buffers visited since start: constant per operation, whatever the number of buffers. */
  work: number;
  /** Batch memory (runtime/buffer-pool.ts): free bytes kept for reuse, and buffers reused and made new since start. */
  pool: { freeBytes: number; freeBuffers: number; reused: number; allocated: number };
}

export interface BufferInfo {
  prefix: string;
  incarnation: number;
  batches: number;
  events: number;
  bytes: number;
  firstOffset: number;
  nextOffset: number;
  consumers: { id: string; resolution: Resolution; acked: number; next: number }[];
}

export interface JobPolicy {
  readonly id: string;
  readonly overflow?: OverflowPolicy;
}
