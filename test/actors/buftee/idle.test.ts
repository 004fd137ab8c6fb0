import { afterEach, describe, expect, it } from 'vitest';
import { Buftee } from '../../../src/actors/buftee/index.js';

const P = 'http_requests';
const EMPTY = new Uint8Array(0);
const TTL = 1000;

function make(c: { now: number }, limits: Record<string, number> = {}): Buftee {
  return new Buftee({ clock: () => c.now, limits: { idleTtlMs: TTL, ...limits } });
}

describe('idle eviction', () => {
  it('removes a buffer with nothing unacked once untouched for idleTtlMs, not before', () => {
    const c = { now: 0 };
    const buftee = make(c);
    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', EMPTY, 1);
    buftee.ack('job-1', 'logpush', buftee.read('job-1', 'logpush', 1).batches[0]!.offset);
    c.now = TTL - 1;
    expect(buftee.evictIdle()).toEqual({ buffers: 0, expired: [], jobs: [] });
    c.now = TTL;
    expect(buftee.evictIdle()).toEqual({ buffers: 1, expired: [], jobs: ['job-1'] });
    expect(buftee.stats()).toMatchObject({ buffers: 0, prefixes: 0, evicted: 1, evictable: 0 });
    // The subscription outlives the buffer: the next batch finds its consumer in place.
    buftee.append(P, 'job-1', EMPTY, 1);
    expect(buftee.read('job-1', 'logpush', 5).batches.map((b) => b.offset)).toEqual([0]);
  });

  it('every append, read and ack is a touch', () => {
    const c = { now: 0 };
    const buftee = make(c);
    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', EMPTY, 1);
    c.now = 600;
    buftee.ack('job-1', 'logpush', 0);
    c.now = 1200;
    buftee.read('job-1', 'logpush', 1);
    c.now = 2199;
    expect(buftee.evictIdle().buffers).toBe(0);
    c.now = 2200;
    expect(buftee.evictIdle().buffers).toBe(1);
  });

  it('never evicts a buffer whose consumer has not acked everything', () => {
    const c = { now: 0 };
    const buftee = make(c);
    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', EMPTY, 1);
    c.now = 100 * TTL;
    expect(buftee.evictIdle().buffers).toBe(0);
    expect(buftee.stats().evictable).toBe(0);
    buftee.ack('job-1', 'logpush', 0);
    expect(buftee.stats().evictable).toBe(1);
  });

  it('expires a buffer nobody consumes, returning its events for the ledger', () => {
    const c = { now: 0 };
    const buftee = make(c);
    buftee.append(P, 'nobody-reads', new Uint8Array(10), 4);
    buftee.append(P, 'nobody-reads', new Uint8Array(10), 5);
    c.now = TTL;
    expect(buftee.evictIdle()).toEqual({
      buffers: 1,
      expired: [{ job: 'nobody-reads', prefix: P, batches: 2, events: 9, bytes: 20, unreadBy: [] }],
      jobs: ['nobody-reads'],
    });
    expect(buftee.stats()).toMatchObject({ batches: 0, bytes: 0, expired: { buffers: 1, batches: 2, events: 9 } });
  });

  it('evicts the least recently touched first, at most `max` a call', () => {
    const c = { now: 0 };
    const buftee = make(c);
    for (const job of ['a', 'b', 'c']) buftee.append(P, job, EMPTY, 1);
    c.now = 10;
    buftee.append(P, 'a', EMPTY, 1);
    c.now = TTL + 10;
    expect(buftee.evictIdle(1).expired.map((e) => e.job)).toEqual(['b']);
    expect(buftee.evictIdle().expired.map((e) => e.job)).toEqual(['c', 'a']);
  });

  it('does not evict when idleTtlMs is turned off', () => {
    const c = { now: 0 };
    const buftee = new Buftee({ clock: () => c.now, unsafe: { unlimited: ['idleTtlMs'] } });
    buftee.append(P, 'job-1', EMPTY, 1);
    c.now = Number.MAX_SAFE_INTEGER;
    expect(buftee.evictIdle().buffers).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// O(1): the work of an operation does not depend on how many buffers exist. Measured two ways,
// neither of them a clock: every call on a Map (and every step of a Map iteration), counted by
// wrapping Map.prototype; and Buftee's own count of batches and buffers visited (stats().work).

const MAP_METHODS = ['get', 'set', 'has', 'delete'] as const;
const MAP_ITERATORS = ['values', 'keys', 'entries', Symbol.iterator] as const;
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
const proto = Map.prototype as unknown as Record<string | symbol, AnyFn>;
const originals = new Map<string | symbol, AnyFn>([...MAP_METHODS, ...MAP_ITERATORS].map((name) => [name, proto[name]!]));

afterEach(() => {
  for (const [name, fn] of originals) proto[name] = fn;
});

/** Map calls and iteration steps made while `fn` runs. */
function mapWork(fn: () => void): number {
  let ops = 0;
  for (const name of MAP_METHODS) {
    const original = originals.get(name)!;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      ops++;
      return original.apply(this, args);
    };
  }
  for (const name of MAP_ITERATORS) {
    const original = originals.get(name)!;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      const inner = original.apply(this, args) as IterableIterator<unknown>;
      const counted: IterableIterator<unknown> = {
        next: () => {
          ops++;
          return inner.next();
        },
        [Symbol.iterator]: () => counted,
      };
      return counted;
    };
  }
  try {
    fn();
  } finally {
    for (const [name, f] of originals) proto[name] = f;
  }
  return ops;
}

interface Cost {
  map: number;
  work: number;
}

function cost(buftee: Buftee, fn: () => void): Cost {
  const before = buftee.stats().work;
  const map = mapWork(fn);
  return { map, work: buftee.stats().work - before };
}

const IDLE = 100_000;
const LIMITS = { maxBuffers: 1_000_000, maxBuffersPerPrefix: 1_000_000, maxNewBuffersPerSecond: 1_000_000, idleTtlMs: TTL };

/** The same operations against an empty Buftee and one holding `idle` idle buffers. */
function operationCosts(idle: number): Record<string, Cost> {
  const c = { now: 0 };
  const buftee = new Buftee({ clock: () => c.now, limits: LIMITS });
  for (let i = 0; i < idle; i++) buftee.append('idle', `idle-${i}`, EMPTY, 1);
  c.now = 10;
  buftee.subscribe('hot', 'logpush');
  buftee.append(P, 'hot', EMPTY, 1);
  return {
    'append to an existing buffer': cost(buftee, () => buftee.append(P, 'hot', EMPTY, 1)),
    'append creating a buffer': cost(buftee, () => buftee.append(P, 'new', EMPTY, 1)),
    'read': cost(buftee, () => buftee.read('hot', 'logpush', 1)),
    'ack': cost(buftee, () => buftee.ack('hot', 'logpush', 0)),
    'delete': cost(buftee, () => buftee.delete('new')),
    'pressure': cost(buftee, () => buftee.pressure(P)),
    'stats': cost(buftee, () => buftee.stats()),
    'evictIdle, nothing due': cost(buftee, () => buftee.evictIdle()),
  };
}

describe('cost per operation', () => {
  it(`is the same with ${IDLE} idle buffers as with none`, () => {
    const empty = operationCosts(0);
    const full = operationCosts(IDLE);
    expect(full).toEqual(empty);
    // Batches and buffers visited: the batch appended or handed out, the one buffer looked at.
    for (const [name, { work }] of Object.entries(full)) expect(work, name).toBeLessThanOrEqual(1);
  });

  it(`evicting k of ${IDLE} idle buffers visits k buffers, not ${IDLE}`, () => {
    const c = { now: 0 };
    const buftee = new Buftee({ clock: () => c.now, limits: LIMITS });
    const k = 25;
    for (let i = 0; i < k; i++) buftee.append(P, `old-${i}`, EMPTY, 1);
    c.now = 500;
    for (let i = 0; i < IDLE; i++) buftee.append(P, `young-${i}`, EMPTY, 1);
    expect(buftee.stats().evictable).toBe(IDLE + k);
    c.now = TTL;
    let eviction: ReturnType<Buftee['evictIdle']> | undefined;
    const spent = cost(buftee, () => {
      eviction = buftee.evictIdle();
    });
    expect(eviction!.buffers).toBe(k);
    // Per evicted buffer a few hash operations (a step of the idle list, removal from the index and
    // the idle list, the prefix count), and one step to see the first young buffer: not ~IDLE.
    // (The module runner of the test adds Map calls of its own, so the bound is loose.)
    expect(spent.map).toBeLessThan(k * 20);
    expect(spent.work).toBe(2 * k);
    expect(buftee.stats()).toMatchObject({ buffers: IDLE, evictable: IDLE });
  });
});
