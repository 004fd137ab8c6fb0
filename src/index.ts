/**
 * Seatbelt's public API: the embedding API (supervisor, actors, pool, codec) and the shared-memory
 * primitives it is built on. Named exports only; the README documents each.
 */

export { createSupervisor, type CreateSupervisorOptions } from './runtime/create-supervisor.js';
export { Supervisor, type RestartEvent, type EscalateEvent, type StallEvent } from './runtime/supervisor.js';
export { defineActor, type ActorContext, type ActorDefinition, type DefinedActor } from './runtime/actor.js';
export { ActorRef } from './runtime/actor-ref.js';
export type { ActorStats } from './runtime/control.js';
export type { ExitCause } from './runtime/actor-process.js';
export type { ChildSpec, SupervisorSpec, RestartType, Strategy } from './runtime/child-spec.js';
export { Pool, type PoolOptions, type PoolStats } from './runtime/pool.js';
export { RuntimeError, SpecError, type RuntimeErrorCode } from './runtime/errors.js';
export { Codec, BatchWriter, BatchReader, CodecError, type CodecStructures } from './runtime/codec.js';
export { createPipeline, Pipeline, type PipelineOptions, type PipelineStats, type ConfigSource, type PipelineAlert } from './actors/pipeline.js';
export { runFailOpenDrill, type FailOpenDrillOptions } from './drill/fail-open.js';
export { runCutDrill, type CutDrillOptions, type CutDrillSummary } from './drill/cut.js';
export { renderReport } from './drill/report.js';
export type { DrillSummary, DrillSecond } from './drill/types.js';
export type { JobConfig, Dataset, DropReason, Filter, OutputOptions, Destination } from './actors/job.js';
export { DROP_REASONS } from './actors/job.js';
export { createRuntimeMetrics, serveMetrics } from './runtime/metrics.js';
export { createPipelineMetrics } from './actors/pipeline-metrics.js';
export { loadPipelineConfig, parsePipelineConfig, pipelineOptionsOf, PipelineConfigError, type PipelineConfig } from './actors/pipeline-config.js';
export {
  createRing,
  attachRing,
  RingProducer,
  ManyToOneProducer,
  RingConsumer,
  FanInConsumer,
  BackoffIdleStrategy,
  RingError,
  RingRangeError,
  SharedGauges,
  type RingKind,
  type RingOptions,
  type RecordHandler,
  type IdleOptions,
} from './native/index.js';
