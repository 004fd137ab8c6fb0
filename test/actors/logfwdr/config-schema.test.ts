import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CONFIG_LIMITS,
  configSchema,
  parseConfig,
  parseConfigText,
  type ParsedConfig,
} from '../../../src/actors/logfwdr/config-schema.js';
import { ConfigError, type ConfigErrorCode } from '../../../src/actors/logfwdr/errors.js';
import type { JobConfig } from '../../../src/actors/job.js';
import { job } from './fixtures.js';

const SOURCE = '/etc/seatbelt/logfwdr.yaml';

function failure(input: unknown, limits = {}): ConfigError {
  try {
    parseConfig(input, SOURCE, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, the config was accepted');
}

function textFailure(text: string, limits = {}): ConfigError {
  try {
    parseConfigText(text, 'https://config.internal/logfwdr', limits);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, the config was accepted');
}

/** One job with `patch` applied to its fields (or to its output_options, destination, filter). */
const withJob = (patch: Record<string, unknown>): unknown => ({ jobs: [job('a'), { ...job('b', [7]), ...patch }] });

describe('parseConfig: a good config', () => {
  it('fills in every default and keeps what was given', () => {
    const config = parseConfig({ jobs: [job('edge-logs', [3, 1, 2])] }, SOURCE);
    expect(config).toEqual({
      generation: undefined,
      jobs: [
        {
          id: 'edge-logs',
          dataset: 'http_requests',
          zones: [3, 1, 2],
          enabled: true,
          output_options: { field_names: ['ClientIP', 'EdgeResponseStatus'], output_type: 'ndjson', timestamp_format: 'unixnano', sample_rate: 1 },
          compression: 'gzip',
          max_upload_bytes: 5 * 1024 * 1024,
          max_upload_records: 100_000,
          max_upload_interval_seconds: 30,
          destination: { type: 'stdout' },
          overflow: 'block',
        },
      ],
    });
  });

  it('accepts every option at its bounds, a nested filter and each destination', () => {
    const full: JobConfig[] = [
      job('r2', [1], {
        dataset: 'firewall_events',
        enabled: false,
        filter: {
          where: {
            and: [
              { key: 'ClientCountry', operator: 'in', value: ['ca', 'us', 1] },
              { or: [{ key: 'EdgeResponseStatus', operator: 'geq', value: 500 }, { key: 'WAFAttackScore', operator: '!eq', value: true }] },
            ],
          },
        },
        output_options: { field_names: ['RayID'], output_type: 'csv', timestamp_format: 'rfc3339', sample_rate: 0.01 },
        compression: 'none',
        max_upload_bytes: 5_000_000,
        max_upload_records: 1,
        max_upload_interval_seconds: 300,
        destination: { type: 'object-store', directory: '/var/lib/seatbelt/r2' },
        overflow: 'drop_oldest',
      }),
      job('siem', [2], { destination: { type: 'http', url: 'https://siem.example/ingest?x=1', headers: { Authorization: 'Bearer t' }, timeoutMs: 600_000 } }),
      job('plain-http', [3], { destination: { type: 'http', url: 'http://127.0.0.1:8080/' } }),
    ];
    const config = parseConfig({ generation: 42, jobs: full }, SOURCE);
    expect(config.generation).toBe(42);
    expect(config.jobs[0]).toMatchObject({ ...full[0], enabled: false });
    expect(config.jobs[1]?.destination).toEqual(full[1]?.destination);
    expect(config.jobs[2]?.destination).toEqual({ type: 'http', url: 'http://127.0.0.1:8080/', headers: {}, timeoutMs: 30_000 });
  });

  it('returns a deeply frozen config and leaves the input alone', () => {
    const input = { jobs: [job('a', [1, 2])] };
    const config = parseConfig(input, SOURCE);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.jobs)).toBe(true);
    expect(Object.isFrozen(config.jobs[0])).toBe(true);
    expect(Object.isFrozen(config.jobs[0]?.zones)).toBe(true);
    expect(Object.isFrozen(config.jobs[0]?.output_options.field_names)).toBe(true);
    expect(Object.isFrozen(input.jobs[0]?.zones)).toBe(false);
    expect(Object.isFrozen(input.jobs[0])).toBe(false);
  });

  it('accepts an explicitly empty config (zero jobs): refusing it when jobs existed is the guard\'s call', () => {
    expect(parseConfig({ jobs: [] }, SOURCE)).toEqual({ generation: undefined, jobs: [] });
  });

  it('exposes the zod schema itself', () => {
    expect(configSchema.safeParse({ jobs: [job('a')] }).success).toBe(true);
    expect(configSchema.safeParse({ jobs: [job('a')], extra: 1 }).success).toBe(false);
  });

  it('round-trips: a parsed config, written out as JSON and parsed again, is the same config', () => {
    const arbitraryJob = fc.record({
      id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,10}$/),
      dataset: fc.constantFrom('http_requests', 'firewall_events'),
      zones: fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 40 }), { minLength: 1, maxLength: 20 }),
      output_options: fc.record(
        {
          field_names: fc.uniqueArray(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,8}$/), { minLength: 1, maxLength: 5 }),
          sample_rate: fc.double({ min: Number.EPSILON, max: 1, noNaN: true }),
          output_type: fc.constantFrom('ndjson', 'csv'),
        },
        { requiredKeys: ['field_names'] },
      ),
      destination: fc.constantFrom({ type: 'stdout' }, { type: 'object-store', directory: 'out' }),
      max_upload_records: fc.integer({ min: 1, max: 1_000_000 }),
    }, { requiredKeys: ['id', 'dataset', 'zones', 'output_options', 'destination'] });
    fc.assert(
      fc.property(fc.uniqueArray(arbitraryJob, { selector: (j) => j.id, maxLength: 8 }), (list) => {
        const once = parseConfig({ jobs: list }, SOURCE);
        const twice = parseConfig(JSON.parse(JSON.stringify(once)) as unknown, SOURCE);
        expect(twice).toEqual(once);
      }),
      { numRuns: 100 },
    );
  });
});

