/**
 * bench/actors: events/s through a chain of 3 actors (source → forward → forward → sink, batches
 * of 256 CDN events of ~1 KB as JSON) on rings, against the same chain on postMessage with
 * structured clone; and restart latency, from killing a link to its successor's first handled
 * batch. One run; writes bench/results/actors.json.
 */
import { choosePlan } from '../plan.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { MessageChannel, Worker } from 'node:worker_threads';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import type { Supervisor } from '../../src/runtime/supervisor.js';
import { PROJECT_ROOT, workerModuleUrl } from '../../src/runtime/worker-module.js';
import { join } from 'node:path';
import { HTTP_REQUEST_FIELDS } from '../codec/event.js';

const quick = choosePlan(process.argv.slice(2), false, true);
const MEASURE_MS = quick ? 1500 : 5000;
const WARMUP_MS = quick ? 500 : 1500;
const KILLS = quick ? 8 : 40;
const EVENTS_PER_BATCH = 256;
const structures = { version: 1, structures: [[...HTTP_REQUEST_FIELDS]] };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rate(counter: Int32Array): Promise<number> {
  await sleep(WARMUP_MS);
  const start = Atomics.load(counter, 0);
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  return ((Atomics.load(counter, 0) - start) / (performance.now() - t0)) * 1000;
}

function ringChain(counter: SharedArrayBuffer, heartbeatTimeoutMs = 5000): Supervisor {
  const module = (name: string): URL => new URL(`./${name}.actor.ts`, import.meta.url);
  return createSupervisor(
    {
      id: 'chain',
      type: 'supervisor',
      intensity: 1000,
      periodMs: 1000,
      backoff: { minMs: 0, maxMs: 0, jitter: 0 },
      children: [
        { id: 'sink', type: 'worker', module: module('chain-sink'), args: { structures, counter } },
        { id: 'b', type: 'worker', module: module('chain-forward'), args: { target: 'sink', structures }, sendsTo: ['sink'], heartbeatTimeoutMs },
        { id: 'a', type: 'worker', module: module('chain-forward'), args: { target: 'b', structures }, sendsTo: ['b'] },
        { id: 'source', type: 'worker', module: module('chain-source'), args: { target: 'a', structures, eventsPerBatch: EVENTS_PER_BATCH }, sendsTo: ['a'] },
      ],
    },
    { onRootFailure: 'emit', log: { level: 'silent' } },
  );
}

async function ringChainRate(): Promise<number> {
  const counter = new SharedArrayBuffer(4);
  const sup = ringChain(counter);
  await sup.start();
  const result = await rate(new Int32Array(counter));
  await sup.stop();
  return result;
}

async function postMessageChainRate(): Promise<number> {
  const counter = new SharedArrayBuffer(4);
  const hops = [new MessageChannel(), new MessageChannel(), new MessageChannel()];
  const credit = new MessageChannel();
  const url = workerModuleUrl(new URL('./post-chain.worker.ts', import.meta.url));
  const common = { window: 16, eventsPerBatch: EVENTS_PER_BATCH };
  const links = [
    new Worker(url, { workerData: { ...common, role: 'sink', inbound: hops[2]!.port2, credit: credit.port1, counter }, transferList: [hops[2]!.port2, credit.port1] }),
    new Worker(url, { workerData: { ...common, role: 'forward', inbound: hops[1]!.port2, next: hops[2]!.port1 }, transferList: [hops[1]!.port2, hops[2]!.port1] }),
    new Worker(url, { workerData: { ...common, role: 'forward', inbound: hops[0]!.port2, next: hops[1]!.port1 }, transferList: [hops[0]!.port2, hops[1]!.port1] }),
    new Worker(url, { workerData: { ...common, role: 'source', next: hops[0]!.port1, credit: credit.port2 }, transferList: [hops[0]!.port1, credit.port2] }),
  ];
  const failed = new Promise<never>((_, reject) => links.forEach((w) => w.once('error', reject)));
  const result = await Promise.race([rate(new Int32Array(counter)), failed]);
  await Promise.all(links.map((w) => w.terminate()));
  return result;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Kills link b under load, KILLS times; each sample: kill → successor's first handled batch. */
async function restartLatency(): Promise<number[]> {
  const counter = new SharedArrayBuffer(4);
  const sup = ringChain(counter);
  await sup.start();
  await sleep(300);
  const samples: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const old = sup.find('b')!;
    const t0 = performance.now();
    await old.kill();
    for (;;) {
      const next = sup.find('b');
      if (next !== null && next !== old && next.heartbeat.handledBatches > 0) break;
      if (performance.now() - t0 > 10_000) throw new Error(`b did not come back within 10 s after kill ${i}`);
      await new Promise((r) => setImmediate(r));
    }
    samples.push(performance.now() - t0);
    await sleep(100);
  }
  await sup.stop();
  return samples.sort((a, b) => a - b);
}

const chainEventsPerSec = await ringChainRate();
const postMessageChainEventsPerSec = await postMessageChainRate();
const restarts = await restartLatency();
const result = {
  chainEventsPerSec: Math.round(chainEventsPerSec),
  postMessageChainEventsPerSec: Math.round(postMessageChainEventsPerSec),
  restartP50Ms: Number(percentile(restarts, 50).toFixed(1)),
  restartP99Ms: Number(percentile(restarts, 99).toFixed(1)),
};
const ratio = chainEventsPerSec / postMessageChainEventsPerSec;
console.log('chain of 3 actors, batches of 256 CDN events');
console.table([
  { transport: 'rings (msgpack batches)', 'events/s': result.chainEventsPerSec },
  { transport: 'postMessage (structured clone)', 'events/s': result.postMessageChainEventsPerSec },
]);
console.log(`restart latency over ${restarts.length} kills: p50 ${result.restartP50Ms} ms, p99 ${result.restartP99Ms} ms`);
console.log(`target: rings >= 2x postMessage: ${ratio.toFixed(2)}x ${ratio >= 2 ? 'MET' : 'MISSED'}`);
console.log(`target: restart p99 < 250 ms: ${result.restartP99Ms} ms ${result.restartP99Ms < 250 ? 'MET' : 'MISSED'}`);
const out = join(PROJECT_ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'actors.json'), `${JSON.stringify(result, null, 2)}\n`);
