import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NdjsonSplitter, type NdjsonItem } from '../../../src/actors/sources/ndjson.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** Feeds `input` cut at `cuts` (offsets, any order, duplicates fine) and then ends it. */
function feed(splitter: NdjsonSplitter, input: Uint8Array, cuts: readonly number[] = [], watch?: () => void): NdjsonItem[] {
  const points = [...new Set(cuts.map((c) => Math.min(c, input.length)))].sort((a, b) => a - b);
  const out: NdjsonItem[] = [];
  let from = 0;
  for (const to of [...points, input.length]) {
    out.push(...splitter.push(input.subarray(from, to)));
    watch?.();
    from = to;
  }
  out.push(...splitter.end());
  return out;
}

/** Lines a peer might send: objects, broken JSON, other JSON, blanks, long lines, non-UTF-8, CRLF. */
const lineArb = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.string({ unit: 'grapheme', maxLength: 12 }), fc.boolean())).map((o) => JSON.stringify(o)),
  fc.constantFrom('{"a":', 'nope', '{"a":1}}', '[1,2]', '42', '"str"', 'null', '', '   ', '\r', '{"ZoneID": 7}\r'),
  fc.string({ unit: 'grapheme', maxLength: 80 }).map((s) => JSON.stringify({ s })),
  fc.integer({ min: 30, max: 200 }).map((n) => JSON.stringify({ long: 'x'.repeat(n) })),
);
const inputArb = fc.tuple(fc.array(lineArb, { maxLength: 25 }), fc.boolean(), fc.boolean()).map(([lines, trailingNewline, badByte]) => {
  const text = lines.join('\n') + (trailingNewline ? '\n' : '');
  const bytes = utf8(text);
  if (!badByte || bytes.length === 0) return bytes;
  const copy = new Uint8Array(bytes.length + 1);
  copy.set(bytes);
  copy[bytes.length] = 0xff;
  return copy;
});

describe('NdjsonSplitter', () => {
  it('gives each line its object, skips blank lines, takes CRLF and a last line without newline', () => {
    const splitter = new NdjsonSplitter();
    const input = utf8('{"a":1}\r\n\n  \n{"b":"é"}\n{"c":true}');
    const items = feed(splitter, input);
    expect(items).toEqual([
      { ok: true, line: 1, value: { a: 1 } },
      { ok: true, line: 4, value: { b: 'é' } },
      { ok: true, line: 5, value: { c: true } },
    ]);
    expect(splitter.counts).toEqual({ lines: 5, objects: 3, blank: 2, malformed: 0, oversized: 0, bytes: input.length });
  });

  it('refuses invalid JSON, JSON that is no object, and bytes that are no UTF-8 as malformed, line by line', () => {
    const splitter = new NdjsonSplitter();
    const input = new Uint8Array([...utf8('{"a":\n[1]\n7\nnull\n"s"\n'), 0x7b, 0xff, 0x7d, 0x0a, ...utf8('{"ok":1}\n')]);
    const items = feed(splitter, input);
    expect(items.map((i) => (i.ok ? 'ok' : i.reason))).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'malformed', 'malformed', 'ok']);
    const messages = items.flatMap((i) => (i.ok ? [] : [i.message]));
    expect(messages[0]).toMatch(/^line 1 is not JSON: /);
    expect(messages[1]).toBe('line 2 is JSON but an array, not an object');
    expect(messages[2]).toBe('line 3 is JSON but a number, not an object');
    expect(messages[3]).toBe('line 4 is JSON but null, not an object');
    expect(messages[5]).toBe('line 6 is not valid UTF-8');
    expect(splitter.counts.malformed).toBe(6);
  });

  it('drops a line over maxLineBytes as oversized and resumes at the next newline; a line of exactly the maximum passes', () => {
    const max = 32;
    const exact = JSON.stringify({ k: 'x'.repeat(max - 8) });
    expect(exact).toHaveLength(max);
    const long = JSON.stringify({ k: 'y'.repeat(max) });
    const splitter = new NdjsonSplitter({ maxLineBytes: max });
    const items = feed(splitter, utf8(`${exact}\n${long}\n{"after":1}\n`));
    expect(items).toEqual([
      { ok: true, line: 1, value: { k: 'x'.repeat(max - 8) } },
      { ok: false, line: 2, reason: 'oversized', message: 'line 2 is longer than the maximum of 32 bytes' },
      { ok: true, line: 3, value: { after: 1 } },
    ]);
  });

  it('refuses a long line as soon as it passes the limit and buffers none of the rest', () => {
    const splitter = new NdjsonSplitter({ maxLineBytes: 1024 });
    expect(splitter.push(utf8('{"a":"' + 'z'.repeat(1000)))).toEqual([]);
    expect(splitter.bufferedBytes).toBe(1006);
    const refused = splitter.push(utf8('z'.repeat(100)));
    expect(refused).toEqual([{ ok: false, line: 1, reason: 'oversized', message: 'line 1 is longer than the maximum of 1024 bytes' }]);
    expect(splitter.bufferedBytes).toBe(0);
    for (let i = 0; i < 100; i++) expect(splitter.push(utf8('z'.repeat(10_000)))).toEqual([]);
    expect(splitter.bufferedBytes).toBe(0);
    expect(splitter.bufferCapacity).toBeLessThanOrEqual(1024);
    expect(splitter.push(utf8('"}\n{"b":2}\n'))).toEqual([{ ok: true, line: 2, value: { b: 2 } }]);
    expect(splitter.counts).toMatchObject({ lines: 2, oversized: 1, objects: 1 });
  });

  it('gives the same items and counts however the input is cut into chunks (property)', () => {
    fc.assert(
      fc.property(inputArb, fc.array(fc.nat({ max: 4000 }), { maxLength: 40 }), fc.integer({ min: 8, max: 120 }), (input, cuts, max) => {
        const whole = new NdjsonSplitter({ maxLineBytes: max });
        const expected = feed(whole, input);
        const chunked = new NdjsonSplitter({ maxLineBytes: max });
        expect(feed(chunked, input, cuts)).toEqual(expected);
        expect(chunked.counts).toEqual(whole.counts);
        const bytewise = new NdjsonSplitter({ maxLineBytes: max });
        expect(feed(bytewise, input, Array.from({ length: input.length }, (_, i) => i))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('never holds more than maxLineBytes between chunks, and gives every line exactly one outcome (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat({ max: 3000 }), { maxLength: 30 }), fc.integer({ min: 1, max: 200 }), (input, cuts, max) => {
        const splitter = new NdjsonSplitter({ maxLineBytes: max });
        let worst = 0;
        const items = feed(splitter, input, cuts, () => {
          worst = Math.max(worst, splitter.bufferedBytes, splitter.bufferCapacity);
        });
        expect(worst).toBeLessThanOrEqual(max);
        const { lines, objects, blank, malformed, oversized, bytes } = splitter.counts;
        expect(bytes).toBe(input.length);
        expect(objects + blank + malformed + oversized).toBe(lines);
        expect(items).toHaveLength(objects + malformed + oversized);
        let newlines = 0;
        for (const b of input) if (b === 0x0a) newlines++;
        const lastOpen = input.length > 0 && input[input.length - 1] !== 0x0a ? 1 : 0;
        expect(lines).toBe(newlines + lastOpen);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a maxLineBytes out of range', () => {
    expect(() => new NdjsonSplitter({ maxLineBytes: 0 })).toThrow(/ndjson: maxLineBytes must be an integer from 1 to \d+, got 0/);
  });
});
