export { Buftee } from './buftee.js';
export {
  REFUSAL_REASONS,
  type AppendResult,
  type BufferInfo,
  type BufteeStats,
  type Eviction,
  type JobPolicy,
  type ReadResult,
  type RefusalReason,
  type RemovedBuffer,
  type Tally,
} from './results.js';
export { BATCH_OVERHEAD_BYTES, type BufferedBatch, type ConsumerLoss, type DroppedBatches } from './buffer.js';
export {
  DEFAULT_LIMITS,
  DEFAULT_MAX_CONSUMERS_PER_BUFFER,
  DEFAULT_SOFT_LEVEL,
  LIMIT_NAMES,
  OVERFLOW_POLICIES,
  type BufteeOptions,
  type LimitName,
  type Limits,
  type OverflowPolicy,
  type Pressure,
} from './limits.js';
export { MAX_SAMPLE_EVERY, type Resolution } from './resolutions.js';
export { TokenBucket } from './token-bucket.js';
export { BufteeError, type BufteeErrorCode } from './errors.js';
