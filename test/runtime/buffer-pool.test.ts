import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BufferPool, classBytes } from '../../src/runtime/buffer-pool.js';
import { Buftee } from '../../src/actors/buftee/index.js';

const MAX_POOLED_BYTES = 1 << 20;

describe('BufferPool', () => {
  it('puts a batch in a class at most 1/8 larger than its bytes (64 bytes at least)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: MAX_POOLED_BYTES })), (n) => {
        const size = classBytes(n);
        expect(size).toBeGreaterThanOrEqual(Math.max(n, 64));
        if (n > 64) expect(size).toBeLessThanOrEqual(n * 1.125);
        // A class is its own class: a given-back buffer is found again by size.
        expect(classBytes(size)).toBe(size);
      }),
    );
  });

  it('takes buffers of the class size, whose whole room the owner may use', () => {
    const pool = new BufferPool({ maxPooledBytes: 8 << 20 });
    const a = pool.take(5000);
    expect(a.byteLength).toBe(classBytes(5000));
    pool.give(new Uint8Array(a, 0, 10));
    expect(pool.take(classBytes(5000) - 1)).toBe(a);
  });

  it('copies the bytes, reuses a given-back buffer of the class, and never hands one out twice', () => {
    const pool = new BufferPool();
    const a = pool.copy(Uint8Array.of(1, 2, 3));
    expect([...a]).toEqual([1, 2, 3]);
    const b = pool.copy(Uint8Array.of(4, 5));
    expect(b.buffer).not.toBe(a.buffer);
    pool.give(a);
    expect(pool.freeBytes).toBe(64);
    const c = pool.copy(Uint8Array.of(9));
    expect(c.buffer).toBe(a.buffer);
    expect([...c]).toEqual([9]);
    expect(pool.freeBytes).toBe(0);
    const d = pool.copy(Uint8Array.of(7));
    expect(d.buffer).not.toBe(c.buffer);
    expect(pool).toMatchObject({ reused: 1, allocated: 3 });
  });

  it('keeps no more free bytes than its bound, and ignores what it did not make', () => {
    const pool = new BufferPool({ maxFreeBytes: 1000 });
    const held = Array.from({ length: 10 }, () => pool.copy(new Uint8Array(200)));
    for (const data of held) pool.give(data);
    // Class of 200 bytes is 208: four fit under 1,000.
    expect(pool.freeBytes).toBe(4 * classBytes(200));
    pool.give(new Uint8Array(new ArrayBuffer(300), 8, 100)); // not at offset 0
    pool.give(new Uint8Array(100)); // 100 is not a class size
    expect(pool.freeBytes).toBe(4 * classBytes(200));
    const big = pool.copy(new Uint8Array(MAX_POOLED_BYTES + 1));
    expect(big.buffer.byteLength).toBe(MAX_POOLED_BYTES + 1);
    pool.give(big);
    pool.give(new Uint8Array(new SharedArrayBuffer(256)));
    expect(pool.freeBytes).toBe(4 * classBytes(200));
    expect(() => new BufferPool({ maxFreeBytes: -1 })).toThrow(/maxFreeBytes/);
    // A class size at offset 0, but not made here (as Node's 8 KiB Buffer slabs): not taken in.
    const roomy = new BufferPool();
    roomy.give(new Uint8Array(8192));
    roomy.give(Buffer.from(new ArrayBuffer(1024)));
    expect(roomy.freeBytes).toBe(0);
  });

  it('keeps no more free buffers than its count bound, however small they are', () => {
    const pool = new BufferPool({ maxFreeBuffers: 5 });
    const held = Array.from({ length: 12 }, () => pool.copy(new Uint8Array(64)));
    for (const data of held) pool.give(data);
    expect(pool.freeBuffers).toBe(5);
    expect(pool.freeBytes).toBe(5 * 64);
    // Taking one makes room for one more, and no more.
    pool.take(64);
    expect(pool.freeBuffers).toBe(4);
    // Buffers 5 and 6 were left to the GC when given back past the bound: their owner still has them.
    pool.give(held[5]!);
    expect(pool.freeBuffers).toBe(5);
    pool.give(held[6]!);
    expect(pool.freeBuffers).toBe(5);
    expect(new BufferPool().maxFreeBuffers).toBe(131_072);
    expect(() => new BufferPool({ maxFreeBuffers: 1.5 })).toThrow(/maxFreeBuffers/);
  });
});

