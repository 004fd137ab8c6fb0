/**
 * The pipeline's config file (`seatbelt run --config pipeline.yaml`, `seatbelt validate`): sources,
 * datasets, jobs (Cloudflare Logpush's job fields, the same schema as Logfwdr's configs), Buftee's
 * limits, supervision, metrics and logging. JSON or YAML; checked by zod; every error names the
 * file, the path inside it and what was expected; unknown keys are errors. Relative paths (a jobs
 * file, a log file, an object-store directory) are taken from the config file's directory.
 */

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { DATASETS, NAME_PATTERN, type JobConfig } from './job.js';
import { LIMIT_NAMES } from './buftee/limits.js';
import { ROLES } from './buftee/nats/options.js';
import { CONFIG_LIMITS, decodeConfigText, jobSchema } from './logfwdr/config-schema.js';
import { FAILURE_POLICIES } from './logfwdr/guard-types.js';
import { ConfigError, type ConfigIssue } from './logfwdr/errors.js';
import { expectedOf, strict, toConfigIssue } from './logfwdr/schema-messages.js';
import type { PipelineOptions } from './pipeline.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (min: number, max: number, what: string) =>
  z.int({ error: `an integer from ${min} to ${max} (${what})` }).min(min, { error: `an integer from ${min} to ${max} (${what})` }).max(max, { error: `an integer from ${min} to ${max} (${what})` });
const port = int(0, 65_535, 'a TCP port; 0 picks a free one');
const host = z.string({ error: 'a host name or address' }).min(1, { error: 'a host name or address' });
const path = z.string({ error: 'a file path' }).min(1, { error: 'a file path' });
const dataset = z.enum(DATASETS);
const name = z.string().regex(NAME_PATTERN, { error: "a name of letters, digits, '_' and '-' (at most 64)" });

