/**
 * The Logfwdr config document, `{ generation?, jobs: JobConfig[] }`, checked at the boundary with
 * zod: objects are strict (an unknown key is an error, as a misspelt option must not be ignored),
 * every number has finite bounds, and every default is filled in. A parsed config is frozen; inside
 * Logfwdr it is trusted.
 *
 * Errors name the source, the path inside the document and what was expected:
 * `invalid logfwdr config from /etc/seatbelt/logfwdr.yaml: jobs[3].output_options.field_names[2]
 * must be a field name (…), got "2xx"`.
 */

import { z } from 'zod';
import {
  DATASETS,
  NAME_PATTERN,
  type Compression,
  type Dataset,
  type FilterNode,
  type JobConfig,
  type OutputType,
  type TimestampFormat,
} from '../job.js';
import { CONFIG_LIMITS, resolveLimits, type ConfigLimits } from './config-limits.js';
import { decodeConfigText } from './config-text.js';
import { blankError, ConfigError, tooLargeError } from './errors.js';
import { checkFilterNode, FIELD_NAME_PATTERN } from './filter-shape.js';
import { expectedOf, strict, toConfigIssue } from './schema-messages.js';

export { CONFIG_LIMITS, resolveLimits, type ConfigLimits } from './config-limits.js';
export { decodeConfigText } from './config-text.js';

// job.ts declares these as types only; the schema needs them as values. Each list is checked
// against its type below, so a value added to job.ts and not here fails to compile.
export const OUTPUT_TYPES = ['ndjson', 'csv'] as const satisfies readonly OutputType[];
export const TIMESTAMP_FORMATS = ['unixnano', 'unix', 'rfc3339'] as const satisfies readonly TimestampFormat[];
export const COMPRESSIONS = ['gzip', 'none'] as const satisfies readonly Compression[];
export const OVERFLOW_POLICIES = ['block', 'drop_oldest', 'drop_newest'] as const satisfies readonly NonNullable<JobConfig['overflow']>[];
export const DESTINATION_TYPES = ['object-store', 'http', 'stdout'] as const satisfies readonly JobConfig['destination']['type'][];

type Covers<List extends readonly unknown[], T> = [T] extends [List[number]] ? true : false;
const LISTS_COVER_TYPES: [
  Covers<typeof OUTPUT_TYPES, OutputType>,
  Covers<typeof TIMESTAMP_FORMATS, TimestampFormat>,
  Covers<typeof COMPRESSIONS, Compression>,
  Covers<typeof OVERFLOW_POLICIES, NonNullable<JobConfig['overflow']>>,
  Covers<typeof DESTINATION_TYPES, JobConfig['destination']['type']>,
] = [true, true, true, true, true];
void LISTS_COVER_TYPES;


/** Bounds of each job's numeric options, Cloudflare Logpush's where they are finite. */
export const JOB_BOUNDS = Object.freeze({
  // Cloudflare's range is 5 MB..1 GB, with 0 for "no limit": here there is always a limit.
  max_upload_bytes: Object.freeze({ min: 5_000_000, max: 1_000_000_000 }),
  max_upload_records: Object.freeze({ min: 1, max: 1_000_000 }),
  max_upload_interval_seconds: Object.freeze({ min: 1, max: 300 }),
  field_names: Object.freeze({ min: 1, max: 100 }),
  httpTimeoutMs: Object.freeze({ min: 1, max: 600_000 }),
  httpHeaders: 64,
  // Header values and URLs this long are a generator bug, not a credential.
  httpHeaderValueChars: 8192,
  urlChars: 8192,
  directoryChars: 4096,
});

export const JOB_DEFAULTS = Object.freeze({
  enabled: true,
  output_type: 'ndjson' as OutputType,
  timestamp_format: 'unixnano' as TimestampFormat,
  sample_rate: 1,
  compression: 'gzip' as Compression,
  max_upload_bytes: 5 * 1024 * 1024,
  max_upload_records: 100_000,
  max_upload_interval_seconds: 30,
  overflow: 'block' as NonNullable<JobConfig['overflow']>,
  httpTimeoutMs: 30_000,
});

