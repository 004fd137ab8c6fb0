/**
 * The codec benchmark (`node scripts/build.mjs && node dist/bench/codec/run.js`, `--quick` for a
 * smoke run): events/s to encode and decode a ~1 KB CDN request event (bench/codec/event.ts) as
 * plain msgpack maps and as records (structure inline in each payload, shared per batch, shared at
 * spawn); decoding from an ArrayBuffer, from a SharedArrayBuffer view, and from a copy out of one;
 * and the batch codec's own paths (write, route, forward, read). Prints a table and writes
 * bench/results/codec.json.
 *
 * Each group of cells (cells.ts) lives in a worker of its own, and only one worker measures at a
 * time. Rounds go over all groups in turn and each row keeps its best round: on a shared 2-core
 * machine, a burst of someone else's work then costs one round of a group, not the whole group. The
 * "JS decoder" group's worker starts with MSGPACKR_NATIVE_ACCELERATION_DISABLED, which msgpackr
 * reads when it loads, so it measures the decoder msgpackr falls back to without its native string
 * extractor.
 */

import { choosePlan } from '../plan.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { EVENTS_PER_SMALL_BATCH, GROUPS, avg, cellsOf, measureRound, type Group, type Plan, type Row } from './cells.js';
import { makeHttpRequestEvents } from './event.js';

const FULL: Plan = { warmupMs: 100, measureMs: 130, rounds: 6 };
const QUICK: Plan = { warmupMs: 20, measureMs: 50, rounds: 1 };
const EVENT_COUNT = 4096;
const SEED = 1;
const RESULTS_PATH = join(PROJECT_ROOT, 'bench', 'results', 'codec.json');

/** Worker → main: the group's rows (rates still empty) and bytes per event, then one message per round. */
type FromWorker = { kind: 'ready'; rows: Row[]; bytes: Record<string, number> } | { kind: 'round'; rates: (number | null)[] };
/** Main → worker. */
type ToWorker = { kind: 'round'; warmup: boolean } | { kind: 'stop' };

/** One group's worker: each `round` message makes it measure every cell once, while the others wait. */
class GroupWorker {
  private readonly worker: Worker;
  private readonly inbox: FromWorker[] = [];
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(readonly group: Group, plan: Plan) {
    const env = group === 'JS decoder' ? { ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' } : process.env;
    this.worker = new Worker(new URL(import.meta.url), { workerData: { group, plan }, env });
    this.worker.on('message', (message: FromWorker) => {
      this.inbox.push(message);
      this.wake();
    });
    this.worker.once('error', (error) => this.fail(error));
    this.worker.once('exit', (code) => this.fail(new Error(`bench worker "${group}" exited with code ${code}`)));
  }

  /** The next message, or the worker's failure: a dead worker never leaves main waiting. */
  next(): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.wake();
    });
  }

  send(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    const message = this.inbox.shift();
    if (message) {
      this.waiting = null;
      waiting.resolve(message);
    } else if (this.failure) {
      this.waiting = null;
      waiting.reject(this.failure);
    }
  }
}

