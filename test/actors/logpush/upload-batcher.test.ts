import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gunzipSync } from 'node:zlib';
import {
  DEFAULT_MAX_UPLOAD_BYTES,
  DEFAULT_MAX_UPLOAD_INTERVAL_SECONDS,
  DEFAULT_MAX_UPLOAD_RECORDS,
  UploadBatcher,
  resolveUploadLimits,
  type UploadLimits,
} from '../../../src/actors/logpush/upload-batcher.js';
import { BufferPool } from '../../../src/runtime/buffer-pool.js';
import { firstIntervalFraction } from '../../../src/actors/logpush/job-delivery.js';
import { compressObject, uncompressedBody, type StagedPart, type UploadObject } from '../../../src/actors/logpush/upload-object.js';

const text = (object: UploadObject): string => Buffer.from(object.body).toString('utf8');

function batcher(limits: Partial<UploadLimits>, header: string | null = null, firstSeq = 0): { b: UploadBatcher; objects: UploadObject[] } {
  const objects: UploadObject[] = [];
  const b = new UploadBatcher({
    jobId: 'job-1',
    limits: { maxBytes: 1024, maxRecords: 100, maxIntervalMs: 1000, ...limits },
    contentType: 'application/x-ndjson',
    header,
    firstSeq,
    onObject: (object) => objects.push(object),
  });
  return { b, objects };
}

