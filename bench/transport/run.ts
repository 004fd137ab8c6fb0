/**
 * The transport benchmark (`npm run bench:transport`, `-- --quick` for a smoke run): throughput of
 * Seatbelt's ring against postMessage, transferred ArrayBuffers, ringbuf.js and the memcpy ceiling;
 * fan-in against a shared many-to-one ring with two producer workers; round-trip latency; idle CPU.
 * Writes bench/results/transport.json (transport.quick.json with --quick) and judges the issue's
 * targets from this one run.
 *
 * Runs from dist/ (the npm script builds first): its workers are the compiled .worker.js files
 * next to it.
 */

import { choosePlan } from '../plan.js';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { idleCpu } from './idle-cpu.js';
import { portLatency, ringLatency, type LatencyPlan, type LatencyRow } from './latency.js';
import { memcpyCell } from './memcpy.js';
import type { CellTiming } from './phase-clock.js';
import { checkTargets, formatTables, formatTargets, writeResults, type RunResults } from './report.js';
import { mainProducerCell, manyProducerCell, type MainTransport, type ThroughputRow } from './throughput.js';

interface Plan {
  timing: CellTiming;
  latency: LatencyPlan;
  idleMs: number;
  /** A smoke run writes its own file, so it never replaces the figures of a full run. */
  resultsFile: string;
}

const FULL: Plan = { timing: { warmupMs: 300, measureMs: 1000 }, latency: { warmup: 2000, count: 20_000 }, idleMs: 2000, resultsFile: 'transport.json' };
const QUICK: Plan = { timing: { warmupMs: 50, measureMs: 200 }, latency: { warmup: 200, count: 2000 }, idleMs: 500, resultsFile: 'transport.quick.json' };

const SIZES = [256, 4096, 65536] as const;
const CHECKSUM_SIZE = 4096;
const MAIN_TRANSPORTS: readonly MainTransport[] = ['postMessage-copy', 'postMessage-transfer', 'ringbuf.js', 'ring', 'ring-many-to-one'];
const MANY_PRODUCERS = 2;

const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');


function progress(r: ThroughputRow): void {
  process.stderr.write(`  ${r.transport} ${r.bytes} B: ${Math.round(r.opsPerSec).toLocaleString('en-US')} records/s, ${r.mbPerSec.toFixed(1)} MB/s\n`);
}

async function run(plan: Plan): Promise<RunResults> {
  // Idle first, while no earlier cell's garbage is left for the collector to burn CPU on.
  process.stderr.write('idle CPU...\n');
  const idle = await idleCpu(plan.idleMs);
  const throughput: ThroughputRow[] = [];
  const add = (r: ThroughputRow): void => {
    progress(r);
    throughput.push(r);
  };
  process.stderr.write('throughput, main producer -> one worker consumer...\n');
  for (const bytes of SIZES) {
    add(memcpyCell(bytes, plan.timing));
    for (const transport of MAIN_TRANSPORTS) add(await mainProducerCell(transport, bytes, false, plan.timing));
  }
  for (const transport of ['ring', 'postMessage-copy'] as const) add(await mainProducerCell(transport, CHECKSUM_SIZE, true, plan.timing));
  process.stderr.write(`throughput, ${MANY_PRODUCERS} producer workers -> one worker consumer...\n`);
  for (const bytes of SIZES) {
    add(await manyProducerCell('fan-in', MANY_PRODUCERS, bytes, plan.timing));
    add(await manyProducerCell('many-to-one', MANY_PRODUCERS, bytes, plan.timing));
  }
  process.stderr.write('round trips...\n');
  const latency: LatencyRow[] = [];
  latency.push((await ringLatency('ring', plan.latency)).row);
  latency.push(await portLatency(plan.latency));
  const doorbell = await ringLatency('ring-doorbell', plan.latency);
  latency.push(doorbell.row);
  return { throughput, latency, doorbellWokenShare: doorbell.wokenShare, idle };
}

const plan = choosePlan(process.argv.slice(2), FULL, QUICK);
try {
  const results = await run(plan);
  const path = join(RESULTS_DIR, plan.resultsFile);
  writeResults(path, results);
  process.stdout.write(`\n${formatTables(results)}\n\nTargets (issue), from this run:\n${formatTargets(checkTargets(results))}\n\nwrote ${path}\n`);
} catch (error) {
  process.stderr.write(`transport bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  // Exits at once: a worker a failed cell could not stop must not keep the process alive.
  process.exit(1);
}
