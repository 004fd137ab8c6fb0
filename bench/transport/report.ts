/**
 * The run's output: the throughput and latency tables, the targets judged from this same
 * run, and bench/results/transport.json (one array of throughput, latency and idle rows).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IdleRow } from './idle-cpu.js';
import type { LatencyRow } from './latency.js';
import type { ThroughputRow } from './throughput.js';

export interface RunResults {
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  /** Doorbell cell: share of pings that needed a notify (printed, not a JSON row). */
  doorbellWokenShare: number | null;
  idle: IdleRow;
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

const CHECKSUM = '+checksum';

export function formatTables(results: RunResults): string {
  const lines: string[] = [];
  lines.push(row(['transport', 'bytes', 'records/s', 'MB/s', 'vs postMessage-copy']));
  for (const r of results.throughput) {
    const base = baseline(results.throughput, r);
    const ratio = base === undefined ? '-' : `${(r.opsPerSec / base.opsPerSec).toFixed(2)}x`;
    lines.push(row([r.transport, String(r.bytes), Math.round(r.opsPerSec).toLocaleString('en-US'), r.mbPerSec.toFixed(1), ratio]));
  }
  lines.push('');
  lines.push(row(['round trip (64 B)', '', 'p50 µs', 'p99 µs', '']));
  for (const r of results.latency) lines.push(row([r.transport, '', r.p50Us.toFixed(2), r.p99Us.toFixed(2), '']));
  if (results.doorbellWokenShare !== null) {
    lines.push(`  (ring-doorbell-rtt: ${(results.doorbellWokenShare * 100).toFixed(1)}% of pings woke the worker through a doorbell notify)`);
  }
  lines.push('');
  lines.push(`ring-idle: ${results.idle.cpuPercent.toFixed(3)}% of one core (whole process, consumer asleep on an empty ring)`);
  return lines.join('\n');
}

export function checkTargets(results: RunResults): TargetCheck[] {
  const t = results.throughput;
  const checks: TargetCheck[] = [];
  for (const [bytes, factor] of [
    [256, 5],
    [4096, 8],
  ] as const) {
    const ring = find(t, 'ring', bytes);
    const copy = find(t, 'postMessage-copy', bytes);
    const ratio = ring.opsPerSec / copy.opsPerSec;
    checks.push({ target: `ring >= ${factor}x postMessage-copy records/s at ${bytes} B`, measured: `${ratio.toFixed(2)}x`, met: ratio >= factor });
  }
  const ring64 = find(t, 'ring', 65536);
  const memcpy64 = find(t, 'memcpy', 65536);
  const share = ring64.mbPerSec / memcpy64.mbPerSec;
  checks.push({ target: 'ring MB/s >= 70% of memcpy MB/s at 64 KiB', measured: `${(share * 100).toFixed(1)}%`, met: share >= 0.7 });
  const sizes = [...new Set(t.filter((r) => r.transport === 'ringbuf.js').map((r) => r.bytes))];
  const versus = sizes.map((bytes) => ({ bytes, ratio: find(t, 'ring', bytes).opsPerSec / find(t, 'ringbuf.js', bytes).opsPerSec }));
  checks.push({
    target: 'ring >= ringbuf.js at every size',
    measured: versus.map((v) => `${v.bytes} B: ${v.ratio.toFixed(2)}x`).join(', '),
    met: versus.length > 0 && versus.every((v) => v.ratio >= 1),
  });
  const rtt = results.latency.find((r) => r.transport === 'ring-rtt');
  if (rtt === undefined) throw new Error('no ring-rtt row to judge the latency target by');
  checks.push({ target: 'ring RTT p50 <= 10 µs', measured: `${rtt.p50Us.toFixed(2)} µs`, met: rtt.p50Us <= 10 });
  checks.push({ target: 'idle < 1% of a core', measured: `${results.idle.cpuPercent.toFixed(3)}%`, met: results.idle.cpuPercent < 1 });
  return checks;
}

export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks.map((c) => `  [${c.met ? 'met' : 'MISSED'}] ${c.target}: ${c.measured}`).join('\n');
}

export function writeResults(path: string, results: RunResults): void {
  const rows: object[] = [
    ...results.throughput.map((r) => ({ transport: r.transport, bytes: r.bytes, opsPerSec: round(r.opsPerSec, 1), mbPerSec: round(r.mbPerSec, 2) })),
    ...results.latency.map((r) => ({ transport: r.transport, p50Us: round(r.p50Us, 2), p99Us: round(r.p99Us, 2) })),
    { transport: results.idle.transport, cpuPercent: round(results.idle.cpuPercent, 3) },
  ];
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(rows, null, 2)}\n`);
}

/** Checksum rows compare with the checksum run of postMessage-copy, the others with the plain one. */
function baseline(rows: readonly ThroughputRow[], r: ThroughputRow): ThroughputRow | undefined {
  const name = r.transport.endsWith(CHECKSUM) ? `postMessage-copy${CHECKSUM}` : 'postMessage-copy';
  return rows.find((b) => b.transport === name && b.bytes === r.bytes);
}

function find(rows: readonly ThroughputRow[], transport: string, bytes: number): ThroughputRow {
  const found = rows.find((r) => r.transport === transport && r.bytes === bytes);
  if (found === undefined) throw new Error(`no ${transport} row at ${bytes} B to judge a target by`);
  return found;
}

function row(cells: readonly string[]): string {
  const widths = [34, 7, 14, 10, 20];
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
