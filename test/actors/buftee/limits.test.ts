import { describe, expect, it } from 'vitest';
import {
  BATCH_OVERHEAD_BYTES,
  Buftee,
  BufteeError,
  DEFAULT_LIMITS,
  LIMIT_NAMES,
  type BufteeOptions,
} from '../../../src/actors/buftee/index.js';

const P = 'http_requests';
const EMPTY = new Uint8Array(0);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof BufteeError ? error.code : `not a BufteeError: ${String(error)}`;
  }
  return undefined;
}

/** A clock the test moves by hand. */
function clock(): { now: number; tick: () => number } {
  const c = { now: 0, tick: () => c.now };
  return c;
}

const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('options', () => {
  it('has a finite default for every limit', () => {
    for (const name of LIMIT_NAMES) expect(Number.isFinite(DEFAULT_LIMITS[name]), name).toBe(true);
    const buftee = new Buftee();
    expect(buftee.limits).toEqual(DEFAULT_LIMITS);
    expect(buftee.warnings).toEqual([]);
  });

  it('turns a limit off only through unsafe.unlimited, with a warning', () => {
    expect(() => new Buftee({ limits: { maxBuffers: Infinity } })).toThrow(
      /limits.maxBuffers must be a positive integer \(to turn it off, list it in unsafe.unlimited\), got Infinity/,
    );
    const buftee = new Buftee({ unsafe: { unlimited: ['maxBuffers', 'idleTtlMs'] } });
    expect(buftee.limits.maxBuffers).toBe(Infinity);
    expect(buftee.limits.idleTtlMs).toBe(Infinity);
    expect(buftee.warnings).toEqual([
      'buftee: limit maxBuffers is OFF (unsafe.unlimited); nothing bounds it',
      'buftee: limit idleTtlMs is OFF (unsafe.unlimited); nothing bounds it',
    ]);
    expect(() => new Buftee({ limits: { maxBuffers: 5 }, unsafe: { unlimited: ['maxBuffers'] } })).toThrow(/give one or the other/);
  });

  it('refuses bad options, naming the path and the value', () => {
    const bad: [BufteeOptions, RegExp][] = [
      [{ limits: { maxBuffers: 0 } }, /limits.maxBuffers must be a positive integer.*got 0/],
      [{ limits: { maxTotalBytes: 1.5 } }, /limits.maxTotalBytes .* got 1.5/],
      [{ limits: { maxBufers: 3 } as never }, /limits.maxBufers is not a known option/],
      [{ softLevel: 0 }, /softLevel must be a number above 0 and at most 1, got 0/],
      [{ softLevel: 1.2 }, /softLevel/],
      [{ defaultOverflow: 'wait' as never }, /defaultOverflow must be one of block \| drop_oldest \| drop_newest, got "wait"/],
      [{ unsafe: { unlimited: ['everything' as never] } }, /unsafe.unlimited\[0\] must be one of/],
      [{ maxConsumersPerBuffer: 0 }, /maxConsumersPerBuffer/],
      [{ colour: 'red' } as never, /colour is not a known option/],
    ];
    for (const [options, message] of bad) {
      expect(() => new Buftee(options)).toThrow(message);
      expect(codeOf(() => new Buftee(options))).toBe('ERR_BUFTEE_OPTIONS');
    }
    const buftee = new Buftee();
    expect(() => buftee.configure([{ id: 'ok' }, { id: 'not ok' }])).toThrow(/jobs\[1\].id must be 1-64/);
    expect(() => buftee.configure([{ id: 'ok', overflow: 'wait' as never }])).toThrow(/jobs\[0\].overflow must be one of/);
  });
});