const NAME_RULE = '1-64 of [A-Za-z0-9_-], starting with a letter or digit';
const FIELD_RULE = 'a letter, then up to 63 letters, digits or _';

function boundedInt(min: number, max: number, unit: string) {
  return z.int({ error: `an integer from ${min} to ${max} (${unit})` }).min(min).max(max);
}

/**
 * Zones are checked in one loop rather than one zod schema per element: a config may hold ten
 * million of them, and a schema per element costs ~150 ns each here. Returns a copy, so freezing
 * the result never freezes the caller's array.
 */
function zonesSchema(maxZones: number) {
  return z.custom<unknown>().transform((input, ctx): number[] => {
    if (!Array.isArray(input) || input.length === 0 || input.length > maxZones) {
      ctx.addIssue({ code: 'custom', message: `an array of 1 to ${maxZones} zone ids (positive integers)`, input });
      return z.NEVER;
    }
    const zones = new Array<number>(input.length);
    let sorted = true;
    for (let i = 0; i < input.length; i++) {
      const zone: unknown = input[i];
      if (typeof zone !== 'number' || !Number.isSafeInteger(zone) || zone <= 0) {
        ctx.addIssue({ code: 'custom', message: 'a zone id (a positive integer)', path: [i], input: zone });
        return z.NEVER;
      }
      zones[i] = zone;
      if (i > 0 && zone <= (zones[i - 1] as number)) sorted = false;
    }
    const repeat = sorted ? undefined : firstRepeat(zones);
    if (repeat !== undefined) {
      const message = `a zone not listed before in this job (zones[${repeat.first}] is ${repeat.zone} too)`;
      ctx.addIssue({ code: 'custom', message, path: [repeat.index], input: repeat.zone });
      return z.NEVER;
    }
    return zones;
  });
}

// A sorted typed copy finds a repeat in ~1/5 of the time of a Set of a million numbers here;
// only when there is one are the two indices looked up.
function firstRepeat(zones: readonly number[]): { zone: number; first: number; index: number } | undefined {
  const copy = Float64Array.from(zones).sort();
  let repeated: number | undefined;
  for (let i = 1; i < copy.length; i++) {
    if (copy[i] === copy[i - 1]) {
      repeated = copy[i];
      break;
    }
  }
  if (repeated === undefined) return undefined;
  const first = zones.indexOf(repeated);
  return { zone: repeated, first, index: zones.indexOf(repeated, first + 1) };
}

const filterNodeSchema = z.custom<unknown>().transform((input, ctx): FilterNode => {
  const result = checkFilterNode(input);
  if (result.ok) return result.node;
  ctx.addIssue({ code: 'custom', message: result.expected, path: [...result.path], input: result.got });
  return z.NEVER;
});

const fieldNamesSchema = z
  .array(z.string({ error: `a field name (${FIELD_RULE})` }).regex(FIELD_NAME_PATTERN, { error: `a field name (${FIELD_RULE})` }), {
    error: `an array of ${JOB_BOUNDS.field_names.min} to ${JOB_BOUNDS.field_names.max} field names`,
  })
  .min(JOB_BOUNDS.field_names.min, { error: `an array of ${JOB_BOUNDS.field_names.min} to ${JOB_BOUNDS.field_names.max} field names` })
  .max(JOB_BOUNDS.field_names.max, { error: `an array of ${JOB_BOUNDS.field_names.min} to ${JOB_BOUNDS.field_names.max} field names` })
  .superRefine((names, ctx) => {
    const seen = new Map<string, number>();
    names.forEach((name, index) => {
      const first = seen.get(name);
      if (first === undefined) seen.set(name, index);
      else ctx.addIssue({ code: 'custom', message: `a field not listed before (field_names[${first}] is the same)`, path: [index], input: name });
    });
  });

