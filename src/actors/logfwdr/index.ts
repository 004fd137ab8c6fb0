/**
 * Logfwdr's configuration side: the config schema, the routing table, the guard that keeps the last
 * known good config, and the providers that regenerate it. The actor wires these up.
 */

export {
  buildConfigSchema,
  configSchema,
  decodeConfigText,
  parseConfig,
  parseConfigText,
  resolveLimits,
  CONFIG_LIMITS,
  COMPRESSIONS,
  DESTINATION_TYPES,
  JOB_BOUNDS,
  JOB_DEFAULTS,
  OUTPUT_TYPES,
  OVERFLOW_POLICIES,
  TIMESTAMP_FORMATS,
  type ConfigLimits,
  type ParsedConfig,
  type ParsedDestination,
  type ParsedJob,
} from './config-schema.js';
export { checkFilterNode, FIELD_NAME_PATTERN, FILTER_LIMITS, FILTER_OPERATORS, type FilterShapeResult } from './filter-shape.js';
export { ConfigError, type ConfigErrorCode, type ConfigIssue } from './errors.js';
export { RoutingTable, type RoutedJob } from './routing-table.js';
export type { Candidate, ProviderEvent } from './candidate.js';
export {
  ConfigGuard,
  ALERT_NAMES,
  FAILURE_POLICIES,
  GUARD_DEFAULTS,
  REFUSAL_REASONS,
  type AcceptedConfig,
  type AlertName,
  type ConfigGuardOptions,
  type Decision,
  type FailurePolicy,
  type GuardAlert,
  type GuardEvent,
  type GuardMode,
  type GuardStats,
  type OfferResult,
  type RefusalReason,
} from './config-guard.js';
export {
  fileProvider,
  functionProvider,
  httpProvider,
  PROVIDER_DEFAULTS,
  type FileProviderOptions,
  type FunctionProviderOptions,
  type HttpProviderOptions,
  type Provider,
  type ProviderOptions,
} from './providers.js';
