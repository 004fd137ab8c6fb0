import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { DROP_REASONS, type DropReason } from '../../src/actors/job.js';
import {
  HEADER_BYTES,
  HOLDERS,
  Ledger,
  LedgerError,
  LedgerView,
  NONE_JOB,
  NONE_SLOT,
  SLOT_BYTES,
  counterIndex,
  describeLayout,
  ledgerBytes,
  type LedgerEntry,
} from '../../src/actors/ledger.js';

function zeroDropped(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
}

function identityHolds(entry: LedgerEntry): boolean {
  const dropped = DROP_REASONS.reduce((sum, reason) => sum + entry.dropped[reason], 0);
  return entry.ingested === entry.delivered + dropped + entry.inFlight;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof LedgerError ? error.code : `not a LedgerError: ${String(error)}`;
  }
  return undefined;
}

describe('Ledger', () => {
  it('keeps ingested = delivered + dropped + inFlight for one job', () => {
    const ledger = Ledger.create({ maxJobs: 4 });
    const slot = ledger.slot('job-1');
    ledger.ingest(slot, 100);
    ledger.deliver(slot, 60);
    ledger.drop(slot, 'buffer_full', 15);
    ledger.drop(slot, 'shed', 5);
    const entry = ledger.entry('job-1');
    expect(entry).toEqual({
      ingested: 100,
      delivered: 60,
      dropped: { ...zeroDropped(), buffer_full: 15, shed: 5 },
      inFlight: 20,
    });
    expect(identityHolds(entry!)).toBe(true);
    expect(ledger.balanced()).toBe(true);
  });

  it('snapshots every slot in use, "-" first, with every reason present', () => {
    const ledger = Ledger.create({ maxJobs: 3 });
    const a = ledger.slot('a');
    ledger.slot('b');
    ledger.ingest(a, 7);
    ledger.drop(NONE_SLOT, 'unconfigured', 3);
    ledger.ingest(NONE_SLOT, 3);
    const snapshot = ledger.snapshot();
    expect(Object.keys(snapshot)).toEqual([NONE_JOB, 'a', 'b']);
    expect(snapshot[NONE_JOB]).toEqual({ ingested: 3, delivered: 0, dropped: { ...zeroDropped(), unconfigured: 3 }, inFlight: 0 });
    expect(snapshot['a']).toEqual({ ingested: 7, delivered: 0, dropped: zeroDropped(), inFlight: 7 });
    expect(snapshot['b']).toEqual({ ingested: 0, delivered: 0, dropped: zeroDropped(), inFlight: 0 });
    expect(Object.keys(snapshot['a']!.dropped)).toEqual([...DROP_REASONS]);
    expect(ledger.totals()).toEqual({ ingested: 10, delivered: 0, dropped: { ...zeroDropped(), unconfigured: 3 }, inFlight: 7 });
  });

  it('returns the same slot for the same job and maps "-" to NONE_SLOT', () => {
    const ledger = Ledger.create({ maxJobs: 2 });
    expect(ledger.slot('x')).toBe(1);
    expect(ledger.slot('x')).toBe(1);
    expect(ledger.slot(NONE_JOB)).toBe(NONE_SLOT);
    expect(ledger.free()).toBe(1);
  });

  it('refuses a job once every slot is taken, naming the limit', () => {
    const ledger = Ledger.create({ maxJobs: 2 });
    ledger.slot('a');
    ledger.slot('b');
    expect(() => ledger.slot('c')).toThrow(/all 2 job slots are in use, cannot add job "c"/);
    expect(codeOf(() => ledger.slot('c'))).toBe('ERR_LEDGER_FULL');
    expect(ledger.slot('a')).toBe(1);
    expect(ledger.free()).toBe(0);
  });

  it('refuses invalid job names', () => {
    const ledger = Ledger.create({ maxJobs: 8 });
    for (const bad of ['', '-x', '_x', 'a b', 'a/b', '../etc', 'x'.repeat(65), 'é', '__proto__']) {
      expect(codeOf(() => ledger.slot(bad)), bad).toBe('ERR_LEDGER_JOB');
    }
    expect(ledger.free()).toBe(8);
    expect(ledger.slot('x'.repeat(64))).toBe(1);
  });

  it('refuses bad counts, slots and reasons with the value in the message', () => {
    const ledger = Ledger.create({ maxJobs: 2 });
    const slot = ledger.slot('a');
    expect(codeOf(() => ledger.ingest(slot, -1))).toBe('ERR_LEDGER_COUNT');
    expect(codeOf(() => ledger.ingest(slot, 1.5))).toBe('ERR_LEDGER_COUNT');
    expect(codeOf(() => ledger.ingest(slot, Number.NaN))).toBe('ERR_LEDGER_COUNT');
    expect(codeOf(() => ledger.ingest(3, 1))).toBe('ERR_LEDGER_SLOT');
    expect(() => ledger.ingest(-1, 1)).toThrow(/from 0 to 2, got -1/);
    expect(codeOf(() => ledger.drop(slot, 'lost' as DropReason, 1))).toBe('ERR_LEDGER_COUNT');
    expect(ledger.entry('a')!.ingested).toBe(0);
  });

  it('validates maxJobs and sizes a slot from the reasons: ingested, delivered, one per reason, one held word per holder, padded to whole cache lines', () => {
    expect(codeOf(() => Ledger.create({ maxJobs: 0 }))).toBe('ERR_LEDGER_SLOT');
    expect(codeOf(() => Ledger.create({ maxJobs: 1.5 }))).toBe('ERR_LEDGER_SLOT');
    expect(HOLDERS).toEqual(['logreceiver', 'buftee', 'logpush', 'lent']);
    // 17 words used, padded to three 64-byte lines: a slot never shares a line with another.
    expect(2 + DROP_REASONS.length + HOLDERS.length).toBe(17);
    expect(SLOT_BYTES).toBe(192);
    expect((HEADER_BYTES + 5 * SLOT_BYTES) % 64).toBe(0);
    expect(Ledger.create().buffer.byteLength).toBe(HEADER_BYTES + 100_001 * SLOT_BYTES);
    expect(ledgerBytes(100_000)).toBe(64 + 100_001 * SLOT_BYTES);
  });

  it('describes its layout as named offsets, and counts where the layout says', () => {
    const layout = describeLayout(2);
    expect(layout).toMatchObject({ headerBytes: 64, slotBytes: SLOT_BYTES, slots: 3, totalBytes: 64 + 3 * SLOT_BYTES });
    expect(layout.counterWords).toMatchObject({
      ingested: 0,
      delivered: 1,
      [`dropped.${DROP_REASONS[0]}`]: 2,
      'dropped.crashed': 2 + DROP_REASONS.indexOf('crashed'),
    });
    const ledger = Ledger.create({ maxJobs: 2 });
    const slot = ledger.slot('a');
    ledger.drop(slot, 'crashed', 3);
    const words = new BigInt64Array(ledger.buffer);
    expect(words[counterIndex(slot, layout.counterWords['dropped.crashed'])]).toBe(3n);
    expect(new Int32Array(ledger.buffer)[layout.header.allocated / 4]).toBe(2);
  });

  it('counts beyond 2^31 events without wrapping', () => {
    const ledger = Ledger.create({ maxJobs: 1 });
    const slot = ledger.slot('big');
    for (let i = 0; i < 3; i++) ledger.ingest(slot, 2 ** 31);
    ledger.deliver(slot, 2 ** 32);
    expect(ledger.entry('big')).toMatchObject({ ingested: 3 * 2 ** 31, delivered: 2 ** 32, inFlight: 2 ** 31 });
  });

  it('keeps what each holder has in memory apart, and a successor counts it crashed, to the event', () => {
    const ledger = Ledger.create({ maxJobs: 3 });
    const a = ledger.slot('a');
    const b = ledger.slot('b');
    ledger.ingest(a, 100);
    ledger.ingest(b, 10);
    ledger.hold(a, 'logreceiver', 100);
    ledger.hold(a, 'logreceiver', -60);
    ledger.hold(a, 'buftee', 60);
    ledger.hold(a, 'buftee', -20);
    ledger.deliver(a, 20);
    ledger.hold(b, 'buftee', 10);
    expect(ledger.held(a, 'logreceiver')).toBe(40);
    expect(ledger.held(a, 'buftee')).toBe(40);
    // Buftee crashes: what it held is counted crashed; what Logreceiver held is not its to count.
    const view = LedgerView.attach(structuredClone(ledger.handle()));
    expect(view.takeHeld('buftee')).toBe(50);
    expect(ledger.entry('a')).toMatchObject({ ingested: 100, delivered: 20, inFlight: 40 });
    expect(ledger.entry('a')!.dropped.crashed).toBe(40);
    expect(ledger.entry('b')!.dropped.crashed).toBe(10);
    expect(ledger.held(a, 'buftee')).toBe(0);
    expect(ledger.held(a, 'logreceiver')).toBe(40);
    expect(view.takeHeld('buftee')).toBe(0);
    expect(ledger.balanced()).toBe(true);
  });

  it('lets a held word go without counting it (a Buftee taking back what it lent a dead Logpush), and only that word', () => {
    const ledger = Ledger.create({ maxJobs: 3 });
    const a = ledger.slot('a');
    const b = ledger.slot('b');
    ledger.ingest(a, 30);
    ledger.ingest(b, 5);
    ledger.hold(a, 'lent', 30);
    ledger.hold(b, 'lent', 5);
    ledger.hold(a, 'logpush', 7);
    // Buftee answers the new Logpush's HELLO: the 30 and 5 are its own to send again.
    ledger.hold(a, 'buftee', 30);
    ledger.hold(b, 'buftee', 5);
    const view = LedgerView.attach(structuredClone(ledger.handle()));
    expect(view.releaseHeld('lent')).toBe(35);
    expect(ledger.held(a, 'lent')).toBe(0);
    expect(ledger.held(b, 'lent')).toBe(0);
    // Nothing counted: the events are as much in flight as before, and the other words untouched.
    expect(ledger.entry('a')).toMatchObject({ ingested: 30, delivered: 0, inFlight: 30 });
    expect(ledger.entry('a')!.dropped.crashed).toBe(0);
    expect(ledger.held(a, 'logpush')).toBe(7);
    expect(ledger.held(a, 'buftee')).toBe(30);
    expect(view.releaseHeld('lent')).toBe(0);
    expect(ledger.balanced()).toBe(true);
  });

  it('reports unbalanced when more is delivered or dropped than ingested', () => {
    const ledger = Ledger.create({ maxJobs: 2 });
    const slot = ledger.slot('a');
    ledger.ingest(slot, 1);
    ledger.deliver(slot, 1);
    expect(ledger.balanced()).toBe(true);
    ledger.drop(slot, 'crashed', 1);
    expect(ledger.balanced()).toBe(false);
    expect(ledger.entry('a')!.inFlight).toBe(-1);
  });
});

