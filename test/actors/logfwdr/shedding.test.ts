/**
 * Logfwdr sheds by itself, reading Buftee's pressure from shared memory on every batch: nothing
 * at ok; the fail-open surplus from soft; at hard also each job's events beyond its fair share
 * (the jobs' mean demand over the last window), so a heavy job loses its excess and a light job
 * nothing. Every shed event is in the ledger as `shed`.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSupervisor } from '../../../src/runtime/create-supervisor.js';
import { BatchWriter, Codec } from '../../../src/runtime/codec.js';
import { Ledger, NONE_JOB } from '../../../src/actors/ledger.js';
import { createPressureGauges, PressureGauges, LEVEL } from '../../../src/actors/buftee/pressure.js';
import { FairShare, MIN_SHARE } from '../../../src/actors/logfwdr/logfwdr.actor.js';
import { TYPE_EVENTS, TYPE_SURPLUS } from '../../../src/actors/messages.js';
import { PIPELINE_STRUCTURES } from '../../../src/actors/sources/structures.js';
import type { JobConfig } from '../../../src/actors/job.js';
import type { StageConfig } from '../../../src/actors/stage-config.js';

const LOGFWDR = new URL('../../../src/actors/logfwdr/logfwdr.actor.ts', import.meta.url);
const SINK = new URL('./fixtures/counting-sink.actor.ts', import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function job(id: string, zone: number): JobConfig {
  return { id, dataset: 'http_requests', zones: [zone], destination: { type: 'stdout' } } as JobConfig;
}

/** A Logfwdr (fail-open, `jobs` in its config) forwarding to a sink that counts events per message type in `forwarded`. */
async function startLogfwdr(jobs: JobConfig[], pressure: SharedArrayBuffer) {
  const ledger = Ledger.create({ maxJobs: 8 });
  for (const j of jobs) ledger.slot(j.id);
  const config: StageConfig = { generation: 1, mode: 'fail-open', jobs, ledger: ledger.handle() };
  const counts = new SharedArrayBuffer(64);
  const sup = createSupervisor(
    {
      id: 'root',
      type: 'supervisor',
      children: [
        { id: 'sink', type: 'worker', module: SINK, args: { counts, structures: PIPELINE_STRUCTURES } },
        { id: 'logfwdr', type: 'worker', module: LOGFWDR, sendsTo: ['sink'], args: { target: 'sink', structures: PIPELINE_STRUCTURES, config, pressure } },
      ],
    },
    { onRootFailure: 'emit', log: { level: 'silent' } },
  );
  await sup.start();
  return { ledger, sup, ref: sup.ref('logfwdr'), forwarded: new Int32Array(counts) };
}

describe('Logfwdr sheds by Buftee\'s pressure level', () => {
  it('ok: forwards all; soft: sheds the surplus only; hard: sheds the heavy job beyond its fair share, never the light one', async () => {
    const pressureBuffer = createPressureGauges();
    const pressure = new PressureGauges(pressureBuffer);
    const { ledger, sup, ref, forwarded } = await startLogfwdr([job('heavy', 1), job('light', 2)], pressureBuffer);
    const writer = new BatchWriter(new Codec(PIPELINE_STRUCTURES));
    // One batch: 900 events of zone 1 (heavy), 100 of zone 2 (light), 200 of zone 3 (no job: surplus).
    const send = async (): Promise<void> => {
      writer.begin('http_requests');
      for (let i = 0; i < 1200; i++) writer.addEvent(String(i < 900 ? 1 : i < 1000 ? 2 : 3), i, { n: i });
      await ref.send(writer.finish(), TYPE_EVENTS);
    };
    const settle = async (events: number, surplus: number): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while ((Atomics.load(forwarded, TYPE_EVENTS) < events || Atomics.load(forwarded, TYPE_SURPLUS) < surplus) && Date.now() < deadline) await sleep(5);
      await sleep(50);
    };
    try {
      // ok: everything forwarded (configured and surplus).
      await send();
      await settle(1000, 200);
      expect([Atomics.load(forwarded, TYPE_EVENTS), Atomics.load(forwarded, TYPE_SURPLUS)]).toEqual([1000, 200]);
      expect(ledger.totals().dropped.shed).toBe(0);

      // soft: the surplus is shed, the jobs' events are not.
      pressure.gauges.store(LEVEL, 1);
      await send();
      await settle(2000, 200);
      expect([Atomics.load(forwarded, TYPE_EVENTS), Atomics.load(forwarded, TYPE_SURPLUS)]).toEqual([2000, 200]);
      expect(ledger.entry(NONE_JOB)!.dropped.shed).toBe(200);

      // hard, after a window: the fair share is the mean demand of the last window; the heavy job
      // loses what it sends beyond it, the light one (under it) nothing.
      pressure.gauges.store(LEVEL, 2);
      await sleep(300);
      await send();
      await sleep(300);
      await send();
      await sleep(300);
      const heavy = ledger.entry('heavy')!;
      const light = ledger.entry('light')!;
      expect(light.dropped.shed).toBe(0);
      expect(heavy.dropped.shed).toBeGreaterThan(0);
      expect(ledger.entry(NONE_JOB)!.dropped.shed).toBe(600);
      // Every event is accounted for: forwarded or shed, under its job.
      expect(heavy.ingested).toBe(4 * 900);
      expect(Atomics.load(forwarded, TYPE_EVENTS) + heavy.dropped.shed).toBe(4 * 1000);

      // Back to ok: nothing more is shed, no restart, no operator.
      pressure.gauges.store(LEVEL, 0);
      const shedBefore = ledger.totals().dropped.shed;
      await send();
      await sleep(300);
      expect(ledger.totals().dropped.shed).toBe(shedBefore);
      const stats = await sup.find('logfwdr')!.control.stats(1000);
      expect(stats.actor).toMatchObject({ pressure: 'ok' });
      expect(ledger.balanced()).toBe(true);
    } finally {
      await sup.stop();
    }
  });
});