describe('maxBuffers', () => {
  it('refuses unconfigured jobs from the soft level and everyone at the hard level', () => {
    const buftee = new Buftee({ clock: () => 0, limits: { maxBuffers: 10 } });
    buftee.configure(ids('conf', 3).map((id) => ({ id, overflow: 'drop_newest' as const })));
    for (const job of ids('unconf', 8)) expect(buftee.append(P, job, EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('soft');
    expect(buftee.append(P, 'unconf8', EMPTY, 4)).toEqual({ status: 'refused', reason: 'buffer_limit', events: 4, limit: 'maxBuffers' });
    expect(buftee.append(P, 'conf0', EMPTY, 1).status).toBe('appended');
    expect(buftee.append(P, 'conf1', EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('hard');
    expect(buftee.append(P, 'conf2', EMPTY, 2)).toEqual({ status: 'refused', reason: 'buffer_limit', events: 2, limit: 'maxBuffers' });
    // Existing buffers still take batches at the hard level.
    expect(buftee.append(P, 'unconf0', EMPTY, 1).status).toBe('appended');
    expect(buftee.stats()).toMatchObject({ buffers: 10, refused: { buffer_limit: { batches: 2, events: 6 } } });
  });

  it('a configured job whose policy is block is told to hold its batch, not to drop it', () => {
    const buftee = new Buftee({ clock: () => 0, limits: { maxBuffers: 1 } });
    buftee.configure([{ id: 'a' }, { id: 'b' }]);
    buftee.append(P, 'a', EMPTY, 1);
    expect(buftee.append(P, 'b', EMPTY, 3)).toEqual({ status: 'full', reason: 'buffer_limit', events: 3, limit: 'maxBuffers' });
    buftee.delete('a');
    expect(buftee.append(P, 'b', EMPTY, 3).status).toBe('appended');
  });

  it('is unbounded only when unsafe says so', () => {
    const buftee = new Buftee({ clock: () => 0, unsafe: { unlimited: ['maxBuffers', 'maxBuffersPerPrefix', 'maxNewBuffersPerSecond'] } });
    for (const job of ids('j', 2000)) expect(buftee.append(P, job, EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('ok');
  });
});

describe('maxBuffersPerPrefix', () => {
  it('limits each prefix on its own, unconfigured jobs first', () => {
    const buftee = new Buftee({ clock: () => 0, limits: { maxBuffersPerPrefix: 5 } });
    buftee.configure([{ id: 'conf', overflow: 'drop_newest' }, { id: 'conf2', overflow: 'drop_newest' }]);
    for (const job of ids('u', 4)) expect(buftee.append(P, job, EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure(P)).toBe('soft');
    expect(buftee.pressure()).toBe('ok');
    expect(buftee.stats()).toMatchObject({ prefixesAtSoft: 1, prefixesAtHard: 0 });
    expect(buftee.append(P, 'u4', EMPTY, 1)).toMatchObject({ status: 'refused', reason: 'buffer_limit', limit: 'maxBuffersPerPrefix' });
    expect(buftee.append('firewall_events', 'u4', EMPTY, 1).status).toBe('appended');
    expect(buftee.append(P, 'conf', EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure(P)).toBe('hard');
    expect(buftee.stats()).toMatchObject({ prefixesAtSoft: 0, prefixesAtHard: 1 });
    expect(buftee.append(P, 'conf2', EMPTY, 1)).toMatchObject({ status: 'refused', limit: 'maxBuffersPerPrefix' });
    buftee.delete('u0');
    expect(buftee.stats()).toMatchObject({ prefixesAtSoft: 1, prefixesAtHard: 0 });
  });
});

describe('maxTotalBytes', () => {
  it('refuses new buffers of unconfigured jobs past the soft level of bytes', () => {
    const charge = 100 + BATCH_OVERHEAD_BYTES;
    const buftee = new Buftee({ clock: () => 0, limits: { maxTotalBytes: 10 * charge } });
    buftee.configure([{ id: 'conf', overflow: 'drop_newest' }]);
    for (const job of ids('u', 8)) expect(buftee.append(P, job, new Uint8Array(100), 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('soft');
    expect(buftee.append(P, 'u8', new Uint8Array(100), 1)).toMatchObject({ status: 'refused', reason: 'buffer_limit', limit: 'maxTotalBytes' });
    expect(buftee.append(P, 'conf', new Uint8Array(100), 1).status).toBe('appended');
    expect(buftee.append(P, 'conf', new Uint8Array(100), 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('hard');
    expect(buftee.append(P, 'conf', new Uint8Array(100), 1)).toMatchObject({ status: 'refused', reason: 'buffer_full', limit: 'maxTotalBytes' });
  });
});

describe('maxTotalBytes for jobs outside the configured set', () => {
  it('their existing buffers grow only to the soft level of the total: the rest stays the configured jobs\' room', () => {
    const charge = 100 + BATCH_OVERHEAD_BYTES;
    const buftee = new Buftee({ clock: () => 0, limits: { maxTotalBytes: 10 * charge } });
    buftee.configure([{ id: 'conf', overflow: 'drop_newest' }]);
    for (let i = 0; i < 8; i++) expect(buftee.append(P, 'u0', new Uint8Array(100), 1).status).toBe('appended');
    expect(buftee.append(P, 'u0', new Uint8Array(100), 1)).toMatchObject({ status: 'refused', reason: 'buffer_full', limit: 'maxTotalBytes' });
    expect(buftee.pressure()).toBe('soft');
    expect(buftee.append(P, 'conf', new Uint8Array(100), 1).status).toBe('appended');
    expect(buftee.append(P, 'conf', new Uint8Array(100), 1).status).toBe('appended');
    expect(buftee.stats().bytes).toBe(10 * charge);
  });
});

describe('maxNewBuffersPerSecond', () => {
  it('lets a burst of one second through, keeps the last 20% for configured jobs, and refills', () => {
    const c = clock();
    const buftee = new Buftee({ clock: c.tick, limits: { maxNewBuffersPerSecond: 10 } });
    buftee.configure(ids('conf', 5).map((id) => ({ id, overflow: 'drop_newest' as const })));
    for (const job of ids('u', 8)) expect(buftee.append(P, job, EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('soft');
    expect(buftee.append(P, 'u8', EMPTY, 1)).toMatchObject({ status: 'refused', reason: 'buffer_limit', limit: 'maxNewBuffersPerSecond' });
    expect(buftee.append(P, 'conf0', EMPTY, 1).status).toBe('appended');
    expect(buftee.append(P, 'conf1', EMPTY, 1).status).toBe('appended');
    expect(buftee.pressure()).toBe('hard');
    expect(buftee.append(P, 'conf2', EMPTY, 1)).toMatchObject({ status: 'refused', limit: 'maxNewBuffersPerSecond' });
    // Existing buffers are not rate limited.
    expect(buftee.append(P, 'u0', EMPTY, 1).status).toBe('appended');
    c.now += 100;
    expect(buftee.append(P, 'conf2', EMPTY, 1).status).toBe('appended');
    expect(buftee.append(P, 'conf3', EMPTY, 1).status).toBe('refused');
    c.now += 1000;
    expect(buftee.pressure()).toBe('ok');
    expect(buftee.append(P, 'u8', EMPTY, 1).status).toBe('appended');
  });
});

describe('pressure from the creation rate', () => {
  it('is soft for a second after the rate refused a buffer, even while the bucket refills', () => {
    const c = clock();
    const buftee = new Buftee({ clock: c.tick, limits: { maxNewBuffersPerSecond: 10 } });
    for (const job of ids('u', 8)) buftee.append(P, job, EMPTY, 1);
    expect(buftee.append(P, 'u8', EMPTY, 1)).toMatchObject({ status: 'refused', limit: 'maxNewBuffersPerSecond' });
    c.now += 300;
    // Refilled past the soft level by now, but it refused 300 ms ago.
    expect(buftee.pressure()).toBe('soft');
    c.now += 701;
    expect(buftee.pressure()).toBe('ok');
  });
});

describe('the incident, replayed', () => {
  it('a fail-open flood of unconfigured jobs cannot take the buffers configured jobs need', () => {
    const c = clock();
    const buftee = new Buftee({ clock: c.tick, limits: { maxBuffers: 1000, maxNewBuffersPerSecond: 200 } });
    const configured = ids('conf', 150);
    buftee.configure(configured.map((id) => ({ id })));
    let refused = 0;
    // 40x the configured jobs, arriving over ten seconds.
    for (let s = 0; s < 10; s++) {
      for (const job of ids(`flood${s}-`, 600)) {
        const result = buftee.append(P, job, EMPTY, 1);
        if (result.status !== 'appended') refused += 1;
      }
      c.now += 1000;
    }
    expect(buftee.stats().buffers).toBeLessThanOrEqual(800);
    expect(refused).toBe(6000 - buftee.stats().buffers);
    expect(buftee.stats().refused.buffer_limit.events).toBe(refused);
    for (const job of configured) expect(buftee.append(P, job, EMPTY, 1).status, job).toBe('appended');
  });
});