describe('parseConfig: errors name the source, the exact path and what was expected', () => {
  const prefix = `invalid logfwdr config from ${SOURCE}: `;
  const cases: [string, unknown, string, string][] = [
    ['a document that is not an object', 5, '', 'the document must be an object, got 5'],
    ['a missing jobs list', {}, 'jobs', 'jobs is required: an array of jobs'],
    ['jobs that is not an array', { jobs: 'all' }, 'jobs', 'jobs must be an array of jobs, got "all"'],
    ['a negative generation', { generation: -1, jobs: [] }, 'generation', 'generation must be a generation number (an integer, 0 or more), got -1'],
    ['a job that is not an object', { jobs: [job('a'), 7] }, 'jobs[1]', 'jobs[1] must be an object, got 7'],
    ['a job id with a space', withJob({ id: 'my job' }), 'jobs[1].id', 'jobs[1].id must be a job id (1-64 of [A-Za-z0-9_-], starting with a letter or digit), got "my job"'],
    ['a job id of 65 characters', withJob({ id: 'x'.repeat(65) }), 'jobs[1].id', `jobs[1].id must be a job id (1-64 of [A-Za-z0-9_-], starting with a letter or digit), got "${'x'.repeat(60)}"… (65 characters)`],
    ['a repeated job id', { jobs: [job('a'), job('b'), job('a', [9])] }, 'jobs[2].id', 'jobs[2].id must be unique among jobs (jobs[0].id is the same), got "a"'],
    ['an unknown dataset', withJob({ dataset: 'dns_logs' }), 'jobs[1].dataset', 'jobs[1].dataset must be one of "http_requests" | "firewall_events", got "dns_logs"'],
    ['no zones', withJob({ zones: [] }), 'jobs[1].zones', 'jobs[1].zones must be an array of 1 to 100000 zone ids (positive integers), got an array of length 0'],
    ['zones that are not an array', withJob({ zones: 12 }), 'jobs[1].zones', 'jobs[1].zones must be an array of 1 to 100000 zone ids (positive integers), got 12'],
    ['a zero zone', withJob({ zones: [4, 0] }), 'jobs[1].zones[1]', 'jobs[1].zones[1] must be a zone id (a positive integer), got 0'],
    ['a fractional zone', withJob({ zones: [1.5] }), 'jobs[1].zones[0]', 'jobs[1].zones[0] must be a zone id (a positive integer), got 1.5'],
    ['a zone given as a string', withJob({ zones: [1, '2'] }), 'jobs[1].zones[1]', 'jobs[1].zones[1] must be a zone id (a positive integer), got "2"'],
    ['a repeated zone', withJob({ zones: [5, 3, 9, 3] }), 'jobs[1].zones[3]', 'jobs[1].zones[3] must be a zone not listed before in this job (zones[1] is 3 too), got 3'],
    ['enabled as a string', withJob({ enabled: 'yes' }), 'jobs[1].enabled', 'jobs[1].enabled must be true or false, got "yes"'],
    ['no output_options', withJob({ output_options: undefined }), 'jobs[1].output_options', 'jobs[1].output_options is required: an object'],
    ['no field names', withJob({ output_options: { field_names: [] } }), 'jobs[1].output_options.field_names', 'jobs[1].output_options.field_names must be an array of 1 to 100 field names, got an array of length 0'],
    ['101 field names', withJob({ output_options: { field_names: Array.from({ length: 101 }, (_, i) => `f${i}`) } }), 'jobs[1].output_options.field_names', 'jobs[1].output_options.field_names must be an array of 1 to 100 field names, got an array of length 101'],
    ['a field name starting with a digit', withJob({ output_options: { field_names: ['ClientIP', 'RayID', '2xx'] } }), 'jobs[1].output_options.field_names[2]', 'jobs[1].output_options.field_names[2] must be a field name (a letter, then up to 63 letters, digits or _), got "2xx"'],
    ['a repeated field name', withJob({ output_options: { field_names: ['RayID', 'RayID'] } }), 'jobs[1].output_options.field_names[1]', 'jobs[1].output_options.field_names[1] must be a field not listed before (field_names[0] is the same), got "RayID"'],
    ['an unknown output_type', withJob({ output_options: { field_names: ['a'], output_type: 'xml' } }), 'jobs[1].output_options.output_type', 'jobs[1].output_options.output_type must be one of "ndjson" | "csv", got "xml"'],
    ['an unknown timestamp_format', withJob({ output_options: { field_names: ['a'], timestamp_format: 'iso' } }), 'jobs[1].output_options.timestamp_format', 'jobs[1].output_options.timestamp_format must be one of "unixnano" | "unix" | "rfc3339", got "iso"'],
    ['a sample_rate of 0', withJob({ output_options: { field_names: ['a'], sample_rate: 0 } }), 'jobs[1].output_options.sample_rate', 'jobs[1].output_options.sample_rate must be a fraction of events kept: more than 0, at most 1, got 0'],
    ['a sample_rate of 10 (one in N is not the option\'s meaning)', withJob({ output_options: { field_names: ['a'], sample_rate: 10 } }), 'jobs[1].output_options.sample_rate', 'jobs[1].output_options.sample_rate must be a fraction of events kept: more than 0, at most 1, got 10'],
    ['an unknown compression', withJob({ compression: 'zstd' }), 'jobs[1].compression', 'jobs[1].compression must be one of "gzip" | "none", got "zstd"'],
    ['max_upload_bytes below 5 MB', withJob({ max_upload_bytes: 1024 }), 'jobs[1].max_upload_bytes', 'jobs[1].max_upload_bytes must be an integer from 5000000 to 1000000000 (bytes), got 1024'],
    ['max_upload_bytes of 0 (Cloudflare\'s "no limit")', withJob({ max_upload_bytes: 0 }), 'jobs[1].max_upload_bytes', 'jobs[1].max_upload_bytes must be an integer from 5000000 to 1000000000 (bytes), got 0'],
    ['max_upload_records past a million', withJob({ max_upload_records: 1_000_001 }), 'jobs[1].max_upload_records', 'jobs[1].max_upload_records must be an integer from 1 to 1000000 (records), got 1000001'],
    ['a fractional interval', withJob({ max_upload_interval_seconds: 1.5 }), 'jobs[1].max_upload_interval_seconds', 'jobs[1].max_upload_interval_seconds must be an integer from 1 to 300 (seconds), got 1.5'],
    ['an interval of 301 s', withJob({ max_upload_interval_seconds: 301 }), 'jobs[1].max_upload_interval_seconds', 'jobs[1].max_upload_interval_seconds must be an integer from 1 to 300 (seconds), got 301'],
    ['an unknown overflow policy', withJob({ overflow: 'drop' }), 'jobs[1].overflow', 'jobs[1].overflow must be one of "block" | "drop_oldest" | "drop_newest", got "drop"'],
    ['no destination', withJob({ destination: undefined }), 'jobs[1].destination', 'jobs[1].destination is required: an object'],
    ['an unknown destination type', withJob({ destination: { type: 's3' } }), 'jobs[1].destination.type', 'jobs[1].destination.type must be one of "object-store" | "http" | "stdout", got "s3"'],
    ['an ftp URL', withJob({ destination: { type: 'http', url: 'ftp://files.example/' } }), 'jobs[1].destination.url', 'jobs[1].destination.url must be an http:// or https:// URL, got "ftp://files.example/"'],
    ['a URL that is not one', withJob({ destination: { type: 'http', url: 'not a url' } }), 'jobs[1].destination.url', 'jobs[1].destination.url must be an http:// or https:// URL, got "not a url"'],
    ['a header value with a newline', withJob({ destination: { type: 'http', url: 'https://a.example/', headers: { 'X-Key': 'a\r\nHost: evil' } } }), 'jobs[1].destination.headers.X-Key', 'jobs[1].destination.headers.X-Key must be a header value without CR, LF or NUL, got "a\\r\\nHost: evil"'],
    ['a header name with a space', withJob({ destination: { type: 'http', url: 'https://a.example/', headers: { 'X Key': 'v' } } }), 'jobs[1].destination.headers["X Key"]', 'jobs[1].destination.headers["X Key"] must be an HTTP header name (a token of 1-256 characters), got "X Key"'],
    ['a timeout of 0 ms', withJob({ destination: { type: 'http', url: 'https://a.example/', timeoutMs: 0 } }), 'jobs[1].destination.timeoutMs', 'jobs[1].destination.timeoutMs must be an integer from 1 to 600000 (milliseconds), got 0'],
    ['an empty directory', withJob({ destination: { type: 'object-store', directory: '' } }), 'jobs[1].destination.directory', 'jobs[1].destination.directory must be a non-empty directory path, got ""'],
    ['a filter without where', withJob({ filter: {} }), 'jobs[1].filter.where', 'jobs[1].filter.where is required: a filter node: {"and": [...]}, {"or": [...]} or a condition {"key", "operator", "value"}'],
    ['an unknown filter operator', withJob({ filter: { where: { and: [{ key: 'a', operator: 'eq', value: 1 }, { key: 'b', operator: 'like', value: 'x' }] } } }), 'jobs[1].filter.where.and[1].operator', 'jobs[1].filter.where.and[1].operator must be one of eq | !eq | lt | leq | gt | geq | startsWith | !startsWith | endsWith | !endsWith | contains | !contains | in | !in, got "like"'],
    ['a filter key that is not a field name', withJob({ filter: { where: { key: 'a b', operator: 'eq', value: 1 } } }), 'jobs[1].filter.where.key', 'jobs[1].filter.where.key must be a field name (a letter, then up to 63 letters, digits or _), got "a b"'],
    ['a condition without a value', withJob({ filter: { where: { or: [{ key: 'a', operator: 'eq' }] } } }), 'jobs[1].filter.where.or[0].value', 'jobs[1].filter.where.or[0].value is required: a string, a finite number, a boolean, or an array of 1 to 10000 strings and numbers'],
    ['an object in a list value', withJob({ filter: { where: { key: 'a', operator: 'in', value: ['x', { y: 1 }] } } }), 'jobs[1].filter.where.value[1]', 'jobs[1].filter.where.value[1] must be a string or a finite number, got {"y":1}'],
    ['an empty and', withJob({ filter: { where: { and: [] } } }), 'jobs[1].filter.where.and', 'jobs[1].filter.where.and must be an array of 1 or more filter nodes, got an array of length 0'],
    ['and with or beside it', withJob({ filter: { where: { and: [{ key: 'a', operator: 'eq', value: 1 }], or: [] } } }), 'jobs[1].filter.where.or', 'jobs[1].filter.where.or must be absent (a node with "and" holds nothing else), got an array of length 0'],
    ['an extra key in a condition', withJob({ filter: { where: { key: 'a', operator: 'eq', value: 1, negate: true } } }), 'jobs[1].filter.where.negate', 'jobs[1].filter.where.negate must be absent (a condition has only key, operator and value), got true'],
  ];

  it.each(cases)('%s', (_name, input, path, message) => {
    const error = failure(input);
    expect(error.code).toBe<ConfigErrorCode>('ERR_CONFIG_INVALID');
    expect(error.source).toBe(SOURCE);
    expect(error.path).toBe(path);
    expect(error.message).toBe(prefix + message);
  });

  it('refuses a filter nested past 16 levels, at the level that is too deep', () => {
    let where: unknown = { key: 'a', operator: 'eq', value: 1 };
    for (let i = 0; i < 20; i++) where = { and: [where] };
    const error = failure(withJob({ filter: { where } }));
    expect(error.path).toBe(`jobs[1].filter.where${'.and[0]'.repeat(15)}.and`);
    expect(error.message).toContain('filters nest at most 16 levels deep');
  });

  it('lists several problems, and counts the rest', () => {
    const error = failure({ jobs: [{}] });
    expect(error.issues.map((issue) => issue.path)).toEqual(['jobs[0].id', 'jobs[0].dataset', 'jobs[0].zones', 'jobs[0].output_options', 'jobs[0].destination']);
    expect(error.message).toMatch(/jobs\[0\]\.zones is required: [^;]*; and 2 more problems$/);
  });
});

