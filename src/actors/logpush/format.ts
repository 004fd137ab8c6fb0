/**
 * A job's serializer, compiled once from output_options: field_names (which fields, in which order),
 * output_type (ndjson, csv) and timestamp_format (unixnano, unix, rfc3339 for the fields in
 * TIMESTAMP_FIELDS).
 *
 * Why generated code: JSON.stringify of a whole 30-field event ran at only ~0.59 M events/s here,
 * and picking fields into a new object first costs an allocation per event on top. A function
 * generated for the field list concatenates constant pieces and one small call per field
 * (`'{"ClientIP":' + v(e["ClientIP"]) + ',"RayID":' + ...`), which V8 compiles to straight-line
 * code. What goes into that code: field names only after FIELD_NAME_PATTERN has accepted them
 * (letters, digits, _), and then only inside literals built with JSON.stringify; values never.
 *
 * Missing fields are null in NDJSON and empty cells in CSV. CSV follows RFC 4180's quoting (a cell
 * with a quote, a comma, CR or LF is quoted, quotes doubled), with LF between records like NDJSON;
 * the header line names the fields. Objects and arrays inside a field are written as JSON (a CSV
 * cell holding that JSON, quoted as needed). Lines come without their newline: the upload batcher
 * adds it.
 */

import type { OutputOptions, OutputType, TimestampFormat } from '../job.js';
import { configError, configProblem, malformedEventError, messageOf } from './errors.js';
import { TIMESTAMP_FIELDS, isInheritedName, validateFieldName } from './fields.js';
import { validateSampleRate } from './sampler.js';
import { TIMESTAMP_FORMATS, timestampWriter } from './timestamp.js';

/** Cloudflare's http_requests dataset has over a hundred fields: room for all of them, and a bound on generated code. */
export const MAX_FIELD_NAMES = 512;

export const OUTPUT_TYPES: readonly OutputType[] = ['ndjson', 'csv'];

export const CONTENT_TYPES: Readonly<Record<OutputType, string>> = {
  ndjson: 'application/x-ndjson',
  csv: 'text/csv',
};

export interface Formatter {
  /** The CSV header line (field names), without its newline; null for NDJSON. */
  readonly header: string | null;
  readonly outputType: OutputType;
  readonly contentType: string;
  readonly fieldNames: readonly string[];
  /** One event as one line, without the newline. Throws ERR_LOGPUSH_MALFORMED for a value JSON cannot hold (a cycle). */
  format(event: Record<string, unknown>): string;
}

const OUTPUT_OPTION_KEYS = ['field_names', 'output_type', 'timestamp_format', 'sample_rate'];

/**
 * Checks output_options from outside and returns a copy with the defaults filled in (ndjson,
 * unixnano, sample_rate 1). Throws ERR_LOGPUSH_CONFIG naming the path and the value. Cloudflare's
 * other output options (record_prefix, field_delimiter, ...) are refused rather than ignored, so a
 * job never silently gets another format than the one it asked for.
 */
export function validateOutputOptions(input: unknown, path = 'output_options'): Required<OutputOptions> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw configError(path, 'an object', input);
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!OUTPUT_OPTION_KEYS.includes(key)) {
      const shown = /^[A-Za-z0-9_]{1,64}$/.test(key) ? key : JSON.stringify(key.slice(0, 64));
      throw configProblem(`${path}.${shown}`, `is not a supported output option; supported: ${OUTPUT_OPTION_KEYS.join(', ')}`);
    }
  }
  const fieldNames = validateFieldNames(options.field_names, `${path}.field_names`);
  const outputType = options.output_type ?? 'ndjson';
  if (!(OUTPUT_TYPES as readonly unknown[]).includes(outputType)) throw configError(`${path}.output_type`, `one of ${OUTPUT_TYPES.join(', ')}`, outputType);
  const timestampFormat = options.timestamp_format ?? 'unixnano';
  if (!(TIMESTAMP_FORMATS as readonly unknown[]).includes(timestampFormat)) {
    throw configError(`${path}.timestamp_format`, `one of ${TIMESTAMP_FORMATS.join(', ')}`, timestampFormat);
  }
  return {
    field_names: fieldNames,
    output_type: outputType as OutputType,
    timestamp_format: timestampFormat as TimestampFormat,
    sample_rate: validateSampleRate(options.sample_rate, `${path}.sample_rate`),
  };
}

/** Compiled serializers by shape; see compileFormatter. */
const compiled = new Map<string, Generated>();
const MAX_COMPILED = 4096;