async function main(plan: Plan): Promise<void> {
  const started = performance.now();
  const bytes: Record<string, number> = { json: avg(makeHttpRequestEvents(EVENT_COUNT, SEED).map((e) => Buffer.byteLength(JSON.stringify(e)))) };
  process.stderr.write(`codec bench: ${plan.rounds} round(s) of ${plan.measureMs} ms per cell, a worker per group\n`);
  const workers = GROUPS.map((group) => new GroupWorker(group, plan));
  const rows: Row[] = [];
  const firsts: number[] = [];
  for (const w of workers) {
    const ready = await w.next();
    if (ready.kind !== 'ready') throw new Error(`bench worker "${w.group}" sent ${ready.kind} before ready`);
    firsts.push(rows.length);
    rows.push(...ready.rows);
    Object.assign(bytes, ready.bytes);
  }
  for (let round = 0; round < plan.rounds; round++) {
    for (const [g, w] of workers.entries()) {
      w.send({ kind: 'round', warmup: round === 0 });
      const result = await w.next();
      if (result.kind !== 'round') throw new Error(`bench worker "${w.group}" sent ${result.kind} instead of a round`);
      result.rates.forEach((r, i) => {
        const row = rows[firsts[g]! + i]!;
        if (r !== null) row.eventsPerSec = Math.max(row.eventsPerSec ?? 0, r);
      });
    }
    process.stderr.write(`  round ${round + 1} of ${plan.rounds} done\n`);
  }
  for (const w of workers) w.send({ kind: 'stop' });
  for (const row of rows) process.stderr.write(`  ${row.op} ${row.name}: ${formatRate(row.eventsPerSec)}\n`);
  const get = (name: string): number | null => rows.find((r) => r.name === name)?.eventsPerSec ?? null;
  const ratio = (a: string, b: string): number | null => {
    const x = get(a);
    const y = get(b);
    return x === null || y === null ? null : x / y;
  };
  const ratios = {
    encodeRecordsVsMaps: ratio('records, shared', 'plain maps'),
    decodeRecordsVsMaps: ratio('records, shared, ArrayBuffer', 'plain maps, ArrayBuffer'),
    bytesRecordsVsMaps: bytes['records, shared']! / bytes['plain maps']!,
    ...Object.fromEntries(
      EVENTS_PER_SMALL_BATCH.map((n) => [`structuresPerBatchOf${n}VsShared`, ratio(`records, structures per batch of ${n}`, 'records, shared, ArrayBuffer')]),
    ),
    jsDecoderSabVsArrayBuffer: ratio('records, shared, SAB view (JS decoder)', 'records, shared, ArrayBuffer (JS decoder)'),
    jsDecoderSabVsNativeArrayBuffer: ratio('records, shared, SAB view (JS decoder)', 'records, shared, ArrayBuffer'),
    readerCopyOutVsInPlace: ratio('BatchReader.decode, SAB (copy-out per batch)', 'BatchReader.decode, ArrayBuffer (in place)'),
    readerCopyOutVsRawDecode: ratio('BatchReader.decode, SAB (copy-out per batch)', 'records, shared, ArrayBuffer'),
  };
  process.stdout.write(`${formatTable(rows, bytes, ratios)}\n`);
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', nativeAcceleration: isNativeAccelerationEnabled };
  const seconds = (performance.now() - started) / 1000;
  const results = { machine, plan, events: { count: EVENT_COUNT, seed: SEED }, seconds, bytesPerEvent: bytes, ratios, rows };
  writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`wrote ${RESULTS_PATH} (${seconds.toFixed(1)} s)\n`);
}

function formatRate(value: number | null): string {
  return value === null ? 'n/a' : Math.round(value).toLocaleString('en-US');
}

function formatTable(rows: readonly Row[], bytes: Record<string, number>, ratios: Record<string, number | null>): string {
  const lines = [pad(['', 'events/s', 'note'])];
  for (const r of rows) lines.push(pad([`${r.op}: ${r.name}`, formatRate(r.eventsPerSec), r.note]));
  lines.push('', 'bytes per event:');
  for (const [name, value] of Object.entries(bytes)) lines.push(`  ${name}: ${value.toFixed(0)}`);
  lines.push('', 'ratios:');
  for (const [name, value] of Object.entries(ratios)) lines.push(`  ${name}: ${value === null ? 'n/a' : `${value.toFixed(2)}x`}`);
  return lines.join('\n');
}

function pad(cells: readonly string[]): string {
  return `${cells[0]!.padEnd(58)} ${cells[1]!.padStart(11)}  ${cells[2]}`;
}


if (isMainThread) {
  await main(choosePlan(process.argv.slice(2), FULL, QUICK));
} else {
  const { group, plan } = workerData as { group: Group; plan: Plan };
  const bytes: Record<string, number> = {};
  const cells = cellsOf(group, makeHttpRequestEvents(EVENT_COUNT, SEED), bytes);
  const port = parentPort!;
  const reply = (message: FromWorker): void => port.postMessage(message);
  const rows: Row[] = cells.map((c) => ({
    group,
    op: c.op,
    name: c.name,
    eventsPerSec: null,
    note: typeof c.step === 'string' ? `fails: ${c.step}` : c.note,
  }));
  reply({ kind: 'ready', rows, bytes });
  port.on('message', (message: ToWorker) => {
    switch (message.kind) {
      case 'round':
        if (message.warmup) measureRound(cells, plan.warmupMs);
        reply({ kind: 'round', rates: measureRound(cells, plan.measureMs) });
        break;
      case 'stop':
        port.close();
        break;
      default:
        throw new Error(`bench worker got an unknown message ${JSON.stringify(message)}`);
    }
  });
}
