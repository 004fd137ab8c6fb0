/**
 * Real-thread stress: producer workers write sequence-numbered, seeded records; the consumer (this
 * thread) regenerates each and checks it byte for byte, so any lost, repeated, reordered or torn
 * record fails. Small rings make every run wrap thousands of times and fill often, so producers
 * wait on the space doorbell and the consumer sleeps on the data doorbell.
 */
import { describe, expect, it } from 'vitest';
import { createRing, type RingKind } from '../../src/native/ring.js';
import { RingConsumer } from '../../src/native/ring-consumer.js';
import { FanInConsumer, type DataSource } from '../../src/native/fan-in.js';
import { BackoffIdleStrategy } from '../../src/native/idle-strategy.js';
import { checkRecord } from './fixtures/records.js';
import { firstMessage, startWorker } from '../helpers/workers.js';

const PRODUCER = new URL('./fixtures/ring-producer.worker.ts', import.meta.url);
const MAX_BODY = 120;

interface Run {
  scheme: 'fan-in' | 'many-to-one';
  producers: number;
  perProducer: number;
  capacity: number;
}

async function run({ scheme, producers, perProducer, capacity }: Run): Promise<{ received: number[]; waits: number }> {
  const seed = (Math.random() * 2 ** 31) | 0;
  const kind: RingKind = scheme === 'fan-in' ? 'one-to-one' : 'many-to-one';
  const rings = scheme === 'fan-in' ? Array.from({ length: producers }, () => createRing({ capacity, kind })) : [createRing({ capacity, kind })];
  const source: DataSource = scheme === 'fan-in' ? new FanInConsumer(rings) : new RingConsumer(rings[0]!);
  const workers = Array.from({ length: producers }, (_, producer) =>
    startWorker(PRODUCER, {
      workerData: { sab: rings[scheme === 'fan-in' ? producer : 0], producer, count: perProducer, seed, maxBody: MAX_BODY, heapEvery: 0 },
    }),
  );
  const done = workers.map((w) => firstMessage<{ waits: number }>(w, 120_000));
  let failure: string | null = null;
  done.forEach((p) => p.catch((e: Error) => (failure ??= e.message)));
  const next = new Array<number>(producers).fill(0);
  const expectedSeq = (p: number): number => next[p] ?? -1;
  const handler = (_type: number, bytes: Uint8Array, offset: number, length: number): void => {
    const error = checkRecord(bytes, offset, length, seed, expectedSeq, MAX_BODY);
    if (error !== null) throw new Error(`${error} (seed ${seed})`);
    const p = bytes[offset]!;
    next[p] = next[p]! + 1;
  };
  const idle = new BackoffIdleStrategy();
  const total = producers * perProducer;
  let received = 0;
  while (received < total && failure === null) {
    const n = source.read(handler, 4096);
    if (n > 0) {
      source.release();
      received += n;
    } else {
      await idle.idle(source);
    }
  }
  if (failure !== null) throw new Error(`${failure} (seed ${seed})`);
  const results = await Promise.all(done);
  // Nothing more may arrive after the last expected record: a duplicate would show up here.
  expect(source.read(() => {
    throw new Error(`a record beyond the ${total} sent (seed ${seed})`);
  })).toBe(0);
  return { received: next, waits: results.reduce((a, r) => a + r.waits, 0) };
}

describe.each(['fan-in', 'many-to-one'] as const)('ring across real threads (%s)', (scheme) => {
  // 1 + 2 + 4 producers, 1.5 M records per configuration: 4.5 M per scheme, 9 M in all.
  it.each([1, 2, 4])('%i producer(s) to one consumer: no loss, no duplicate, order kept', async (producers) => {
    const perProducer = Math.ceil(1_500_000 / producers);
    const { received, waits } = await run({ scheme, producers, perProducer, capacity: 64 * 1024 });
    expect(received).toEqual(new Array(producers).fill(perProducer));
    // The ring is far smaller than the data: producers must have found it full and waited.
    expect(waits).toBeGreaterThan(0);
  });
});
