import { describe, expect, it } from 'vitest';
import { BATCH_OVERHEAD_BYTES, Buftee, type OverflowPolicy } from '../../../src/actors/buftee/index.js';

const P = 'http_requests';
const DATA = 100;
const CHARGE = DATA + BATCH_OVERHEAD_BYTES;

/** A Buftee whose buffers hold three 100-byte batches, with one configured job per policy. */
function make(policy: OverflowPolicy, limits: { maxTotalBytes?: number } = {}): Buftee {
  const buftee = new Buftee({ clock: () => 0, limits: { maxBytesPerBuffer: 3 * CHARGE, ...limits } });
  buftee.configure([{ id: 'job-1', overflow: policy }, { id: 'job-2', overflow: policy }]);
  return buftee;
}

function fill(buftee: Buftee, job: string, n: number, events = 10): void {
  for (let i = 0; i < n; i++) expect(buftee.append(P, job, new Uint8Array(DATA).fill(i), events).status).toBe('appended');
}

describe('overflow policies', () => {
  it('block refuses the batch as `full` (keep it upstream) and takes it once there is room', () => {
    const buftee = make('block');
    buftee.subscribe('job-1', 'logpush');
    fill(buftee, 'job-1', 3);
    expect(buftee.append(P, 'job-1', new Uint8Array(DATA), 7)).toEqual({
      status: 'full',
      reason: 'buffer_full',
      events: 7,
      limit: 'maxBytesPerBuffer',
    });
    expect(buftee.stats()).toMatchObject({ batches: 3, blocked: { batches: 1, events: 7 }, refused: { buffer_full: { batches: 0 } } });
    buftee.read('job-1', 'logpush', 1);
    buftee.ack('job-1', 'logpush', 0);
    expect(buftee.append(P, 'job-1', new Uint8Array(DATA), 7)).toMatchObject({ status: 'appended', offset: 3 });
  });

  it('drop_newest refuses the new batch, counted as buffer_full, and keeps the old ones', () => {
    const buftee = make('drop_newest');
    fill(buftee, 'job-1', 3);
    expect(buftee.append(P, 'job-1', new Uint8Array(DATA), 7)).toEqual({
      status: 'refused',
      reason: 'buffer_full',
      events: 7,
      limit: 'maxBytesPerBuffer',
    });
    expect(buftee.describe('job-1')).toMatchObject({ firstOffset: 0, nextOffset: 3 });
    expect(buftee.stats().refused.buffer_full).toEqual({ batches: 1, events: 7 });
  });

  it('drop_oldest frees the oldest batches, reporting the events each consumer had not read', () => {
    const buftee = make('drop_oldest');
    buftee.subscribe('job-1', 'logpush');
    buftee.subscribe('job-1', 'preview', 'sampled:2');
    fill(buftee, 'job-1', 3);
    // logpush has read (not acked) offset 0: it holds that batch, so only preview loses it.
    buftee.read('job-1', 'logpush', 1);
    const result = buftee.append(P, 'job-1', new Uint8Array(2 * DATA + BATCH_OVERHEAD_BYTES), 7);
    expect(result).toEqual({
      status: 'appended',
      offset: 3,
      created: false,
      dropped: {
        batches: 2,
        events: 20,
        bytes: 2 * DATA,
        unreadBy: [
          { consumer: 'logpush', events: 10 },
          { consumer: 'preview', events: 10 },
        ],
      },
    });
    expect(buftee.describe('job-1')).toMatchObject({ firstOffset: 2, batches: 2 });
    expect(buftee.describe('job-1')!.consumers.map((c) => [c.acked, c.next])).toEqual([
      [2, 2],
      [2, 2],
    ]);
    expect(buftee.read('job-1', 'logpush', 10).batches.map((b) => b.offset)).toEqual([2, 3]);
    // An ack of the batch logpush held, dropped since, is harmless.
    expect(buftee.ack('job-1', 'logpush', 0)).toBe(false);
    expect(buftee.stats()).toMatchObject({ droppedOldest: { batches: 2, events: 20 }, bytes: 3 * CHARGE });
  });

  it('drop_oldest with no consumer drops unread events that belong to nobody', () => {
    const buftee = make('drop_oldest');
    fill(buftee, 'job-1', 3);
    const result = buftee.append(P, 'job-1', new Uint8Array(DATA), 1);
    expect(result).toMatchObject({ status: 'appended', dropped: { batches: 1, events: 10, unreadBy: [] } });
  });

  it('refuses a batch larger than any buffer as oversized, whatever the policy', () => {
    for (const policy of ['block', 'drop_oldest', 'drop_newest'] as const) {
      const buftee = make(policy);
      expect(buftee.append(P, 'job-1', new Uint8Array(3 * CHARGE), 5)).toEqual({
        status: 'refused',
        reason: 'oversized',
        events: 5,
        limit: 'maxBytesPerBuffer',
      });
      expect(buftee.has('job-1')).toBe(false);
    }
  });

  it('at the total byte limit, each job\'s policy applies to its own buffer', () => {
    const total = 4 * CHARGE;
    const blocking = make('block', { maxTotalBytes: total });
    fill(blocking, 'job-1', 3);
    fill(blocking, 'job-2', 1);
    expect(blocking.pressure()).toBe('hard');
    expect(blocking.append(P, 'job-2', new Uint8Array(DATA), 3)).toMatchObject({ status: 'full', reason: 'buffer_full', limit: 'maxTotalBytes' });

    const dropping = make('drop_oldest', { maxTotalBytes: total });
    fill(dropping, 'job-1', 3);
    fill(dropping, 'job-2', 1);
    // job-2 makes room from its own batch, never from job-1's.
    expect(dropping.append(P, 'job-2', new Uint8Array(DATA), 3)).toMatchObject({ status: 'appended', dropped: { batches: 1, events: 10 } });
    expect(dropping.describe('job-1')!.batches).toBe(3);
    // A batch bigger than what job-2 holds cannot be made room for: refused, nothing dropped.
    expect(dropping.append(P, 'job-2', new Uint8Array(2 * DATA), 3)).toMatchObject({
      status: 'refused',
      reason: 'buffer_full',
      limit: 'maxTotalBytes',
    });
    expect(dropping.describe('job-2')!.batches).toBe(1);
  });
});
