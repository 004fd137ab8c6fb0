import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RayIdPermutation, rayIdString, writeRayId } from '../../../src/actors/sources/ray-id.js';
import { Random } from '../../../src/actors/sources/prng.js';

describe('RayIdPermutation', () => {
  it('gives distinct serials distinct 16-character lowercase hex rays', () => {
    const rays = new RayIdPermutation(42);
    const seen = new Set<string>();
    const shape = /^[0-9a-f]{16}$/;
    let misshapen = 0;
    for (let serial = 0; serial < 200_000; serial++) {
      const ray = rays.string(serial);
      if (!shape.test(ray)) misshapen++;
      seen.add(ray);
    }
    expect(misshapen).toBe(0);
    expect(seen.size).toBe(200_000);
  });

  it('is a bijection at any serial up to 2^53 - 1 (a Feistel network: invertible round by round)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0 }), fc.maxSafeNat(), fc.maxSafeNat(), (seed, a, b) => {
        const rays = new RayIdPermutation(seed);
        expect(rays.string(a) === rays.string(b)).toBe(a === b);
      }),
    );
  });

  it('depends on the seed, and serials in a row do not share a prefix', () => {
    expect(new RayIdPermutation(1).string(0)).not.toBe(new RayIdPermutation(2).string(0));
    const rays = new RayIdPermutation(1);
    const prefixes = new Set([0, 1, 2, 3, 4, 5, 6, 7].map((s) => rays.string(s).slice(0, 4)));
    expect(prefixes.size).toBeGreaterThan(6);
  });

  it('writes the same ASCII as its string', () => {
    const rays = new RayIdPermutation(9);
    const bits = { hi: 0, lo: 0 };
    const target = new Uint8Array(20);
    for (const serial of [0, 1, 2 ** 32, 2 ** 53 - 1]) {
      rays.bits(serial, bits);
      writeRayId(target, 2, bits);
      expect(Buffer.from(target.subarray(2, 18)).toString('latin1')).toBe(rayIdString(bits));
      expect(rayIdString(bits)).toBe(rays.string(serial));
    }
  });
});

describe('Random', () => {
  it('repeats its sequence for a seed and stream, and differs across either', () => {
    const take = (r: Random) => Array.from({ length: 8 }, () => r.nextU32());
    expect(take(new Random(7))).toEqual(take(new Random(7)));
    expect(take(new Random(7))).not.toEqual(take(new Random(8)));
    expect(take(new Random(7, 0))).not.toEqual(take(new Random(7, 1)));
  });

  it('draws floats in [0, 1) and integers in range, roughly uniformly', () => {
    const r = new Random(1);
    const bins = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      if (!(x >= 0 && x < 1)) outside++;
      bins[r.int(0, 9)]!++;
    }
    expect(outside).toBe(0);
    for (const count of bins) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });
});