const schema = strict('a pipeline config', {
  datasets: z.array(dataset, { error: 'an array of datasets' }).min(1, { error: 'an array of at least 1 dataset' }).default([...DATASETS]),
  policy: z.enum(FAILURE_POLICIES).default('last-known-good'),
  jobs: z.array(jobSchema(CONFIG_LIMITS), { error: 'an array of jobs' }).max(CONFIG_LIMITS.maxJobs).optional(),
  jobsFrom: z
    .union([
      strict('jobsFrom (a file)', { file: path, intervalMs: int(100, 3_600_000, 'ms').optional() }),
      strict('jobsFrom (a URL)', { url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }), intervalMs: int(100, 3_600_000, 'ms').optional() }),
    ], { error: 'either { file, intervalMs? } or { url, intervalMs? }' })
    .optional(),
  guard: strict('guard', {
    maxRemovedFraction: z.number({ error: 'a fraction from 0 to 1' }).min(0).max(1).optional(),
    unavailableGraceMs: int(0, 86_400_000, 'ms').optional(),
  }).optional(),
  sources: strict('sources', {
    generator: strict('sources.generator', {
      zones: int(1, 10_000_000, 'zones').default(40_000),
      ratePerSecond: int(1, 100_000_000, 'events per second').optional(),
      seed: int(0, 0xffffffff, 'a uint32').optional(),
      zipfExponent: z.number({ error: 'a number from 0 to 5' }).min(0).max(5).optional(),
    }).optional(),
    tcp: z
      .array(
        strict('a TCP source', {
          host: host.default('127.0.0.1'),
          port,
          dataset: dataset.default('http_requests'),
          maxConnections: int(1, 65_536, 'connections').optional(),
          idleTimeoutMs: int(1000, 86_400_000, 'ms').optional(),
          maxLineBytes: int(1024, 16 * 1024 * 1024, 'bytes').optional(),
        }),
        { error: 'an array of TCP sources' },
      )
      .max(16, { error: 'an array of at most 16 TCP sources' })
      .optional(),
    http: strict('the HTTP source', {
      host: host.default('127.0.0.1'),
      port,
      maxInFlight: int(1, 4096, 'requests').optional(),
      maxConnections: int(1, 65_536, 'connections').optional(),
    }).optional(),
  }).default({}),
  buftee: strict('buftee', {
    limits: strict('buftee.limits', Object.fromEntries(LIMIT_NAMES.map((name) => [name, int(1, Number.MAX_SAFE_INTEGER, name).optional()]))).optional(),
    softLevel: z.number({ error: 'a fraction above 0, at most 1' }).gt(0).max(1).optional(),
    unsafe: strict('buftee.unsafe', { unlimited: z.array(z.enum(LIMIT_NAMES)).optional() }).optional(),
    backend: z.enum(['embedded', 'nats']).default('embedded'),
    nats: strict('buftee.nats', {
      servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, { error: 'a URL like nats://127.0.0.1:4222' }), { error: 'an array of server URLs' }).min(1, { error: 'at least one server URL' }).max(16),
      prefix: name.optional(),
      replicas: z.union([z.literal(1), z.literal(3), z.literal(5)], { error: '1, 3 or 5 replicas' }).optional(),
      consumers: z.array(name, { error: 'an array of consumer names' }).min(1).max(16).optional(),
      consumer: name.optional(),
      maxMsgsPerSubject: int(1, 1_000_000, 'messages').optional(),
      maxMsgs: int(1, Number.MAX_SAFE_INTEGER, 'messages').optional(),
      maxMsgBytes: int(1024, 64 << 20, 'bytes').optional(),
      maxAckPending: int(1, 1_000_000, 'messages').optional(),
      ackWaitMs: int(1000, 3_600_000, 'ms').optional(),
      maxPendingBytes: int(1 << 20, Number.MAX_SAFE_INTEGER, 'bytes').optional(),
      fetchBatch: int(1, 10_000, 'messages').optional(),
      publishTimeoutMs: int(100, 86_400_000, 'ms').optional(),
      requestTimeoutMs: int(100, 600_000, 'ms').optional(),
      duplicateWindowMs: int(1000, 86_400_000, 'ms').optional(),
      maxInFlightPublishes: int(1, 4096, 'publishes').optional(),
      stateEveryMs: int(100, 60_000, 'ms').optional(),
    }).optional(),
  }).optional(),
  role: z.enum(ROLES).default('all'),
  supervision: strict('supervision', {
    intensity: int(1, 10_000, 'restarts').optional(),
    periodMs: int(100, 86_400_000, 'ms').optional(),
  }).optional(),
  metrics: strict('metrics', { port, host: host.default('127.0.0.1') }).optional(),
  log: strict('log', { level: z.enum(LOG_LEVELS).default('info'), file: path.optional() }).default({ level: 'info' }),
  drainTimeoutMs: int(1000, 600_000, 'ms').default(60_000),
  maxJobs: int(1, 1_000_000, 'job slots').default(100_000),
}).superRefine((config, ctx) => {
  const backend = config.buftee?.backend ?? 'embedded';
  if (backend === 'nats' && config.buftee?.nats === undefined) ctx.addIssue({ code: 'custom', path: ['buftee', 'nats'], input: undefined, message: 'the NATS servers when buftee.backend is nats ({ servers: [nats://host:4222] })' });
  if (backend === 'embedded' && config.buftee?.nats !== undefined) ctx.addIssue({ code: 'custom', path: ['buftee', 'backend'], input: backend, message: 'buftee.backend: nats when buftee.nats is given' });
  if (config.role !== 'all' && backend !== 'nats') ctx.addIssue({ code: 'custom', path: ['role'], input: config.role, message: 'role all unless buftee.backend is nats (edge and push processes share NATS JetStream)' });
  if (config.role === 'push' && (config.sources.generator !== undefined || config.sources.tcp !== undefined || config.sources.http !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['sources'], input: config.sources, message: 'no sources in a push process (sources belong to an edge process)' });
  }
  if ((config.jobs === undefined) === (config.jobsFrom === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], input: config, message: 'a config with exactly one of jobs (the jobs themselves) and jobsFrom (a file or URL that provides them)' });
  }
  const allowed = new Set<string>(config.datasets);
  (config.jobs ?? []).forEach((job, i) => {
    if (!allowed.has(job.dataset)) ctx.addIssue({ code: 'custom', path: ['jobs', i, 'dataset'], input: job.dataset, message: `one of the datasets (${config.datasets.join(', ')})` });
  });
  (config.sources.tcp ?? []).forEach((source, i) => {
    if (!allowed.has(source.dataset)) ctx.addIssue({ code: 'custom', path: ['sources', 'tcp', i, 'dataset'], input: source.dataset, message: `one of the datasets (${config.datasets.join(', ')})` });
  });
});

export type PipelineConfig = z.output<typeof schema>;