/** Compiles the job's serializer. Validates the options first (once per job), so no unchecked name reaches generated code. */
export function compileFormatter(options: OutputOptions): Formatter {
  const valid = validateOutputOptions(options);
  const fieldNames = Object.freeze([...valid.field_names]);
  const outputType = valid.output_type;
  const writeTimestamp = timestampWriter(valid.timestamp_format);
  // One compiled serializer per distinct (type, timestamp format, field list), shared by every job
  // that asks for it: compiling one per job cost each of 100,000 jobs its own compile and its own
  // cold, never-optimized function (bench/scale).
  const key = `${outputType}\n${valid.timestamp_format}\n${fieldNames.join(',')}`;
  let generated = compiled.get(key);
  if (generated === undefined) {
    generated =
      outputType === 'ndjson'
        ? generate(ndjsonSource(fieldNames), jsonValue, ndjsonTimestamp(writeTimestamp, valid.timestamp_format))
        : generate(csvSource(fieldNames), csvCell, csvTimestamp(writeTimestamp));
    // Bounded: past MAX_COMPILED distinct shapes a job compiles its own, as before.
    if (compiled.size < MAX_COMPILED) compiled.set(key, generated);
  }
  const serialize = generated;
  return {
    header: outputType === 'csv' ? fieldNames.join(',') : null,
    outputType,
    contentType: CONTENT_TYPES[outputType],
    fieldNames,
    format(event) {
      try {
        return serialize(event);
      } catch (error) {
        throw malformedEventError(`event cannot be written as ${outputType}: ${messageOf(error)}`, error);
      }
    },
  };
}

function validateFieldNames(input: unknown, path: string): string[] {
  if (!Array.isArray(input) || input.length === 0) throw configError(path, 'a non-empty array of field names', input);
  if (input.length > MAX_FIELD_NAMES) throw configProblem(path, `lists ${input.length} fields; at most ${MAX_FIELD_NAMES} are allowed`);
  const seen = new Set<string>();
  return input.map((name: unknown, i) => {
    const valid = validateFieldName(name, `${path}[${i}]`);
    if (seen.has(valid)) throw configProblem(`${path}[${i}]`, `repeats field ${JSON.stringify(valid)}`);
    seen.add(valid);
    return valid;
  });
}

type ValueWriter = (value: unknown) => string;
type Generated = (event: Record<string, unknown>) => string;

/**
 * Builds the function from its source. The helpers come in as parameters: v writes a value, t a
 * timestamp, h is Object.hasOwn for the few names every object inherits (see isInheritedName).
 */
function generate(source: string, value: ValueWriter, timestamp: ValueWriter): Generated {
  const factory = new Function('v', 't', 'h', source) as (v: ValueWriter, t: ValueWriter, h: typeof Object.hasOwn) => Generated;
  return factory(value, timestamp, Object.hasOwn);
}

/** `e["Name"]`, or an own-property read for inherited names. Only called with validated names. */
function read(name: string): string {
  const key = JSON.stringify(name);
  return isInheritedName(name) ? `(h(e, ${key}) ? e[${key}] : undefined)` : `e[${key}]`;
}

function call(name: string): string {
  return `${TIMESTAMP_FIELDS.has(name) ? 't' : 'v'}(${read(name)})`;
}

function ndjsonSource(fieldNames: readonly string[]): string {
  const parts = fieldNames.map((name, i) => `${JSON.stringify(`${i === 0 ? '{' : ','}"${name}":`)} + ${call(name)}`);
  return `"use strict";\nreturn function formatNdjson(e) {\n  return ${parts.join(' +\n    ')} + "}";\n};`;
}

function csvSource(fieldNames: readonly string[]): string {
  const parts = fieldNames.map((name) => call(name));
  return `"use strict";\nreturn function formatCsv(e) {\n  return ${parts.join(' + "," +\n    ')};\n};`;
}

/**
 * What JSON.stringify escapes in a string: quote, backslash, control characters, and surrogates
 * (a lone one is escaped; a string with a pair goes the slow way too, and comes out the same).
 */
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A value as JSON text; what JSON has no value for (undefined, functions, NaN) is null. */
function jsonValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      // Most strings of a log event need no escaping: testing for it and adding quotes was ~1.5x
      // faster here than JSON.stringify on every string (30-field CDN events).
      return JSON_ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return 'null';
      // msgpack binary decodes to bytes: base64 text, not an object of numbered keys.
      if (value instanceof Uint8Array) return `"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"`;
      return JSON.stringify(value, bigintAsDigits) ?? 'null';
    default:
      return 'null';
  }
}

/** Nested 64-bit integers (bigint) would make JSON.stringify throw: written as decimal strings. */
function bigintAsDigits(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A timestamp field's NDJSON text (the transcoder writes the same). */
export function ndjsonTimestamp(write: (ns: unknown) => string | number | undefined, format: TimestampFormat): ValueWriter {
  // A value that is no timestamp (a string, null) is written as it is: nothing is lost or invented.
  if (format === 'rfc3339') {
    return (value) => {
      const text = write(value);
      // RFC 3339 text has only digits, -, :, T and Z: nothing to escape.
      return text === undefined ? jsonValue(value) : `"${text}"`;
    };
  }
  return (value) => {
    const n = write(value);
    return n === undefined ? jsonValue(value) : String(n);
  };
}

const CSV_SPECIAL = /[",\r\n]/;

function csvCell(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quoteCsv(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : '';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object':
      return value === null ? '' : quoteCsv(jsonValue(value));
    default:
      return '';
  }
}

function quoteCsv(text: string): string {
  return CSV_SPECIAL.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvTimestamp(write: (ns: unknown) => string | number | undefined): ValueWriter {
  return (value) => {
    const written = write(value);
    return written === undefined ? csvCell(value) : String(written);
  };
}