const outputOptionsSchema = strict('output_options', {
  field_names: fieldNamesSchema,
  output_type: z.enum(OUTPUT_TYPES).default(JOB_DEFAULTS.output_type),
  timestamp_format: z.enum(TIMESTAMP_FORMATS).default(JOB_DEFAULTS.timestamp_format),
  // Cloudflare's fraction of events kept: 0.1 keeps one in ten.
  sample_rate: z
    .number({ error: 'a fraction of events kept: more than 0, at most 1' })
    .gt(0, { error: 'a fraction of events kept: more than 0, at most 1' })
    .lte(1, { error: 'a fraction of events kept: more than 0, at most 1' })
    .default(JOB_DEFAULTS.sample_rate),
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
// A CR or LF in a header value would let a config inject a header or a request.
const HEADER_VALUE = /^[^\r\n\0]*$/;

const headersSchema = z
  .record(
    z.string(),
    z
      .string({ error: 'a header value (a string)' })
      .max(JOB_BOUNDS.httpHeaderValueChars, { error: `a header value of at most ${JOB_BOUNDS.httpHeaderValueChars} characters` })
      .regex(HEADER_VALUE, { error: 'a header value without CR, LF or NUL' }),
    { error: 'an object of header names to string values' },
  )
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers);
    if (names.length > JOB_BOUNDS.httpHeaders) {
      ctx.addIssue({ code: 'custom', message: `an object of at most ${JOB_BOUNDS.httpHeaders} headers`, input: headers });
    }
    const bad = names.find((name) => !HEADER_NAME.test(name));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'an HTTP header name (a token of 1-256 characters)', path: [bad], input: bad });
    }
  })
  .default({});

const destinationSchema = z.discriminatedUnion(
  'type',
  [
    strict('an object-store destination', {
      type: z.literal('object-store'),
      directory: z
        .string({ error: 'a directory path' })
        .min(1, { error: 'a non-empty directory path' })
        .max(JOB_BOUNDS.directoryChars, { error: `a directory path of at most ${JOB_BOUNDS.directoryChars} characters` })
        .regex(/^[^\0]*$/, { error: 'a directory path without NUL' }),
    }),
    strict('an http destination', {
      type: z.literal('http'),
      url: z
        .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
        .max(JOB_BOUNDS.urlChars, { error: `a URL of at most ${JOB_BOUNDS.urlChars} characters` }),
      headers: headersSchema,
      timeoutMs: boundedInt(JOB_BOUNDS.httpTimeoutMs.min, JOB_BOUNDS.httpTimeoutMs.max, 'milliseconds').default(JOB_DEFAULTS.httpTimeoutMs),
    }),
    strict('a stdout destination', { type: z.literal('stdout') }),
  ],
);

export function jobSchema(limits: ConfigLimits) {
  const { max_upload_bytes: bytes, max_upload_records: records, max_upload_interval_seconds: seconds } = JOB_BOUNDS;
  return strict('a job', {
    id: z.string({ error: `a job id (${NAME_RULE})` }).regex(NAME_PATTERN, { error: `a job id (${NAME_RULE})` }),
    dataset: z.enum(DATASETS),
    zones: zonesSchema(limits.maxZonesPerJob),
    enabled: z.boolean({ error: 'true or false' }).default(JOB_DEFAULTS.enabled),
    filter: strict('a filter', { where: filterNodeSchema }).optional(),
    output_options: outputOptionsSchema,
    compression: z.enum(COMPRESSIONS).default(JOB_DEFAULTS.compression),
    max_upload_bytes: boundedInt(bytes.min, bytes.max, 'bytes').default(JOB_DEFAULTS.max_upload_bytes),
    max_upload_records: boundedInt(records.min, records.max, 'records').default(JOB_DEFAULTS.max_upload_records),
    max_upload_interval_seconds: boundedInt(seconds.min, seconds.max, 'seconds').default(JOB_DEFAULTS.max_upload_interval_seconds),
    destination: destinationSchema,
    overflow: z.enum(OVERFLOW_POLICIES).default(JOB_DEFAULTS.overflow),
  });
}

/** The schema of a whole document under the given limits. */
export function buildConfigSchema(limits: ConfigLimits = CONFIG_LIMITS) {
  return strict('a logfwdr config', {
    generation: z.int({ error: 'a generation number (an integer, 0 or more)' }).min(0, { error: 'a generation number (an integer, 0 or more)' }).optional(),
    jobs: z
      .array(jobSchema(limits), { error: 'an array of jobs' })
      .max(limits.maxJobs, { error: `an array of at most ${limits.maxJobs} jobs (maxJobs)` }),
  }).superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.jobs.forEach((job, index) => {
      const first = seen.get(job.id);
      if (first === undefined) seen.set(job.id, index);
      else ctx.addIssue({ code: 'custom', message: `unique among jobs (jobs[${first}].id is the same)`, path: ['jobs', index, 'id'], input: job.id });
    });
  });
}

