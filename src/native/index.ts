export { createRing, attachRing, RingBuffer, type RingKind, type RingOptions } from './ring.js';
export { RingProducer, type Producer } from './ring-producer.js';
export { ManyToOneProducer } from './many-to-one-producer.js';
export { RingConsumer, type RecordHandler } from './ring-consumer.js';
export { FanInConsumer, type DataSource } from './fan-in.js';
export { Doorbell, type WakeReason } from './doorbell.js';
export { BackoffIdleStrategy, DEFAULT_IDLE, type IdleOptions, type Waitable } from './idle-strategy.js';
export { RingError, RingRangeError, type NativeErrorCode } from './errors.js';
export { maxPayloadLength, maxRecordLength, RECORD_ALIGNMENT, MIN_CAPACITY, MAX_CAPACITY } from './ring-descriptor.js';