describe('UploadBatcher', () => {
  it('with an event clock, an object is due an interval after its oldest event, not before a quarter interval after it opened, never after an interval', () => {
    const make = (offset: number | undefined) => {
      const objects: UploadObject[] = [];
      const b = new UploadBatcher({
        jobId: 'job-1',
        limits: { maxBytes: 1 << 20, maxRecords: 1000, maxIntervalMs: 4000 },
        contentType: 'application/x-ndjson',
        onObject: (o) => objects.push(o),
        ...(offset === undefined ? {} : { eventClockOffsetMs: offset }),
      });
      return { b, objects };
    };
    const ms = (t: number): number => t * 1e6;
    // Clocks: `now` = unix ms - 1,000,000.
    const clock = -1_000_000;
    // Opened at now 10,000 with an event of unix ms 1,008,000 (now 8,000): due at 12,000.
    let { b, objects } = make(clock);
    b.add('a', ms(1_008_000), 0, 10_000);
    expect(b.deadline).toBe(12_000);
    expect(b.tick(11_999)).toBe(false);
    // A later line with an older event brings it forward: 1,007,500 + 4,000 → 11,500.
    b.add('b', ms(1_007_500), 1, 10_100);
    expect(b.deadline).toBe(11_500);
    expect(b.tick(11_500)).toBe(true);
    expect(objects.map(text)).toEqual(['a\nb\n']);
    // A very old event (a backfill): due a quarter interval after opening, not at once.
    ({ b, objects } = make(clock));
    b.add('old', ms(5), 0, 20_000);
    expect(b.deadline).toBe(21_000);
    // An event from the future: due by arrival, an interval after opening.
    ({ b, objects } = make(clock));
    b.add('future', ms(1_100_000), 0, 30_000);
    expect(b.deadline).toBe(34_000);
    // A line arriving once the object is due seals it first.
    ({ b, objects } = make(clock));
    b.add('x', ms(1_008_000), 0, 10_000);
    b.add('y', ms(1_012_000), 1, 12_000);
    expect(objects.map(text)).toEqual(['x\n']);
    // Without an event clock, by arrival alone.
    ({ b, objects } = make(undefined));
    b.add('a', ms(1_008_000), 0, 10_000);
    expect(b.deadline).toBe(14_000);
  });

  it('seals an object when the next line would pass max_upload_bytes', () => {
    const { b, objects } = batcher({ maxBytes: 10 });
    expect(b.add('aaaa', 1, 0, 0)).toBe('added'); // 5 bytes with its newline
    expect(b.add('bbbb', 2, 1, 0)).toBe('added'); // 10: full, sealed at once
    expect(objects.map(text)).toEqual(['aaaa\nbbbb\n']);
    expect(b.add('cc', 3, 2, 0)).toBe('added');
    expect(b.add('dddddddd', 4, 3, 0)).toBe('added'); // 3 + 9 > 10: seals "cc" first
    expect(objects.map(text)).toEqual(['aaaa\nbbbb\n', 'cc\n']);
    expect(b.openBytes).toBe(9);
  });

  it('seals an object as soon as it holds max_upload_records lines', () => {
    const { b, objects } = batcher({ maxRecords: 2 });
    for (let i = 0; i < 5; i++) b.add(`line${i}`, i, i, 0);
    expect(objects.map((o) => o.records)).toEqual([2, 2]);
    expect(b.openRecords).toBe(1);
    b.flush();
    expect(objects.map(text).join('')).toBe('line0\nline1\nline2\nline3\nline4\n');
  });

  it('seals an object max_upload_interval after its first line, on tick or on the next add', () => {
    const { b, objects } = batcher({ maxIntervalMs: 1000 });
    expect(b.deadline).toBeUndefined();
    b.add('a', 1, 0, 5000);
    expect(b.deadline).toBe(6000);
    b.add('b', 1, 1, 5999);
    expect(b.tick(5999)).toBe(false);
    expect(objects).toHaveLength(0);
    expect(b.tick(6000)).toBe(true);
    expect(objects.map(text)).toEqual(['a\nb\n']);
    expect(b.deadline).toBeUndefined();
    expect(b.tick(99_999)).toBe(false);
    b.add('c', 1, 2, 7000);
    b.add('d', 1, 3, 8000); // past c's deadline: c goes alone
    expect(objects.map(text)).toEqual(['a\nb\n', 'c\n']);
    expect(b.deadline).toBe(9000);
  });

  it('with firstIntervalFraction, the first object is due after that fraction of the interval and every later one after the whole interval', () => {
    const objects: UploadObject[] = [];
    const b = new UploadBatcher({
      jobId: 'job-1',
      limits: { maxBytes: 1024, maxRecords: 100, maxIntervalMs: 1000 },
      contentType: 'application/x-ndjson',
      firstIntervalFraction: 0.4,
      onObject: (o) => objects.push(o),
    });
    b.add('a', 1, 0, 5000);
    expect(b.deadline).toBe(5400);
    expect(b.tick(5399)).toBe(false);
    expect(b.tick(5400)).toBe(true);
    b.add('b', 1, 1, 5500);
    expect(b.deadline).toBe(6500);
    b.flush();
    b.add('c', 1, 2, 7000);
    expect(b.deadline).toBe(8000);
    expect(objects.map(text)).toEqual(['a\n', 'b\n']);
    for (const bad of [0, 0.2, 1.5, Number.NaN]) {
      expect(() => new UploadBatcher({ jobId: 'job-1', limits: { maxBytes: 1024, maxRecords: 100, maxIntervalMs: 1000 }, contentType: 'x', firstIntervalFraction: bad, onObject: () => {} })).toThrow(/firstIntervalFraction/);
    }
  });

  it('firstIntervalFraction of a job id: the same for the same id, from 0.25 to 1, spread over that range across ids', () => {
    const fractions = Array.from({ length: 1000 }, (_, i) => firstIntervalFraction(`job-${i + 1}`));
    expect(firstIntervalFraction('job-1')).toBe(fractions[0]);
    for (const f of fractions) {
      expect(f).toBeGreaterThanOrEqual(0.25);
      expect(f).toBeLessThanOrEqual(1);
    }
    // Every tenth of the range gets some of the 1,000 ids (75 expected in each; at least 40).
    const bins = new Array(10).fill(0);
    for (const f of fractions) bins[Math.min(9, Math.floor(((f - 0.25) / 0.75) * 10))]++;
    for (const n of bins) expect(n).toBeGreaterThanOrEqual(40);
  });

  it('refuses a line that can never fit (oversized) and changes nothing', () => {
    const { b, objects } = batcher({ maxBytes: 8 });
    b.add('abc', 1, 0, 0);
    expect(b.maxLineBytes).toBe(7);
    expect(b.add('12345678', 1, 1, 0)).toBe('oversized');
    expect(b.add('é'.repeat(4), 1, 2, 0)).toBe('oversized'); // 8 bytes in UTF-8
    expect(b.add('1234567', 1, 3, 0)).toBe('added'); // exactly the limit with its newline
    expect(objects.map(text)).toEqual(['abc\n', '1234567\n']);
    expect(objects.every((o) => o.bytes <= 8)).toBe(true);
  });

  it('abandonLine closes an object its line opened, and leaves an object with lines as it was', () => {
    const pool = new BufferPool();
    const objects: UploadObject[] = [];
    const b = new UploadBatcher({ jobId: 'j', limits: { maxBytes: 1024, maxRecords: 100, maxIntervalMs: 1000 }, contentType: 'application/x-ndjson', header: null, pool, onObject: (o) => objects.push(o) });
    b.beginLine(3, 0, 0);
    b.abandonLine();
    expect(b.deadline).toBeUndefined();
    expect(pool.freeBuffers).toBe(1);
    expect(b.flush()).toBe(false);
    b.add('abc', 1, 1, 0);
    b.beginLine(5, 2, 0);
    b.abandonLine();
    expect(b.flush()).toBe(true);
    expect(objects.map(text)).toEqual(['abc\n']);
  });

  it('starts every object with the CSV header and counts it in the bytes', () => {
    const { b, objects } = batcher({ maxBytes: 12 }, 'A,B');
    expect(b.maxLineBytes).toBe(7);
    b.add('1,2', 1, 0, 0);
    b.add('3,4', 1, 1, 0);
    b.add('5,6', 1, 2, 0);
    b.flush();
    expect(objects.map(text)).toEqual(['A,B\n1,2\n3,4\n', 'A,B\n5,6\n']);
    expect(objects.map((o) => o.records)).toEqual([2, 1]);
    expect(objects[0]!.bytes).toBe(12);
    expect(() => batcher({ maxBytes: 4 }, 'A,B')).toThrow(/leaves no room/);
  });

  it('carries seq, ledger range, time range and content type on each object', () => {
    const { b, objects } = batcher({ maxRecords: 3 }, null, 41);
    b.add('a', 300, 10, 0);
    b.add('b', 100, 12, 0);
    b.add('c', Number.NaN, 15, 0);
    b.add('d', Number.NaN, 16, 0);
    b.flush();
    expect(objects.map(({ seq, records, firstLedgerId, lastLedgerId, firstTimestamp, lastTimestamp, compression, contentType }) => ({
      seq,
      records,
      firstLedgerId,
      lastLedgerId,
      firstTimestamp,
      lastTimestamp,
      compression,
      contentType,
    }))).toEqual([
      { seq: 41, records: 3, firstLedgerId: 10, lastLedgerId: 15, firstTimestamp: 100, lastTimestamp: 300, compression: 'none', contentType: 'application/x-ndjson' },
      { seq: 42, records: 1, firstLedgerId: 16, lastLedgerId: 16, firstTimestamp: Number.NaN, lastTimestamp: Number.NaN, compression: 'none', contentType: 'application/x-ndjson' },
    ]);
    expect(b.nextSeq).toBe(43);
    expect(b.flush()).toBe(false);
  });

  it('grows its buffer past the first 64 KiB and hands over what it wrote', () => {
    const { b, objects } = batcher({ maxBytes: 1_000_000, maxRecords: 1_000_000 });
    const line = 'x'.repeat(999);
    for (let i = 0; i < 300; i++) b.add(line, i, i, 0);
    b.flush();
    expect(objects).toHaveLength(1);
    expect(objects[0]!.bytes).toBe(300_000);
    expect(text(objects[0]!)).toBe(`${line}\n`.repeat(300));
  });

  it('gzips an object for upload; the lines come back the same', async () => {
    const { b, objects } = batcher({});
    b.add('{"a":1}', 1, 0, 0);
    b.flush();
    const gz = await compressObject(objects[0]!, 'gzip');
    expect(gz.compression).toBe('gzip');
    expect(gz.bytes).toBe(objects[0]!.bytes);
    expect(gunzipSync(gz.body).toString()).toBe('{"a":1}\n');
    expect(Buffer.from(await uncompressedBody(gz)).toString()).toBe('{"a":1}\n');
    expect(await compressObject(objects[0]!, 'none')).toBe(objects[0]);
  });
});