describe('BufferPool.trim', () => {
  it('lets go of what no take needed since the last trim, and keeps what was used', () => {
    const pool = new BufferPool();
    const burst = Array.from({ length: 10 }, () => pool.take(1000));
    for (const b of burst) pool.give(new Uint8Array(b));
    expect(pool.freeBytes).toBe(10 * 1024);
    pool.trim(); // the low-water mark started at 0: nothing to let go yet
    expect(pool.freeBytes).toBe(10 * 1024);
    // Four taken and given back in this period: the other six sat unused.
    const used = Array.from({ length: 4 }, () => pool.take(1000));
    for (const b of used) pool.give(new Uint8Array(b));
    expect(pool.trim()).toBe(6 * 1024);
    expect(pool.freeBytes).toBe(4 * 1024);
    // A period without takes: all of it goes.
    expect(pool.trim()).toBe(4 * 1024);
    expect(pool.freeBytes).toBe(0);
    expect(pool.take(1000).byteLength).toBe(1024);
    expect(pool.allocated).toBe(11);
  });
});

describe('Buftee batch memory', () => {
  it('reuses acked batches\' memory: a steady flow allocates only up to what is held at once', () => {
    const buftee = new Buftee();
    buftee.subscribe('job-1', 'c');
    for (let i = 0; i < 1000; i++) {
      const data = new Uint8Array(1000 + (i % 7) * 10).fill(i & 0xff);
      const { offset } = buftee.append('p', 'job-1', data, 1) as { offset: number };
      const [batch] = buftee.read('job-1', 'c', 1).batches;
      expect(Buffer.compare(batch!.data, data)).toBe(0);
      buftee.ack('job-1', 'c', offset);
    }
    const { pool } = buftee.stats();
    // 1,000 appends with one batch held at a time: 1,000-1,060 bytes fall in 2 classes.
    expect(pool.allocated).toBeLessThanOrEqual(2);
    expect(pool.reused).toBeGreaterThanOrEqual(998);
  });
});