/** The schema under the default limits. */
export const configSchema = buildConfigSchema();
const schemas = new Map<string, ReturnType<typeof buildConfigSchema>>([[limitsKey(CONFIG_LIMITS), configSchema]]);

type SchemaOutput = z.output<typeof configSchema>;
export type ParsedJob = Readonly<SchemaOutput['jobs'][number]>;
export type ParsedDestination = ParsedJob['destination'];
/** A valid document with every default filled in, deeply frozen. */
export interface ParsedConfig {
  readonly generation: number | undefined;
  readonly jobs: readonly ParsedJob[];
}

// A parsed job is a JobConfig (with its defaults filled in), so Logpush can take either.
const PARSED_JOB_IS_A_JOB: ParsedJob extends JobConfig ? true : false = true;
const PARSED_DATASET_IS_A_DATASET: ParsedJob['dataset'] extends Dataset ? true : false = true;
void PARSED_JOB_IS_A_JOB;
void PARSED_DATASET_IS_A_DATASET;

function limitsKey(limits: ConfigLimits): string {
  return `${limits.maxBytes}/${limits.maxJobs}/${limits.maxZonesPerJob}/${limits.maxZoneEntries}`;
}

function schemaFor(limits: ConfigLimits): ReturnType<typeof buildConfigSchema> {
  const key = limitsKey(limits);
  let schema = schemas.get(key);
  if (schema === undefined) {
    schema = buildConfigSchema(limits);
    // A handful of limit sets per process at most; past that, build each time rather than grow.
    if (schemas.size < 16) schemas.set(key, schema);
  }
  return schema;
}

/**
 * Checks a document (already decoded from JSON or YAML) and returns it normalized and frozen, or
 * throws a ConfigError naming `source`, the path and what was expected.
 */
export function parseConfig(input: unknown, source: string, limits: Partial<ConfigLimits> = {}): ParsedConfig {
  const resolved = resolveLimits(limits);
  if (input === null || input === undefined) throw blankError(source, `a ${input === null ? 'null' : 'missing'} document`);
  checkCounts(input, source, resolved);
  const result = schemaFor(resolved).safeParse(input, { reportInput: true, error: expectedOf });
  if (!result.success) {
    throw new ConfigError('ERR_CONFIG_INVALID', source, result.error.issues.map(toConfigIssue));
  }
  return deepFreeze({ generation: result.data.generation, jobs: result.data.jobs });
}

/** Decodes JSON or YAML text (JSON is tried first when the text looks like it) and parses it. */
export function parseConfigText(text: string, source: string, limits: Partial<ConfigLimits> = {}): ParsedConfig {
  const resolved = resolveLimits(limits);
  return parseConfig(decodeConfigText(text, source, resolved), source, resolved);
}

/** The job and zone counts checked before the schema, so a huge document is refused cheaply. */
function checkCounts(input: unknown, source: string, limits: ConfigLimits): void {
  const jobs = (input as { jobs?: unknown }).jobs;
  if (!Array.isArray(jobs)) return;
  if (jobs.length > limits.maxJobs) throw tooLargeError(source, 'jobs', 'jobs', jobs.length, limits.maxJobs, 'maxJobs');
  let entries = 0;
  for (const job of jobs) {
    const zones = typeof job === 'object' && job !== null ? (job as { zones?: unknown }).zones : undefined;
    if (Array.isArray(zones)) entries += zones.length;
  }
  if (entries > limits.maxZoneEntries) {
    throw tooLargeError(source, 'jobs', 'zone entries', entries, limits.maxZoneEntries, 'maxZoneEntries');
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    // Arrays of numbers (zones: up to millions) hold nothing to freeze inside.
    if (value.length > 0 && typeof value[0] !== 'object') return Object.freeze(value);
    for (const item of value) deepFreeze(item);
    return Object.freeze(value);
  }
  for (const item of Object.values(value)) deepFreeze(item);
  return Object.freeze(value);
}
