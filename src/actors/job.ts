/**
 * A Logpush job, with Cloudflare Logpush's own option names, and the names that come from outside
 * (job ids, datasets) with the rules that make them safe in a file path, a subject or a metric label.
 */

/** Job ids and datasets: 1-64 of [A-Za-z0-9_-], starting with a letter or digit. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const DATASETS = ['http_requests', 'firewall_events'] as const;
export type Dataset = (typeof DATASETS)[number];

/** Cloudflare's filter operators: the list every validator and compiler uses. */
export const FILTER_OPERATORS = [
  'eq',
  '!eq',
  'lt',
  'leq',
  'gt',
  'geq',
  'startsWith',
  '!startsWith',
  'endsWith',
  '!endsWith',
  'contains',
  '!contains',
  'in',
  '!in',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** Field names, in output_options.field_names and as filter keys: a letter, then up to 63 letters, digits or `_`. */
export const FIELD_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export interface FilterCondition {
  key: string;
  operator: FilterOperator;
  value: string | number | boolean | (string | number)[];
}

/** Cloudflare's form: {"where": {"and": [...]}} or {"where": {"or": [...]}}, nestable. */
export type FilterNode = FilterCondition | { and: FilterNode[] } | { or: FilterNode[] };
export interface Filter {
  where: FilterNode;
}

export type OutputType = 'ndjson' | 'csv';
export type TimestampFormat = 'unixnano' | 'unix' | 'rfc3339';
export type Compression = 'gzip' | 'none';

export interface OutputOptions {
  /** Fields to keep, in output order. */
  field_names: string[];
  output_type?: OutputType;
  timestamp_format?: TimestampFormat;
  /** Cloudflare's fraction of events kept, 0 < x <= 1 (0.1 keeps 1 in 10); 1 keeps all. */
  sample_rate?: number;
}

export type Destination =
  | { type: 'object-store'; directory: string }
  | { type: 'http'; url: string; headers?: Record<string, string>; timeoutMs?: number }
  | { type: 'stdout' };

export interface JobConfig {
  id: string;
  dataset: Dataset;
  /** Zones whose events this job receives (the routing key of each event). */
  zones: number[];
  enabled?: boolean;
  filter?: Filter;
  output_options: OutputOptions;
  compression?: Compression;
  max_upload_bytes?: number;
  max_upload_records?: number;
  max_upload_interval_seconds?: number;
  destination: Destination;
  /** Overflow policy of the job's buffer in Buftee. */
  overflow?: 'block' | 'drop_oldest' | 'drop_newest';
}

/**
 * The ledger's reasons for an event not delivered: a closed, documented set. `filtered` and
 * `sampled` are intentional (the job asked for them, as Vector tags `intentional`); every other
 * reason is a loss.
 */
export const DROP_REASONS = [
  'filtered',
  'sampled',
  'unconfigured',
  'shed',
  'buffer_limit',
  'buffer_full',
  'expired',
  'destination_failed',
  'malformed',
  'oversized',
  'crashed',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Reasons the job asked for: not a loss. */
export const INTENTIONAL_REASONS: ReadonlySet<DropReason> = new Set(['filtered', 'sampled']);