describe('Logfwdr forwards a record whole', () => {
  it('when every event has a job: counts each job\'s events to the event (ledger and fair share), a zone of two jobs under both', async () => {
    const jobs = [job('heavy', 1), job('light', 2), job('a', 3), job('b', 3)];
    const { ledger, sup, ref, forwarded } = await startLogfwdr(jobs, createPressureGauges());
    const writer = new BatchWriter(new Codec(PIPELINE_STRUCTURES));
    // 905 events of zone 1, 95 of zone 2, 50 of zone 3, interleaved.
    const send = async (): Promise<void> => {
      writer.begin('http_requests');
      for (let i = 0; i < 1050; i++) writer.addEvent(String(i % 21 === 0 ? 3 : i % 10 === 1 && i < 1000 ? 2 : 1), i, { n: i });
      await ref.send(writer.finish(), TYPE_EVENTS);
    };
    try {
      await send();
      const deadline = Date.now() + 10_000;
      while (Atomics.load(forwarded, TYPE_EVENTS) < 1050 && Date.now() < deadline) await sleep(5);
      const perJob = Object.fromEntries(jobs.map((j) => [j.id, ledger.entry(j.id)!.ingested]));
      expect(perJob).toEqual({ heavy: 905, light: 95, a: 50, b: 50 });
      // The next window's share is the mean of this one's demand per job: (905 + 95 + 50 + 50) / 4.
      await sleep(300);
      await send();
      const stats = (await sup.find('logfwdr')!.control.stats(1000)).actor as { fairShare: number; wholeRecords: number };
      expect(stats).toMatchObject({ fairShare: 275, wholeRecords: 2 });
    } finally {
      await sup.stop();
    }
  });
});

describe('FairShare', () => {
  it('counts a whole record\'s events per job (count) as it counts them one by one (within)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.tuple(fc.nat({ max: 7 }), fc.integer({ min: 1, max: 300 })), { maxLength: 12 }), { minLength: 2, maxLength: 4 }), (windows) => {
        const whole = new FairShare(8, 0);
        const single = new FairShare(8, 0);
        let now = 0;
        for (const records of windows) {
          whole.roll((now += 300));
          single.roll(now);
          expect(whole.share).toBe(single.share);
          for (const [slot, n] of records) {
            whole.count(slot, n);
            for (let i = 0; i < n; i++) single.within(slot);
          }
          expect(Array.from(whole.demand)).toEqual(Array.from(single.demand));
        }
        whole.roll((now += 300));
        single.roll(now);
        expect(whole.share).toBe(single.share);
      }),
    );
  });

  it('never sheds a job within the share, and holds a job to the share once the window has one', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat({ max: 2000 }), { minLength: 2, maxLength: 6 }), { minLength: 2, maxLength: 5 }), (windows) => {
        const fair = new FairShare(8, 0);
        let now = 0;
        let previous: number[] | null = null;
        for (const demand of windows) {
          fair.roll((now += 300));
          const share = fair.share;
          if (previous !== null) {
            const active = previous.filter((d) => d > 0);
            const expected = active.length === 0 ? Infinity : Math.max(MIN_SHARE, Math.ceil(active.reduce((a, b) => a + b, 0) / active.length));
            expect(share).toBe(expected);
          }
          demand.forEach((d, slot) => {
            let within = 0;
            for (let i = 0; i < d; i++) if (fair.within(slot)) within++;
            expect(within).toBe(Math.min(d, share));
          });
          previous = demand;
        }
      }),
    );
  });
});
