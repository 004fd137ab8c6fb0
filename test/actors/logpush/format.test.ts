import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CONTENT_TYPES, compileFormatter, validateOutputOptions } from '../../../src/actors/logpush/format.js';
import { LogpushError } from '../../../src/actors/logpush/errors.js';
import { compactUtc, rfc3339Seconds, unixNanoDigits, unixSeconds, utcDate } from '../../../src/actors/logpush/timestamp.js';
import type { OutputOptions } from '../../../src/actors/job.js';

// 2024-11-14T10:00:00Z plus 123456789 ns.
const SECONDS = Date.UTC(2024, 10, 14, 10, 0, 0) / 1000;
const NS_BIG = BigInt(SECONDS) * 1_000_000_000n + 123_456_789n;
const NS_NUMBER = SECONDS * 1e9 + 123_456_000; // a float64 keeps ~256 ns here: a microsecond-exact value
const FIELDS = ['ClientIP', 'EdgeStartTimestamp', 'EdgeResponseStatus', 'ClientRequestURI', 'WorkerSubrequest', 'Missing'];

const event = {
  ClientIP: '192.0.2.1',
  EdgeStartTimestamp: NS_BIG,
  EdgeResponseStatus: 200,
  ClientRequestURI: '/a?q="x",y\nz',
  WorkerSubrequest: false,
  Unlisted: 'not written',
};

