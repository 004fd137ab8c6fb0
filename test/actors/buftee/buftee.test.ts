import { describe, expect, it } from 'vitest';
import { BATCH_OVERHEAD_BYTES, Buftee, BufteeError } from '../../../src/actors/buftee/index.js';

const P = 'http_requests';

function batch(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof BufteeError ? error.code : `not a BufteeError: ${String(error)}`;
  }
  return undefined;
}

function offsets(buftee: Buftee, job: string, consumer: string, max = 100): number[] {
  return buftee.read(job, consumer, max).batches.map((b) => b.offset);
}

describe('Buftee: buffers, consumers, cursors', () => {
  it('keeps batches in order with increasing offsets, copies them, and reads without removing', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'logpush');
    const source = batch(1, 2, 3);
    expect(buftee.append(P, 'job-1', source, 3)).toEqual({ status: 'appended', offset: 0, created: true, dropped: null });
    source[0] = 99;
    expect(buftee.append(P, 'job-1', batch(4), 1)).toMatchObject({ status: 'appended', offset: 1, created: false });

    const first = buftee.read('job-1', 'logpush', 1);
    expect(first.batches).toEqual([{ offset: 0, data: batch(1, 2, 3), events: 3, bytes: 3 }]);
    expect(offsets(buftee, 'job-1', 'logpush')).toEqual([1]);
    expect(offsets(buftee, 'job-1', 'logpush')).toEqual([]);
    expect(buftee.stats()).toMatchObject({ batches: 2, events: 4, bytes: 4 + 2 * BATCH_OVERHEAD_BYTES });

    buftee.rewind('job-1', 'logpush');
    expect(offsets(buftee, 'job-1', 'logpush')).toEqual([0, 1]);
    expect(buftee.ack('job-1', 'logpush', 1, first.incarnation)).toBe(true);
    expect(buftee.stats()).toMatchObject({ batches: 0, events: 0, bytes: 0 });
    expect(buftee.describe('job-1')).toMatchObject({ firstOffset: 2, nextOffset: 2 });
  });

  it('tees: each consumer has its own cursor, and a batch is freed when every consumer acked it', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'fast');
    buftee.subscribe('job-1', 'slow');
    for (let i = 0; i < 4; i++) buftee.append(P, 'job-1', batch(i), 1);
    expect(offsets(buftee, 'job-1', 'fast')).toEqual([0, 1, 2, 3]);
    buftee.ack('job-1', 'fast', 3);
    expect(buftee.stats().batches).toBe(4);
    expect(offsets(buftee, 'job-1', 'slow', 2)).toEqual([0, 1]);
    buftee.ack('job-1', 'slow', 1);
    expect(buftee.describe('job-1')).toMatchObject({ batches: 2, firstOffset: 2 });
    expect(buftee.ack('job-1', 'slow', 0)).toBe(false);
    buftee.ack('job-1', 'slow', 3);
    expect(buftee.stats().batches).toBe(0);
  });

  it('sampled:N hands out the batches whose offset is a multiple of N, and frees what nobody wants', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'preview', 'sampled:3');
    for (let i = 0; i < 8; i++) buftee.append(P, 'job-1', batch(i), 10);
    const read = buftee.read('job-1', 'preview', 10);
    expect(read.batches.map((b) => b.offset)).toEqual([0, 3, 6]);
    expect(read.batches.map((b) => b.data[0])).toEqual([0, 3, 6]);
    buftee.ack('job-1', 'preview', 6);
    // Offset 7 is unwanted and 8 is not there yet: nothing is held.
    expect(buftee.stats().batches).toBe(0);

    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', batch(8), 10);
    buftee.append(P, 'job-1', batch(9), 10);
    expect(offsets(buftee, 'job-1', 'preview')).toEqual([9]);
    expect(offsets(buftee, 'job-1', 'logpush')).toEqual([8, 9]);
    buftee.ack('job-1', 'logpush', 9);
    expect(buftee.describe('job-1')).toMatchObject({ firstOffset: 9, batches: 1 });
  });

  it('keeps the batches of a buffer nobody consumes, for the consumer that subscribes later', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.append(P, 'job-1', batch(1), 1);
    buftee.append(P, 'job-1', batch(2), 1);
    expect(buftee.stats().batches).toBe(2);
    buftee.subscribe('job-1', 'logpush');
    expect(offsets(buftee, 'job-1', 'logpush')).toEqual([0, 1]);
  });

  it('refuses to ack past the last offset, naming both numbers', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', batch(1), 1);
    expect(() => buftee.ack('job-1', 'logpush', 1)).toThrow(/acked offset 1 of job "job-1", whose next offset is 1/);
    expect(codeOf(() => buftee.ack('job-1', 'logpush', -1))).toBe('ERR_BUFTEE_OFFSET');
    expect(codeOf(() => buftee.ack('job-1', 'logpush', 0.5))).toBe('ERR_BUFTEE_OFFSET');
  });

  it('tells an ack for an earlier incarnation of the buffer from a current one', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', batch(1), 1);
    const old = buftee.read('job-1', 'logpush', 1);
    buftee.delete('job-1');
    buftee.append(P, 'job-1', batch(2), 1);
    expect(buftee.ack('job-1', 'logpush', 0, old.incarnation)).toBe(false);
    expect(buftee.stats().batches).toBe(1);
    const now = buftee.read('job-1', 'logpush', 1);
    expect(now.incarnation).not.toBe(old.incarnation);
    expect(buftee.ack('job-1', 'logpush', 0, now.incarnation)).toBe(true);
  });

  it('deletes a job: its buffer and data go, what was unread is returned, subscriptions stay', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'logpush');
    buftee.append(P, 'job-1', batch(1, 1), 5);
    buftee.append(P, 'job-1', batch(2), 7);
    buftee.read('job-1', 'logpush', 1);
    expect(buftee.delete('job-1')).toEqual({
      job: 'job-1',
      prefix: P,
      batches: 2,
      events: 12,
      bytes: 3,
      unreadBy: [{ consumer: 'logpush', events: 7 }],
    });
    expect(buftee.has('job-1')).toBe(false);
    expect(buftee.delete('job-1')).toBeNull();
    expect(buftee.stats()).toMatchObject({ buffers: 0, batches: 0, bytes: 0, prefixes: 0, deleted: { buffers: 1, batches: 2, events: 12 } });
    expect(buftee.append(P, 'job-1', batch(3), 1)).toMatchObject({ offset: 0, created: true });
    expect(offsets(buftee, 'job-1', 'logpush')).toEqual([0]);
  });

  it('unsubscribing the last lagging consumer frees what only it held', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'a');
    buftee.subscribe('job-1', 'b');
    buftee.append(P, 'job-1', batch(1), 1);
    buftee.read('job-1', 'a', 1);
    buftee.ack('job-1', 'a', 0);
    buftee.unsubscribe('job-1', 'b');
    expect(buftee.stats().batches).toBe(0);
    expect(codeOf(() => buftee.read('job-1', 'b', 1))).toBe('ERR_BUFTEE_CONSUMER');
    buftee.unsubscribe('job-1', 'b');
  });

  it('refuses malformed names as ledger entries, and misuse with errors', () => {
    const buftee = new Buftee({ clock: () => 0 });
    expect(buftee.append(P, '../etc', batch(1), 4)).toEqual({ status: 'refused', reason: 'malformed', events: 4, limit: null });
    expect(buftee.append('a b', 'job-1', batch(1), 2)).toMatchObject({ status: 'refused', reason: 'malformed', events: 2 });
    expect(buftee.stats().refused.malformed).toEqual({ batches: 2, events: 6 });
    expect(buftee.stats().buffers).toBe(0);

    expect(codeOf(() => buftee.append(P, 'job-1', batch(1), -1))).toBe('ERR_BUFTEE_COUNT');
    expect(codeOf(() => buftee.append(P, 'job-1', batch(1), 1.5))).toBe('ERR_BUFTEE_COUNT');
    buftee.append(P, 'job-1', batch(1), 1);
    expect(() => buftee.append('firewall_events', 'job-1', batch(1), 1)).toThrow(/belongs to prefix "http_requests", not "firewall_events"/);
    expect(codeOf(() => buftee.read('job-1', 'nobody', 1))).toBe('ERR_BUFTEE_CONSUMER');
    buftee.subscribe('job-1', 'logpush');
    expect(codeOf(() => buftee.read('job-1', 'logpush', 0))).toBe('ERR_BUFTEE_COUNT');
    expect(codeOf(() => buftee.subscribe('job 1', 'logpush'))).toBe('ERR_BUFTEE_NAME');
    expect(codeOf(() => buftee.subscribe('job-1', ''))).toBe('ERR_BUFTEE_NAME');
    for (const bad of ['sampled:0', 'sampled:-2', 'sampled:1.5', 'half', 'sampled:', 'sampled:10000000']) {
      expect(codeOf(() => buftee.subscribe('job-1', 'x', bad as 'full')), bad).toBe('ERR_BUFTEE_OPTIONS');
    }
  });

  it('bounds consumers per buffer', () => {
    const buftee = new Buftee({ clock: () => 0, maxConsumersPerBuffer: 2 });
    buftee.subscribe('job-1', 'a');
    buftee.subscribe('job-1', 'b');
    buftee.subscribe('job-1', 'b', 'sampled:2');
    expect(() => buftee.subscribe('job-1', 'c')).toThrow(/job "job-1" already has 2 consumers/);
  });

  it('jobs subscribed alike share their consumers, and a change to one job leaves the others as they were', () => {
    const buftee = new Buftee({ clock: () => 0 });
    for (const job of ['job-1', 'job-2', 'job-3']) {
      buftee.subscribe(job, 'a');
      buftee.subscribe(job, 'b', 'sampled:2');
    }
    buftee.subscribe('job-2', 'b', 'full');
    buftee.subscribe('job-3', 'c');
    buftee.unsubscribe('job-1', 'a');
    for (let i = 0; i < 4; i++) for (const job of ['job-1', 'job-2', 'job-3']) buftee.append(P, job, batch(i), 1);
    const consumers = (job: string): string[] => buftee.describe(job)!.consumers.map((c) => `${c.id}:${c.resolution}`).sort();
    expect(consumers('job-1')).toEqual(['b:sampled:2']);
    expect(consumers('job-2')).toEqual(['a:full', 'b:full']);
    expect(consumers('job-3')).toEqual(['a:full', 'b:sampled:2', 'c:full']);
    expect(offsets(buftee, 'job-1', 'b')).toEqual([0, 2]);
    expect(offsets(buftee, 'job-2', 'b')).toEqual([0, 1, 2, 3]);
    expect(() => buftee.read('job-1', 'a', 1)).toThrow(/not subscribed|no consumer/);
    expect(buftee.stats().subscribedJobs).toBe(3);
    buftee.unsubscribe('job-1', 'b');
    expect(buftee.stats().subscribedJobs).toBe(2);
  });

  it('changing a resolution rewinds the consumer to its first unacked batch', () => {
    const buftee = new Buftee({ clock: () => 0 });
    buftee.subscribe('job-1', 'c', 'sampled:2');
    for (let i = 0; i < 4; i++) buftee.append(P, 'job-1', batch(i), 1);
    expect(offsets(buftee, 'job-1', 'c')).toEqual([0, 2]);
    buftee.subscribe('job-1', 'c', 'full');
    expect(offsets(buftee, 'job-1', 'c')).toEqual([0, 1, 2, 3]);
    expect(buftee.describe('job-1')!.consumers).toEqual([{ id: 'c', resolution: 'full', acked: 0, next: 4 }]);
  });
});