describe('LedgerView', () => {
  it('reads counters that another thread moves across 2^32 whole: never a torn or falling value', async () => {
    // A worker counts ingests and deliveries in steps that carry into the counters' high halves
    // thousands of times; the main thread reads totals meanwhile. A read that took a high half
    // from before a carry and a low half from after (or the reverse) would be 2^32 off: below an
    // earlier read, or not a multiple of the step.
    const ledger = Ledger.create({ maxJobs: 2 });
    const slot = ledger.slot('busy');
    const step = 2 ** 31 + 7;
    const rounds = 1_000_000;
    const module = pathToFileURL(join(PROJECT_ROOT, 'dist/src/actors/ledger.js')).href;
    const source = `
      const { workerData } = require('node:worker_threads');
      import(${JSON.stringify(module)}).then(({ LedgerView }) => {
        const view = LedgerView.attach(workerData.handle);
        const flag = new Int32Array(workerData.flag);
        Atomics.store(flag, 0, 1);
        for (let i = 0; i < workerData.rounds; i++) {
          view.ingest(workerData.slot, workerData.step);
          view.deliver(workerData.slot, workerData.step);
        }
        Atomics.store(flag, 0, 2);
      });`;
    // Started and finished are told through shared memory, so the reads below run back to back.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(source, { eval: true, workerData: { handle: ledger.handle(), slot, step, rounds, flag: flag.buffer } });
    const failed = new Promise<never>((_, reject) => worker.once('error', reject));
    await Promise.race([failed, (async () => { while (Atomics.load(flag, 0) === 0) await new Promise((r) => setTimeout(r, 5)); })()]);
    let reads = 0;
    let last = { ingested: 0, delivered: 0 };
    const bad: string[] = [];
    const deadline = Date.now() + 60_000;
    while (Atomics.load(flag, 0) !== 2 && bad.length <= 5 && Date.now() < deadline) {
      const t = ledger.totals();
      reads++;
      if (t.ingested < last.ingested || t.delivered < last.delivered || t.inFlight < 0 || t.ingested % step !== 0 || t.delivered % step !== 0) {
        bad.push(JSON.stringify({ t, last }));
      }
      last = t;
    }
    await worker.terminate();
    expect(bad).toEqual([]);
    expect(reads).toBeGreaterThan(1000);
    expect(ledger.totals()).toMatchObject({ ingested: rounds * step, delivered: rounds * step, inFlight: 0 });
  });

  it('counts into the same memory as the owner, and learns later slots on update', () => {
    const ledger = Ledger.create({ maxJobs: 4 });
    const a = ledger.slot('a');
    const view = LedgerView.attach(structuredClone(ledger.handle()));
    expect(view.slotOf('a')).toBe(a);
    view.ingest(a, 5);
    view.deliver(a, 2);
    expect(ledger.entry('a')).toMatchObject({ ingested: 5, delivered: 2, inFlight: 3 });

    const b = ledger.slot('b');
    expect(view.slotOf('b')).toBeUndefined();
    expect(view.allocated()).toBe(3);
    view.update(ledger.handle());
    expect(view.slotOf('b')).toBe(b);
    expect(view.jobOf(b)).toBe('b');
    ledger.ingest(b, 4);
    expect(view.snapshot()['b']!.ingested).toBe(4);
    expect(view.totals().ingested).toBe(9);
  });

  it('refuses a buffer that is not a ledger of this layout', () => {
    expect(codeOf(() => LedgerView.attach({ buffer: new SharedArrayBuffer(ledgerBytes(2)), jobs: [] }))).toBe('ERR_LEDGER_LAYOUT');
    const ledger = Ledger.create({ maxJobs: 2 });
    const short = new SharedArrayBuffer(ledgerBytes(1));
    new Uint8Array(short).set(new Uint8Array(ledger.buffer, 0, HEADER_BYTES));
    expect(() => LedgerView.attach({ buffer: short, jobs: [] })).toThrow(
      `ledger of 2 job slots needs ${ledgerBytes(2)} bytes, the buffer has ${ledgerBytes(1)}`,
    );
    expect(codeOf(() => LedgerView.attach({ buffer: new ArrayBuffer(64) as unknown as SharedArrayBuffer, jobs: [] }))).toBe(
      'ERR_LEDGER_LAYOUT',
    );
  });
});