function refusal(options: unknown): LogpushError {
  try {
    compileFormatter(options as OutputOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(LogpushError);
    expect((error as LogpushError).code).toBe('ERR_LOGPUSH_CONFIG');
    return error as LogpushError;
  }
  throw new Error(`options ${JSON.stringify(options)} were accepted`);
}

/** RFC 4180 records of `text` (LF or CRLF between records), for checking the writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  row.push(cell);
  rows.push(row);
  return rows;
}

describe('compileFormatter: ndjson', () => {
  const f = compileFormatter({ field_names: FIELDS });

  it('writes exactly field_names, in order, one JSON object per line; missing fields are null', () => {
    const line = f.format(event);
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(FIELDS);
    expect(parsed).toEqual({
      ClientIP: '192.0.2.1',
      EdgeStartTimestamp: Number(NS_BIG),
      EdgeResponseStatus: 200,
      ClientRequestURI: '/a?q="x",y\nz',
      WorkerSubrequest: false,
      Missing: null,
    });
    // unixnano by default, every digit kept from a bigint.
    expect(line).toContain(`"EdgeStartTimestamp":${NS_BIG}`);
    expect(f.header).toBeNull();
    expect(f.contentType).toBe(CONTENT_TYPES.ndjson);
  });

  it('writes nested values as JSON, bigints as digits, binary as base64, non-JSON values as null', () => {
    const g = compileFormatter({ field_names: ['O', 'B', 'N', 'F', 'U', 'Inf', 'Bytes'] });
    const line = g.format({ O: { a: [1, 'x'], big: 5n }, B: 12345678901234567890n, N: null, F: () => 1, Inf: Infinity, Bytes: Buffer.from('hi') });
    expect(line).toBe('{"O":{"a":[1,"x"],"big":"5"},"B":12345678901234567890,"N":null,"F":null,"U":null,"Inf":null,"Bytes":"aGk="}');
  });

  it('refuses an event it cannot write (a cycle) with ERR_LOGPUSH_MALFORMED', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const g = compileFormatter({ field_names: ['self'] });
    expect(() => g.format(cyclic)).toThrow(expect.objectContaining({ code: 'ERR_LOGPUSH_MALFORMED' }));
  });

  it('reads inherited names (constructor, toString) as missing unless the event has them', () => {
    const g = compileFormatter({ field_names: ['constructor', 'toString', 'valueOf'] });
    expect(g.format({})).toBe('{"constructor":null,"toString":null,"valueOf":null}');
    expect(g.format({ constructor: 'c' })).toBe('{"constructor":"c","toString":null,"valueOf":null}');
  });

  it('round-trips any string and number through JSON.parse (property)', () => {
    const g = compileFormatter({ field_names: ['S', 'N', 'Datetime'] });
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.double(), fc.string({ unit: 'grapheme' }), (s, n, d) => {
        const parsed = JSON.parse(g.format({ S: s, N: n, Datetime: d })) as Record<string, unknown>;
        expect(parsed.S).toBe(s);
        expect(parsed.N).toBe(Number.isFinite(n) ? (Object.is(n, -0) ? 0 : n) : null);
        // A timestamp field holding no timestamp is written as it is.
        expect(parsed.Datetime).toBe(d);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('compileFormatter: timestamp_format', () => {
  const ts = (format: OutputOptions['timestamp_format'], value: unknown, type: OutputOptions['output_type'] = 'ndjson'): string =>
    compileFormatter({ field_names: ['EdgeStartTimestamp'], timestamp_format: format, output_type: type }).format({ EdgeStartTimestamp: value });

  it('unixnano: integer nanoseconds, from a bigint or a number', () => {
    expect(ts('unixnano', NS_BIG)).toBe(`{"EdgeStartTimestamp":1731578400123456789}`);
    expect(ts('unixnano', NS_NUMBER)).toBe(`{"EdgeStartTimestamp":${unixNanoDigits(NS_NUMBER)}}`);
    expect(ts('unixnano', NS_NUMBER)).not.toMatch(/e\+/);
    expect(ts('unixnano', 1_000)).toBe('{"EdgeStartTimestamp":1000}');
  });

  it('unix: whole seconds', () => {
    expect(ts('unix', NS_BIG)).toBe(`{"EdgeStartTimestamp":${SECONDS}}`);
    expect(ts('unix', NS_NUMBER)).toBe(`{"EdgeStartTimestamp":${SECONDS}}`);
    expect(ts('unix', -1n)).toBe('{"EdgeStartTimestamp":-1}');
  });

  it('rfc3339: a string to the second, UTC', () => {
    expect(ts('rfc3339', NS_BIG)).toBe('{"EdgeStartTimestamp":"2024-11-14T10:00:00Z"}');
    expect(ts('rfc3339', NS_NUMBER)).toBe('{"EdgeStartTimestamp":"2024-11-14T10:00:00Z"}');
    expect(ts('rfc3339', NS_NUMBER + 61e9)).toBe('{"EdgeStartTimestamp":"2024-11-14T10:01:01Z"}');
    expect(ts('rfc3339', NS_BIG, 'csv')).toBe('2024-11-14T10:00:00Z');
  });

  it('applies to EdgeStartTimestamp, EdgeEndTimestamp and Datetime only', () => {
    const g = compileFormatter({ field_names: ['EdgeEndTimestamp', 'Datetime', 'OriginResponseTime'], timestamp_format: 'unix' });
    expect(JSON.parse(g.format({ EdgeEndTimestamp: NS_BIG, Datetime: NS_BIG, OriginResponseTime: 5_000_000_000 }))).toEqual({
      EdgeEndTimestamp: SECONDS,
      Datetime: SECONDS,
      OriginResponseTime: 5_000_000_000,
    });
  });

  it('writes values that are no timestamp as they are, and a missing one as null', () => {
    expect(ts('rfc3339', 'yesterday')).toBe('{"EdgeStartTimestamp":"yesterday"}');
    expect(ts('unix', undefined)).toBe('{"EdgeStartTimestamp":null}');
    expect(ts('rfc3339', 1e30)).toBe('{"EdgeStartTimestamp":1e+30}');
    expect(ts('unix', undefined, 'csv')).toBe('');
  });

  it('helpers: seconds, digits, RFC 3339 and the compact key form', () => {
    expect(unixSeconds(-1)).toBe(-1);
    expect(unixSeconds(-1_000_000_001n)).toBe(-2);
    expect(unixSeconds('1')).toBeUndefined();
    expect(unixNanoDigits(1.5e21)).toBe('1500000000000000000000');
    expect(rfc3339Seconds(SECONDS)).toBe('2024-11-14T10:00:00Z');
    expect(compactUtc(NS_NUMBER)).toBe('20241114T100000Z');
    expect(utcDate(NS_NUMBER)).toBe('20241114');
    expect(compactUtc(Number.NaN)).toBe('19700101T000000Z');
  });
});

describe('compileFormatter: csv', () => {
  const f = compileFormatter({ field_names: FIELDS, output_type: 'csv', timestamp_format: 'unix' });

  it('has a header line of the field names and content type text/csv', () => {
    expect(f.header).toBe(FIELDS.join(','));
    expect(f.contentType).toBe('text/csv');
  });

  it('quotes cells with a quote, comma, CR or LF as RFC 4180 says; missing fields are empty', () => {
    const line = f.format(event);
    expect(line).toBe(`192.0.2.1,${SECONDS},200,"/a?q=""x"",y\nz",false,`);
    expect(f.format({ ClientIP: 'a\rb', ClientRequestURI: 'plain' })).toBe('"a\rb",,,plain,,');
    expect(compileFormatter({ field_names: ['O'], output_type: 'csv' }).format({ O: { a: '"' } })).toBe('"{""a"":""\\""""}"');
  });

  it('round-trips any strings through an RFC 4180 parser (property)', () => {
    const g = compileFormatter({ field_names: ['A', 'B', 'C'], output_type: 'csv' });
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', 'é', '\u2028') }), fc.string(), fc.string(), (a, b, c) => {
        expect(parseCsv(g.format({ A: a, B: b, C: c }))).toEqual([[a, b, c]]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('validateOutputOptions', () => {
  it('fills in the defaults', () => {
    expect(validateOutputOptions({ field_names: ['A'] })).toEqual({ field_names: ['A'], output_type: 'ndjson', timestamp_format: 'unixnano', sample_rate: 1 });
  });

  it('refuses a field name that would be code, before any code is generated', () => {
    const attack = 'a"]+process.exit(1)+e["';
    const error = refusal({ field_names: ['ClientIP', attack] });
    expect(error.path).toBe('output_options.field_names[1]');
    for (const name of ["a'+globalThis.x+'", 'a\u2028b', '__proto__', '_x', 'a b', '', 'a'.repeat(65), '1a', 'é']) {
      expect(refusal({ field_names: [name] }).path).toBe('output_options.field_names[0]');
    }
  });

  it('refuses bad field lists and options, naming the path', () => {
    expect(refusal({ field_names: [] }).path).toBe('output_options.field_names');
    expect(refusal({ field_names: 'ClientIP' }).path).toBe('output_options.field_names');
    expect(refusal({ field_names: ['A', 'B', 'A'] }).message).toContain('repeats field "A"');
    expect(refusal({ field_names: Array.from({ length: 513 }, (_, i) => `F${i}`) }).message).toContain('at most 512');
    expect(refusal({ field_names: ['A'], output_type: 'json' }).path).toBe('output_options.output_type');
    expect(refusal({ field_names: ['A'], timestamp_format: 'rfc3339ms' }).path).toBe('output_options.timestamp_format');
    expect(refusal({ field_names: ['A'], record_delimiter: ';' }).path).toBe('output_options.record_delimiter');
    expect(refusal({ field_names: ['A'], sample_rate: 0 }).path).toBe('output_options.sample_rate');
  });
});