describe('parseConfig: unknown keys are errors, naming the known ones', () => {
  it.each([
    ['the document', { jobs: [], version: 2 }, 'version', 'version is not a known key of a logfwdr config; known keys: generation, jobs'],
    ['a job', withJob({ zone: [1] }), 'jobs[1].zone', 'jobs[1].zone is not a known key of a job (did you mean "zones"?); known keys: id, dataset, zones, enabled, filter, output_options, compression, max_upload_bytes, max_upload_records, max_upload_interval_seconds, destination, overflow'],
    ['output_options', withJob({ output_options: { field_names: ['a'], fields: ['b'] } }), 'jobs[1].output_options.fields', 'jobs[1].output_options.fields is not a known key of output_options (did you mean "field_names"?); known keys: field_names, output_type, timestamp_format, sample_rate'],
    ['a destination', withJob({ destination: { type: 'stdout', directory: '/tmp' } }), 'jobs[1].destination.directory', 'jobs[1].destination.directory is not a known key of a stdout destination; known keys: type'],
    ['a filter', withJob({ filter: { where: { key: 'a', operator: 'eq', value: 1 }, having: {} } }), 'jobs[1].filter.having', 'jobs[1].filter.having is not a known key of a filter; known keys: where'],
  ])('in %s', (_where, input, path, message) => {
    const error = failure(input);
    expect(error.path).toBe(path);
    expect(error.message).toBe(`invalid logfwdr config from ${SOURCE}: ${message}`);
  });

  it('names the other unknown keys of the same object', () => {
    expect(failure({ jobs: [], a: 1, b: 2 }).message).toContain('a is not a known key of a logfwdr config; nor are "b"');
  });
});

