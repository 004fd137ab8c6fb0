/**
 * Ray IDs for the synthetic edge: 16 lowercase hex characters, like Cloudflare's, unique by
 * construction rather than by luck.
 *
 * An event's ray is a keyed 64-bit permutation of its serial number: a four-round Feistel network
 * over two 32-bit halves. A Feistel network is a bijection whatever its round function, so
 * distinct serials of one key give distinct rays, and the rays still look random (a counter in
 * hex would make every batch's rays share a prefix). Random 64-bit rays would collide once in ~4
 * billion runs of 100,000 events; these never do. Two generators with different keys may share a
 * ray with the odds of random rays.
 */

import { splitmix32 } from './prng.js';

const TWO_32 = 4294967296;
const ROUNDS = 4;
/** ASCII of '0'..'9', 'a'..'f'. */
const HEX = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

export const RAY_ID_LENGTH = 16;

/** A ray's 64 bits as two unsigned 32-bit halves; reused, so computing a ray allocates nothing. */
export interface RayBits {
  hi: number;
  lo: number;
}

export class RayIdPermutation {
  private readonly keys = new Uint32Array(ROUNDS);

  constructor(seed: number) {
    let k = seed >>> 0;
    for (let r = 0; r < ROUNDS; r++) {
      k = splitmix32(k ^ (0x52415900 + r));
      this.keys[r] = k;
    }
  }

  /** Sets `out` to the ray of `serial` (an integer from 0 to 2^53 - 1). */
  bits(serial: number, out: RayBits): RayBits {
    let hi = Math.floor(serial / TWO_32) >>> 0;
    let lo = serial >>> 0;
    const keys = this.keys;
    for (let r = 0; r < ROUNDS; r++) {
      const next = (hi ^ round(lo, keys[r]!)) >>> 0;
      hi = lo;
      lo = next;
    }
    out.hi = hi;
    out.lo = lo;
    return out;
  }

  /** The ray of `serial` as its 16-character string. */
  string(serial: number): string {
    return rayIdString(this.bits(serial, { hi: 0, lo: 0 }));
  }
}

/** Writes the ray's 16 ASCII hex characters at `offset`. */
export function writeRayId(target: Uint8Array, offset: number, ray: RayBits): void {
  const { hi, lo } = ray;
  for (let i = 0; i < 8; i++) {
    const shift = 28 - 4 * i;
    target[offset + i] = HEX[(hi >>> shift) & 15]!;
    target[offset + 8 + i] = HEX[(lo >>> shift) & 15]!;
  }
}

export function rayIdString(ray: RayBits): string {
  return ray.hi.toString(16).padStart(8, '0') + ray.lo.toString(16).padStart(8, '0');
}

/** The round function: murmur3's finalizer of the half mixed with the round key. */
function round(x: number, key: number): number {
  let z = (x ^ key) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