describe('BufferPool under changing sizes', () => {
  it('takes a free buffer of up to largerClasses classes larger when its own class has none', () => {
    const c0 = classBytes(5000);
    const c1 = classBytes(c0 + 1);
    const c2 = classBytes(c1 + 1);
    const c3 = classBytes(c2 + 1);
    for (const largerClasses of [0, 2]) {
      const pool = new BufferPool({ largerClasses });
      const one = pool.take(c1);
      const three = pool.take(c3);
      pool.give(new Uint8Array(one));
      pool.give(new Uint8Array(three));
      const first = pool.take(5000);
      const second = pool.take(5000);
      if (largerClasses === 0) {
        // Own class only: both made new, both of class c0.
        expect([first.byteLength, second.byteLength]).toEqual([c0, c0]);
        expect(pool.freeBuffers).toBe(2);
      } else {
        // The c1 buffer is one class up; the c3 one is three, past the two allowed: made new.
        expect(first).toBe(one);
        expect(second.byteLength).toBe(c0);
        expect(second).not.toBe(three);
        expect(pool.freeBuffers).toBe(1);
        expect(pool.freeBytes).toBe(c3);
      }
    }
    expect(() => new BufferPool({ largerClasses: -1 })).toThrow(/largerClasses/);
    expect(() => new BufferPool({ largerClasses: 65 })).toThrow(/largerClasses/);
  });

  it('full of one size, keeps a buffer of a new size given back, letting go of one of the old', () => {
    const pool = new BufferPool({ maxFreeBytes: 4 * 1024 });
    const small = Array.from({ length: 9 }, () => pool.take(512));
    for (const b of small.slice(0, 8)) pool.give(new Uint8Array(b));
    expect(pool.freeBuffers).toBe(8);
    expect(pool.freeBytes).toBe(4096);
    // Full, and a 512 comes back: its class has the most free buffers, so it is the one that goes.
    pool.give(new Uint8Array(small[8]!));
    expect(pool.freeBuffers).toBe(8);
    // A 1,024-byte buffer comes back: two 512s go, it stays, and the next take of its size gets it.
    const big = pool.take(1024);
    expect(pool.allocated).toBe(10);
    pool.give(new Uint8Array(big));
    expect(pool.freeBytes).toBe(4096);
    expect(pool.freeBuffers).toBe(7);
    expect(pool.take(1024)).toBe(big);
    const kept = Array.from({ length: 6 }, () => pool.take(512));
    expect(kept.every((b) => small.slice(0, 8).includes(b))).toBe(true);
    expect(kept).not.toContain(small[8]);
    expect(pool.freeBuffers).toBe(0);
  });

  it('never hands a buffer out twice and stays within its bounds, over any takes and gives (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          maxFreeBytes: fc.integer({ min: 0, max: 64 * 1024 }),
          maxFreeBuffers: fc.integer({ min: 0, max: 40 }),
          largerClasses: fc.integer({ min: 0, max: 16 }),
        }),
        fc.array(fc.record({ take: fc.boolean(), bytes: fc.integer({ min: 1, max: 16 * 1024 }), pick: fc.nat() }), { maxLength: 300 }),
        (options, steps) => {
          const pool = new BufferPool({ ...options, maxPooledBytes: 8 * 1024 });
          const out = new Set<ArrayBuffer>();
          let takes = 0;
          for (const step of steps) {
            if (step.take || out.size === 0) {
              takes++;
              const buffer = pool.take(step.bytes);
              expect(out.has(buffer)).toBe(false);
              expect(buffer.byteLength).toBeGreaterThanOrEqual(step.bytes);
              // Its own class, or at most largerClasses up: never more than twice for 8 (16 here: four times).
              if (step.bytes <= 8 * 1024) expect(buffer.byteLength).toBeLessThanOrEqual(classBytes(step.bytes) * 2 ** Math.ceil(options.largerClasses / 8));
              out.add(buffer);
            } else {
              const all = [...out];
              const buffer = all[step.pick % all.length]!;
              out.delete(buffer);
              pool.give(new Uint8Array(buffer));
            }
            expect(pool.freeBytes).toBeLessThanOrEqual(options.maxFreeBytes);
            expect(pool.freeBuffers).toBeLessThanOrEqual(options.maxFreeBuffers);
            expect(pool.freeBytes).toBeGreaterThanOrEqual(pool.freeBuffers * 64);
          }
          expect(pool.reused + pool.allocated).toBe(takes);
        },
      ),
    );
  });
});

describe('BufferPool making room', () => {
  it('lets go of thousands of small buffers for one large one given back, at once', () => {
    const pool = new BufferPool({ maxFreeBytes: 1 << 20, maxPooledBytes: 1 << 20 });
    const small = Array.from({ length: 16_384 }, () => pool.take(64));
    for (const b of small) pool.give(new Uint8Array(b));
    expect(pool.freeBytes).toBe(1 << 20);
    const large = pool.take(512 * 1024);
    pool.give(new Uint8Array(large));
    // Half the small ones went: exactly the room the large one needs.
    expect(pool.freeBytes).toBe(1 << 20);
    expect(pool.freeBuffers).toBe(8192 + 1);
    expect(pool.take(512 * 1024)).toBe(large);
  });
});