describe('parseConfig: size limits', () => {
  it('refuses more jobs than maxJobs before checking any of them', () => {
    const error = failure({ jobs: [job('a'), job('b'), 'not even a job'] }, { maxJobs: 2 });
    expect(error.code).toBe<ConfigErrorCode>('ERR_CONFIG_TOO_LARGE');
    expect(error.message).toBe(`invalid logfwdr config from ${SOURCE}: jobs holds 3 jobs; at most 2 are allowed (maxJobs)`);
  });

  it('refuses more zones in all than maxZoneEntries, and more per job than maxZonesPerJob', () => {
    const twoJobs = { jobs: [job('a', [1, 2, 3]), job('b', [4, 5, 6])] };
    expect(failure(twoJobs, { maxZoneEntries: 5 }).message).toContain('jobs holds 6 zone entries; at most 5 are allowed (maxZoneEntries)');
    const perJob = failure(twoJobs, { maxZonesPerJob: 2 });
    expect(perJob.code).toBe<ConfigErrorCode>('ERR_CONFIG_INVALID');
    expect(perJob.path).toBe('jobs[0].zones');
    expect(perJob.message).toContain('an array of 1 to 2 zone ids');
  });

  it('refuses limits that are not positive integers: every limit is finite', () => {
    expect(() => parseConfig({ jobs: [] }, SOURCE, { maxJobs: Infinity })).toThrow('config limit maxJobs must be a positive integer, got Infinity');
    expect(() => parseConfig({ jobs: [] }, SOURCE, { maxBytes: 0 })).toThrow(RangeError);
  });

  it('has finite defaults', () => {
    for (const value of Object.values(CONFIG_LIMITS)) expect(Number.isSafeInteger(value)).toBe(true);
  });
});