type Op =
  | { kind: 'ingest'; job: number; n: number }
  | { kind: 'deliver'; job: number; n: number }
  | { kind: 'drop'; job: number; reason: DropReason; n: number };

const JOBS = ['-', 'j1', 'j2', 'j3'];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('ingest' as const), job: fc.nat(3), n: fc.nat(1000) }),
  fc.record({ kind: fc.constant('deliver' as const), job: fc.nat(3), n: fc.nat(1000) }),
  fc.record({ kind: fc.constant('drop' as const), job: fc.nat(3), reason: fc.constantFrom(...DROP_REASONS), n: fc.nat(1000) }),
);

describe('Ledger properties', () => {
  it('any sequence of ingest, deliver and drop keeps the identity and matches a model', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, settleOnlyInFlight) => {
        const ledger = Ledger.create({ maxJobs: 3 });
        const slots = JOBS.map((job) => ledger.slot(job));
        const model = JOBS.map(() => ({ ingested: 0, delivered: 0, dropped: zeroDropped() }));
        for (const o of ops) {
          const m = model[o.job]!;
          const inFlight = m.ingested - m.delivered - DROP_REASONS.reduce((s, r) => s + m.dropped[r], 0);
          // Half the runs settle no more than is in flight, as a correct pipeline does.
          const n = settleOnlyInFlight && o.kind !== 'ingest' ? Math.min(o.n, inFlight) : o.n;
          const slot = slots[o.job]!;
          if (o.kind === 'ingest') {
            ledger.ingest(slot, n);
            m.ingested += n;
          } else if (o.kind === 'deliver') {
            ledger.deliver(slot, n);
            m.delivered += n;
          } else {
            ledger.drop(slot, o.reason, n);
            m.dropped[o.reason] += n;
          }
          const entry = ledger.entry(JOBS[o.job]!)!;
          if (!identityHolds(entry)) return false;
        }
        const snapshot = ledger.snapshot();
        let balanced = true;
        JOBS.forEach((job, i) => {
          const m = model[i]!;
          const settled = m.delivered + DROP_REASONS.reduce((s, r) => s + m.dropped[r], 0);
          expect(snapshot[job]).toEqual({ ...m, inFlight: m.ingested - settled });
          if (m.ingested - settled < 0) balanced = false;
        });
        expect(ledger.balanced()).toBe(balanced);
        if (settleOnlyInFlight) expect(balanced).toBe(true);
        const totals = ledger.totals();
        expect(identityHolds(totals)).toBe(true);
        expect(totals.ingested).toBe(model.reduce((s, m) => s + m.ingested, 0));
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
