import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pack, Packr } from 'msgpackr';
import { Codec } from '../../../src/runtime/codec.js';
import {
  BodyCollector,
  bodyFormatOf,
  parseHttpBody,
  tooLargeResult,
  type HttpBodyOptions,
} from '../../../src/actors/sources/http-body.js';
import { PIPELINE_STRUCTURES } from '../../../src/actors/sources/structures.js';

const NOW = 1_764_000_000_000_000_000;
const NDJSON = 'application/x-ndjson';
const MSGPACK = 'application/msgpack';
/** Plain msgpack, as a client library writes it: no records, small integers in one byte. */
const plain = new Packr({ useRecords: false });

function parse(body: Uint8Array, contentType: string | undefined, options?: HttpBodyOptions, dataset = 'http_requests') {
  return parseHttpBody({ dataset, contentType, body, receivedNs: NOW }, options);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

describe('parseHttpBody: NDJSON', () => {
  it('keeps the good lines and counts the others by reason', () => {
    const body = Buffer.from('{"ZoneID":1,"RayID":"a"}\n{"ZoneID":"x"}\nnot json\n{"ZoneID":2}\n' + `{"ZoneID":3,"pad":"${'p'.repeat(200)}"}\n`);
    const result = parse(body, 'application/x-ndjson; charset=utf-8', { maxLineBytes: 100 });
    expect(result.status).toBe(200);
    expect(result.format).toBe('ndjson');
    expect(result.events.map((e) => e.key)).toEqual(['1', '2']);
    expect(result.dropped).toEqual({ malformed: 2, oversized: 1, unconfigured: 0 });
    expect(result.messages).toEqual([
      'line 2: ZoneID must be a positive integer, got "x"',
      expect.stringMatching(/^line 3 is not JSON: /),
      'line 5 is longer than the maximum of 100 bytes',
    ]);
  });

  it('answers 400 when nothing in the body was usable', () => {
    const result = parse(Buffer.from('nope\n[1]\n'), NDJSON);
    expect(result.status).toBe(400);
    expect(result.dropped.malformed).toBe(2);
  });

  it('counts every event of a dataset the pipeline does not carry as unconfigured', () => {
    const result = parse(Buffer.from('{"ZoneID":1}\n{"ZoneID":2}\n'), NDJSON, {}, 'dns_logs');
    expect(result).toMatchObject({ status: 200, events: [], dropped: { malformed: 0, oversized: 0, unconfigured: 2 } });
  });

  it('refuses a body of more than maxEvents events whole, as one oversized entry', () => {
    const body = Buffer.from('{"ZoneID":1}\n'.repeat(11));
    expect(parse(body, NDJSON, { maxEvents: 10 })).toMatchObject({ status: 413, events: [], dropped: { malformed: 0, oversized: 1, unconfigured: 0 } });
    expect(parse(body, NDJSON, { maxEvents: 11 }).events).toHaveLength(11);
  });
});

describe('parseHttpBody: msgpack', () => {
  const events = [
    { ZoneID: 100, RayID: 'r1', EdgeStartTimestamp: 1_700_000_000_000_000_000 },
    { ZoneID: 64, EdgeResponseStatus: 65, RayID: 'r2' },
  ];

  it('takes one array of events', () => {
    const result = parse(plain.pack(events), MSGPACK);
    expect(result.status).toBe(200);
    expect(result.events.map((e) => e.event)).toEqual(events);
    expect(result.events.map((e) => e.timestamp)).toEqual([1_700_000_000_000_000_000, NOW]);
  });

  it('takes a sequence of event maps back to back', () => {
    const result = parse(concat(plain.pack(events[0]), plain.pack(events[1])), 'application/x-msgpack');
    expect(result.events.map((e) => e.event)).toEqual(events);
  });

  it('reads plain msgpack integers 64-127 as integers (the pipeline codec would read them as record ids), and the codec re-encodes the events losslessly', () => {
    const body = plain.pack(events);
    expect(Buffer.from(body).includes(Buffer.from([0x40]))).toBe(true);
    const codec = new Codec(PIPELINE_STRUCTURES);
    expect(() => codec.decode(plain.pack(events[1]))).toThrow();
    for (const e of parse(body, MSGPACK).events) expect(codec.decode(codec.encode(e.event))).toEqual(e.event);
  });

  it('checks decoded elements one by one like NDJSON lines', () => {
    const result = parse(plain.pack([events[0], 5, 'x', { RayID: 'no zone' }, events[1]]), MSGPACK);
    expect(result.status).toBe(200);
    expect(result.events).toHaveLength(2);
    expect(result.dropped).toEqual({ malformed: 3, oversized: 0, unconfigured: 0 });
    expect(result.messages).toEqual([
      'event 1: an event must be an object (a JSON object or msgpack map), got a number',
      'event 2: an event must be an object (a JSON object or msgpack map), got a string',
      'event 3: ZoneID must be a positive integer, got none',
    ]);
  });

  it('counts an undecodable body as one malformed entry and uses none of it', () => {
    const good = plain.pack(events[0]);
    const cases: [string, Uint8Array][] = [
      ['truncated array', plain.pack(events).subarray(0, 20)],
      ['a good map, then a truncated one', concat(good, good.subarray(0, 5))],
      ['bytes after the array', concat(plain.pack(events), Buffer.from([0x01]))],
      ['an unknown extension', Buffer.from([0xd4, 0x05, 0x01])],
      ['a string longer than the body', Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x41])],
      ['nesting too deep for the stack', Buffer.alloc(500_000, 0x91)],
      ['an array header cut short', Buffer.from([0xdd, 0x00])],
    ];
    for (const [what, body] of cases) {
      const result = parse(body, MSGPACK);
      expect({ what, status: result.status, events: result.events.length, dropped: result.dropped }).toEqual({
        what,
        status: 400,
        events: 0,
        dropped: { malformed: 1, oversized: 0, unconfigured: 0 },
      });
      expect(result.messages[0]).toMatch(/^body is not valid msgpack: /);
    }
    // msgpackr keeps decoder state in its module: after all that, the thread's codec still decodes.
    const codec = new Codec(PIPELINE_STRUCTURES);
    expect(codec.decode(codec.encode(events[0]))).toEqual(events[0]);
    expect(parse(plain.pack(events), MSGPACK).events).toHaveLength(2);
  });

  it('refuses an array declaring more than maxEvents events before decoding it, and a longer sequence, as 413', () => {
    const huge = Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x80]);
    expect(parse(huge, MSGPACK)).toMatchObject({ status: 413, dropped: { oversized: 1 } });
    const eleven = concat(...Array.from({ length: 11 }, () => plain.pack({ ZoneID: 1 })));
    expect(parse(eleven, MSGPACK, { maxEvents: 10 })).toMatchObject({ status: 413, events: [], dropped: { oversized: 1, malformed: 0 } });
    expect(parse(plain.pack(new Array(11).fill({ ZoneID: 1 })), MSGPACK, { maxEvents: 10 })).toMatchObject({ status: 413 });
  });

  it('never throws, and accounts for every arbitrary body (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.anything().map((v) => new Uint8Array(pack(v)))), (body) => {
        const result = parse(body, MSGPACK, { maxEvents: 50 });
        expect([200, 400, 413]).toContain(result.status);
        if (result.status !== 200) expect(result.events).toHaveLength(0);
        for (const e of result.events) expect(Number.isSafeInteger(e.zoneId) && e.zoneId > 0).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseHttpBody: limits and content types', () => {
  it('refuses a body over maxBodyBytes with 413 and one oversized entry', () => {
    const body = Buffer.from('{"ZoneID":1}\n'.repeat(10));
    expect(parse(body, NDJSON, { maxBodyBytes: 129 })).toMatchObject({ status: 413, events: [], dropped: { malformed: 0, oversized: 1, unconfigured: 0 } });
    expect(parse(body, NDJSON, { maxBodyBytes: 130 }).status).toBe(200);
  });

  it('refuses a content type that is neither with 415 and one malformed entry', () => {
    expect(parse(Buffer.from('{"ZoneID":1}'), 'application/json')).toMatchObject({ status: 415, format: null, dropped: { malformed: 1 } });
    expect(parse(Buffer.from('{"ZoneID":1}'), undefined)).toMatchObject({ status: 415 });
  });

  it('names the formats by content type, ignoring case and parameters', () => {
    expect(bodyFormatOf('Application/X-NDJSON; charset=utf-8')).toBe('ndjson');
    expect(bodyFormatOf('application/vnd.msgpack')).toBe('msgpack');
    expect(bodyFormatOf('text/plain')).toBeNull();
  });

  it('answers 200 with nothing for an empty body', () => {
    expect(parse(new Uint8Array(0), MSGPACK)).toMatchObject({ status: 200, events: [], dropped: { malformed: 0, oversized: 0, unconfigured: 0 } });
    expect(parse(new Uint8Array(0), NDJSON)).toMatchObject({ status: 200, events: [] });
  });
});

describe('BodyCollector', () => {
  it('collects chunks up to the limit and lets go of them past it', () => {
    const collector = new BodyCollector(10);
    expect(collector.push(Buffer.from('12345'))).toBe(true);
    expect(collector.push(Buffer.from('67890'))).toBe(true);
    expect(Buffer.from(collector.body()).toString()).toBe('1234567890');
    expect(collector.push(Buffer.from('x'))).toBe(false);
    expect(collector.tooLarge).toBe(true);
    expect(collector.push(Buffer.from('y'))).toBe(false);
    expect(tooLargeResult(NDJSON, 10)).toMatchObject({ status: 413, format: 'ndjson', dropped: { oversized: 1 } });
  });

  it('refuses by Content-Length before reading', () => {
    expect(BodyCollector.refusesLength('17000000')).toBe(true);
    expect(BodyCollector.refusesLength('100')).toBe(false);
    expect(BodyCollector.refusesLength(undefined)).toBe(false);
    expect(BodyCollector.refusesLength('11', 10)).toBe(true);
  });
});