describe('parseConfigText: JSON or YAML', () => {
  const yaml = [
    'generation: 7',
    'jobs:',
    '  - id: edge-logs',
    '    dataset: http_requests',
    '    zones: [1, 2]',
    '    output_options:',
    '      field_names: [ClientIP, EdgeResponseStatus]',
    '    destination: {type: stdout}',
    '',
  ].join('\n');
  const expected = parseConfig({ generation: 7, jobs: [job('edge-logs', [1, 2])] }, 'x');

  it('reads YAML and JSON to the same config', () => {
    expect(parseConfigText(yaml, 'logfwdr.yaml')).toEqual(expected);
    expect(parseConfigText(JSON.stringify({ generation: 7, jobs: [job('edge-logs', [1, 2])] }, null, 2), 'logfwdr.json')).toEqual(expected);
  });

  it('reads a YAML flow mapping that is not JSON, and JSON with a byte-order mark', () => {
    expect(parseConfigText('{jobs: []}', 'x')).toEqual({ generation: undefined, jobs: [] });
    expect(parseConfigText('\ufeff{"jobs": []}', 'x')).toEqual({ generation: undefined, jobs: [] });
  });

  it('names the path of an error in YAML as in JSON', () => {
    const error = textFailure(yaml.replace('[1, 2]', '[1, -2]'));
    expect(error.path).toBe('jobs[0].zones[1]');
    expect(error.message).toBe('invalid logfwdr config from https://config.internal/logfwdr: jobs[0].zones[1] must be a zone id (a positive integer), got -2');
  });

  it('calls blank text blank, not malformed', () => {
    for (const text of ['', '   \n\t\n']) {
      const error = textFailure(text);
      expect(error.code).toBe<ConfigErrorCode>('ERR_CONFIG_BLANK');
      expect(error.message).toMatch(/^invalid logfwdr config from https:\/\/config\.internal\/logfwdr: the document is blank \((empty|6 characters of whitespace)\)$/);
    }
    expect(textFailure('null').code).toBe<ConfigErrorCode>('ERR_CONFIG_BLANK');
    expect(textFailure('~\n').code).toBe<ConfigErrorCode>('ERR_CONFIG_BLANK');
  });

  it('reports JSON and YAML syntax errors as syntax errors', () => {
    const json = textFailure('{"jobs": [');
    expect(json.code).toBe<ConfigErrorCode>('ERR_CONFIG_SYNTAX');
    expect(json.message).toMatch(/^invalid logfwdr config from https:\/\/config\.internal\/logfwdr: the document is not valid JSON \(nor YAML\): /);
    const yamlError = textFailure('jobs: [\n  - id: a\n');
    expect(yamlError.code).toBe<ConfigErrorCode>('ERR_CONFIG_SYNTAX');
    expect(yamlError.message).toContain('the document is not valid YAML: ');
    expect(yamlError.message).toContain('line 2');
    expect(textFailure('jobs: []\n---\njobs: []\n').message).toContain('multiple documents');
  });

  it('refuses text past maxBytes before decoding it, counting UTF-8 bytes', () => {
    const text = JSON.stringify({ jobs: [job('a')], note: 'é'.repeat(40) });
    const bytes = Buffer.byteLength(text);
    const error = textFailure(text, { maxBytes: bytes - 1 });
    expect(error.code).toBe<ConfigErrorCode>('ERR_CONFIG_TOO_LARGE');
    expect(error.message).toContain(`the document holds ${bytes} bytes; at most ${bytes - 1} are allowed (maxBytes)`);
    expect(textFailure(text, { maxBytes: bytes }).code).toBe<ConfigErrorCode>('ERR_CONFIG_INVALID');
  });

  it('caps YAML aliases, so a "billion laughs" document is refused', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 12; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    expect(textFailure(lines.join('\n')).code).toBe<ConfigErrorCode>('ERR_CONFIG_SYNTAX');
  });
});

// A parsed config is usable wherever a JobConfig is expected.
const asJobConfigs = (config: ParsedConfig): readonly JobConfig[] => config.jobs;
void asJobConfigs;