describe('UploadBatcher (property)', () => {
  type Op = { kind: 'add'; line: string; ts: number; dt: number } | { kind: 'tick'; dt: number } | { kind: 'flush' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('add' as const), line: fc.string({ unit: fc.constantFrom('a', 'b', 'é', '€', '😀', ','), maxLength: 80 }), ts: fc.integer({ min: 0, max: 1000 }), dt: fc.nat(30) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt: fc.nat(100) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  );
  const setup = fc.record({
    maxBytes: fc.integer({ min: 12, max: 300 }),
    maxRecords: fc.integer({ min: 1, max: 12 }),
    maxIntervalMs: fc.integer({ min: 1, max: 200 }),
    header: fc.constantFrom(null, 'H', 'A,B,C'),
  });

  it('never passes any limit, and every accepted line lands in exactly one object, in order', () => {
    fc.assert(
      fc.property(setup, fc.array(op, { maxLength: 200 }), ({ header, ...limits }, ops) => {
        const objects: UploadObject[] = [];
        let now = 0;
        const b = new UploadBatcher({ jobId: 'j', limits, contentType: 'text/csv', header, onObject: (o) => objects.push(o) });
        const headerBytes = header === null ? 0 : Buffer.byteLength(header) + 1;
        const accepted: { line: string; id: number; ts: number; at: number }[] = [];
        ops.forEach((o, id) => {
          if (o.kind === 'flush') return void b.flush();
          now += o.dt;
          if (o.kind === 'tick') return void b.tick(now);
          const fits = Buffer.byteLength(o.line) + 1 + headerBytes <= limits.maxBytes;
          expect(b.add(o.line, o.ts, id, now)).toBe(fits ? 'added' : 'oversized');
          if (fits) accepted.push({ line: o.line, id, ts: o.ts, at: now });
          // Full objects never linger open.
          expect(b.openRecords).toBeLessThan(limits.maxRecords);
          expect(b.openBytes).toBeLessThan(limits.maxBytes);
        });
        b.flush();
        let next = 0;
        objects.forEach((object, i) => {
          expect(object.seq).toBe(i);
          expect(object.bytes).toBe(object.body.byteLength);
          expect(object.bytes).toBeLessThanOrEqual(limits.maxBytes);
          expect(object.records).toBeGreaterThan(0);
          expect(object.records).toBeLessThanOrEqual(limits.maxRecords);
          let body = text(object);
          if (header !== null) {
            expect(body.startsWith(`${header}\n`)).toBe(true);
            body = body.slice(header.length + 1);
          }
          expect(body.endsWith('\n')).toBe(true);
          const lines = body.slice(0, -1).split('\n');
          expect(lines).toHaveLength(object.records);
          const mine = accepted.slice(next, next + object.records);
          expect(lines).toEqual(mine.map((a) => a.line));
          expect(object.firstLedgerId).toBe(mine[0]!.id);
          expect(object.lastLedgerId).toBe(mine[mine.length - 1]!.id);
          expect(object.firstTimestamp).toBe(Math.min(...mine.map((a) => a.ts)));
          expect(object.lastTimestamp).toBe(Math.max(...mine.map((a) => a.ts)));
          // All of an object's lines arrived within its interval.
          expect(mine[mine.length - 1]!.at - mine[0]!.at).toBeLessThan(limits.maxIntervalMs);
          next += object.records;
        });
        expect(next).toBe(accepted.length);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('resolveUploadLimits', () => {
  it('has finite defaults: 5 MiB, 100,000 records, 30 s', () => {
    expect(resolveUploadLimits({})).toEqual({ maxBytes: 5 * 1024 * 1024, maxRecords: 100_000, maxIntervalMs: 30_000 });
    expect([DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_RECORDS, DEFAULT_MAX_UPLOAD_INTERVAL_SECONDS]).toEqual([5 * 1024 * 1024, 100_000, 30]);
  });

  it('refuses 0 ("no limit" in Cloudflare), infinities, fractions and strings, naming the path', () => {
    expect(() => resolveUploadLimits({ max_upload_bytes: 0 })).toThrow(/job\.max_upload_bytes must be an integer.*every limit is finite.*got 0/);
    expect(() => resolveUploadLimits({ max_upload_records: Infinity })).toThrow(expect.objectContaining({ path: 'job.max_upload_records' }));
    expect(() => resolveUploadLimits({ max_upload_records: 1.5 })).toThrow(expect.objectContaining({ path: 'job.max_upload_records' }));
    expect(() => resolveUploadLimits({ max_upload_bytes: 2 ** 40 })).toThrow(expect.objectContaining({ path: 'job.max_upload_bytes' }));
    expect(() => resolveUploadLimits({ max_upload_interval_seconds: 0 })).toThrow(expect.objectContaining({ path: 'job.max_upload_interval_seconds' }));
    expect(() => resolveUploadLimits({ max_upload_interval_seconds: 301 })).toThrow(/at most 300/);
    expect(() => resolveUploadLimits({ max_upload_interval_seconds: '30' as unknown as number })).toThrow(/got "30"/);
    expect(resolveUploadLimits({ max_upload_interval_seconds: 0.5 }).maxIntervalMs).toBe(500);
  });

  it('the batcher checks limits handed to it directly', () => {
    expect(() => batcher({ maxRecords: 0 })).toThrow(expect.objectContaining({ code: 'ERR_LOGPUSH_CONFIG' }));
    expect(() => batcher({ maxIntervalMs: Number.POSITIVE_INFINITY })).toThrow(expect.objectContaining({ code: 'ERR_LOGPUSH_CONFIG' }));
  });
});

/** A staged part that keeps its chunks in memory, as the object store's file would hold them. */
class MemoryPart implements StagedPart {
  readonly chunks: Buffer[] = [];
  discarded = false;
  released = 0;
  append(chunk: Uint8Array, release: () => void): void {
    // Copied, then released at once: the batcher may reuse the buffer from here on.
    this.chunks.push(Buffer.from(chunk));
    release();
    this.released++;
  }
  discard(): void {
    this.discarded = true;
  }
}

/** The object's whole content: its staged chunks, then its body. */
const whole = (object: UploadObject): string =>
  Buffer.concat([...((object.staged as MemoryPart | undefined)?.chunks ?? []), Buffer.from(object.body)]).toString('utf8');

describe('UploadBatcher with a staged part', () => {
  it('hands its lines out in chunks of the spill size as the object grows, and the object is those chunks then its body', () => {
    const parts: MemoryPart[] = [];
    const objects: UploadObject[] = [];
    const pool = new BufferPool({ maxPooledBytes: 1 << 20 });
    const b = new UploadBatcher({
      jobId: 'job-1',
      limits: { maxBytes: 1 << 20, maxRecords: 100_000, maxIntervalMs: 1000 },
      contentType: 'text/csv',
      header: 'A,B',
      onObject: (o) => objects.push(o),
      stage: () => (parts.push(new MemoryPart()), parts[parts.length - 1]!),
      spillBytes: 4096,
      pool,
    });
    const lines = Array.from({ length: 1000 }, (_, i) => `${i},${'x'.repeat(i % 50)}`);
    lines.forEach((line, i) => {
      b.add(line, i, i, 0);
      // Never more than the spill size (a pool's buffer may be one class larger) in memory.
      expect(b.heldBytes).toBeLessThanOrEqual(8192);
    });
    expect(parts).toHaveLength(1);
    expect(parts[0]!.chunks.length).toBeGreaterThan(5);
    // Only whole lines in a chunk; the header only in the first.
    expect(parts[0]!.chunks.every((c) => c[c.length - 1] === 0x0a)).toBe(true);
    expect(parts[0]!.chunks[0]!.toString().startsWith('A,B\n')).toBe(true);
    expect(b.openBytes).toBe(Buffer.concat(parts[0]!.chunks).length + b.heldBytes);
    b.flush();
    expect(objects).toHaveLength(1);
    const [object] = objects;
    expect(object!.staged).toBe(parts[0]);
    expect(whole(object!)).toBe(`A,B\n${lines.join('\n')}\n`);
    expect(object!.bytes).toBe(Buffer.byteLength(whole(object!)));
    expect(object!.records).toBe(1000);
    // Each chunk's buffer went back to the pool once released, and the next chunk reused one.
    expect(parts[0]!.released).toBe(parts[0]!.chunks.length);
    expect(pool.allocated).toBeLessThan(parts[0]!.chunks.length);
    // The next object gets a part of its own.
    b.add('next', 0, 1000, 0);
    b.flush();
    expect(objects[1]!.staged).toBeUndefined();
    expect(whole(objects[1]!)).toBe('A,B\nnext\n');
  });

  it('discard drops the open object and its staged part; the next object starts afresh', () => {
    const parts: MemoryPart[] = [];
    const objects: UploadObject[] = [];
    const b = new UploadBatcher({
      jobId: 'job-1',
      limits: { maxBytes: 1 << 20, maxRecords: 100_000, maxIntervalMs: 1000 },
      contentType: 'application/x-ndjson',
      onObject: (o) => objects.push(o),
      stage: () => (parts.push(new MemoryPart()), parts[parts.length - 1]!),
      spillBytes: 64,
    });
    for (let i = 0; i < 20; i++) b.add(`line-${i}`, i, i, 0);
    expect(parts).toHaveLength(1);
    b.discard();
    expect(parts[0]!.discarded).toBe(true);
    expect(b.openBytes).toBe(0);
    expect(b.deadline).toBeUndefined();
    expect(b.flush()).toBe(false);
    b.add('after', 0, 20, 0);
    b.flush();
    expect(objects.map((o) => [o.seq, whole(o)])).toEqual([[0, 'after\n']]);
  });

  it('refuses a spill size out of range', () => {
    const make = (spillBytes: number) => () =>
      new UploadBatcher({ jobId: 'j', limits: { maxBytes: 1024, maxRecords: 10, maxIntervalMs: 1000 }, contentType: 'x', onObject: () => {}, spillBytes });
    expect(make(15)).toThrow(/spillBytes/);
    expect(make(1.5e3 + 0.5)).toThrow(/spillBytes/);
    expect(make(2 ** 30)).toThrow(/spillBytes/);
    expect(make(16)).not.toThrow();
  });

  it('(property) makes the same objects as without one, holding at most the spill size or one line', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 200 }),
        fc.integer({ min: 20, max: 600 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(null, 'H', 'A,B,C'),
        fc.array(fc.oneof({ weight: 9, arbitrary: fc.string({ unit: fc.constantFrom('a', 'é', '😀'), maxLength: 60 }) }, { weight: 1, arbitrary: fc.constant(null) }), { maxLength: 300 }),
        (spillBytes, maxBytes, maxRecords, header, ops) => {
          const limits = { maxBytes, maxRecords, maxIntervalMs: 1000 };
          const plain: UploadObject[] = [];
          const staged: UploadObject[] = [];
          const a = new UploadBatcher({ jobId: 'j', limits, contentType: 'x', header, onObject: (o) => plain.push(o) });
          const b = new UploadBatcher({ jobId: 'j', limits, contentType: 'x', header, onObject: (o) => staged.push(o), stage: () => new MemoryPart(), spillBytes });
          const headerBytes = header === null ? 0 : Buffer.byteLength(header) + 1;
          let maxLine = 0;
          ops.forEach((line, id) => {
            if (line === null) return void (a.flush(), b.flush());
            expect(b.add(line, id, id, 0)).toBe(a.add(line, id, id, 0));
            maxLine = Math.max(maxLine, Buffer.byteLength(line) + 1);
            expect(b.openBytes).toBe(a.openBytes);
            expect(b.heldBytes).toBeLessThanOrEqual(Math.max(spillBytes, headerBytes + maxLine));
          });
          a.flush();
          b.flush();
          expect(staged.map((o) => ({ ...o, staged: undefined, body: whole(o) }))).toEqual(plain.map((o) => ({ ...o, body: whole(o) })));
        },
      ),
      { numRuns: 500 },
    );
  });
});