/** A config file that is not a valid pipeline config: names the file, the paths and what was expected. */
export class PipelineConfigError extends Error {
  readonly code = 'ERR_PIPELINE_CONFIG';
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
    options?: ErrorOptions,
  ) {
    const shown = issues.slice(0, 5).map((i) => i.message);
    const more = issues.length > 5 ? `; and ${issues.length - 5} more problems` : '';
    super(`invalid pipeline config ${file}: ${shown.join('; ')}${more}`, options);
    this.name = 'PipelineConfigError';
  }

  get path(): string {
    return this.issues[0]?.path ?? '';
  }
}

/** Parses a decoded document; throws PipelineConfigError. */
export function parsePipelineConfig(document: unknown, file: string): PipelineConfig {
  if (document === null || document === undefined) throw new PipelineConfigError(file, [{ path: '', message: 'the document is empty' }]);
  const result = schema.safeParse(document, { reportInput: true, error: expectedOf });
  if (!result.success) throw new PipelineConfigError(file, result.error.issues.map(toConfigIssue));
  return result.data;
}

/** Reads and parses a JSON or YAML file; throws PipelineConfigError (a missing file too). */
export function loadPipelineConfig(file: string): PipelineConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PipelineConfigError(file, [{ path: '', message: code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(error)})` }], { cause: error });
  }
  let document: unknown;
  try {
    document = decodeConfigText(text, file, { ...CONFIG_LIMITS, maxBytes: 64 * 1024 * 1024 });
  } catch (error) {
    if (error instanceof ConfigError) throw new PipelineConfigError(file, error.issues.length > 0 ? error.issues : [{ path: '', message: error.message }], { cause: error });
    throw error;
  }
  return parsePipelineConfig(document, file);
}

/** The jobs with relative object-store directories taken from `base`. */
export function resolveJobs(jobs: readonly JobConfig[], base: string): JobConfig[] {
  return jobs.map((job) =>
    job.destination.type === 'object-store' && !isAbsolute(job.destination.directory)
      ? { ...job, destination: { ...job.destination, directory: resolve(base, job.destination.directory) } }
      : { ...job },
  );
}

function bufteeOptionsOf(buftee: NonNullable<PipelineConfig['buftee']>): Pick<PipelineOptions, 'buftee' | 'backend' | 'nats'> {
  const { backend, nats, ...limits } = buftee;
  return { buftee: limits as PipelineOptions['buftee'], backend, ...(nats === undefined ? {} : { nats }) };
}

/** What `createPipeline` takes for a parsed config read from `file`. */
export function pipelineOptionsOf(config: PipelineConfig, file: string): PipelineOptions & { metrics?: { port: number; host: string }; logFile?: string } {
  const base = dirname(resolve(file));
  const from = config.jobsFrom;
  const source: PipelineOptions['config'] =
    from === undefined
      ? { jobs: resolveJobs(config.jobs as JobConfig[], base) }
      : 'file' in from
        ? { file: resolve(base, from.file), ...(from.intervalMs === undefined ? {} : { intervalMs: from.intervalMs }) }
        : { url: from.url, ...(from.intervalMs === undefined ? {} : { intervalMs: from.intervalMs }) };
  const gen = config.sources.generator;
  const log = { level: config.log.level, ...(config.log.file === undefined ? {} : { destination: resolve(base, config.log.file) }) };
  return {
    config: source,
    policy: config.policy,
    datasets: config.datasets,
    maxJobs: config.maxJobs,
    drainTimeoutMs: config.drainTimeoutMs,
    ...(config.guard === undefined ? {} : { guard: config.guard }),
    ...(gen === undefined ? {} : { generator: { zones: gen.zones, seed: gen.seed ?? 1, ...(gen.ratePerSecond === undefined ? {} : { ratePerSecond: gen.ratePerSecond }), ...(gen.zipfExponent === undefined ? {} : { zipfExponent: gen.zipfExponent }) } }),
    sources: { ...(config.sources.tcp === undefined ? {} : { tcp: config.sources.tcp }), ...(config.sources.http === undefined ? {} : { http: config.sources.http }) },
    ...(config.buftee === undefined ? { backend: 'embedded' as const } : bufteeOptionsOf(config.buftee)),
    role: config.role,
    ...(config.supervision === undefined ? {} : { supervision: config.supervision }),
    supervisor: { log },
    log,
    ...(config.metrics === undefined ? {} : { metrics: config.metrics }),
    ...(config.log.file === undefined ? {} : { logFile: resolve(base, config.log.file) }),
  };
}
