/**
 * bench/nats: events/s from an edge process through NATS JetStream to a push process, against the
 * embedded Buftee in one process, in one run: embedded, NATS R1 (one nats-server), NATS R3 (three
 * nats-servers on loopback). The workload of bench/pipeline: 1,000 jobs of 40 zones cover all
 * 40,000 zones, ndjson, gzip off. nats-server shares this machine's cores with Seatbelt.
 * Writes bench/results/nats.json (nats.quick.json with --quick).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobConfig } from '../../src/actors/job.js';
import type { LedgerEntry } from '../../src/actors/ledger.js';
import { DEFAULT_FIELD_NAMES } from '../../src/actors/defaults.js';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { startNats, startNatsCluster } from '../../test/helpers/nats-server.js';
import { choosePlan } from '../plan.js';
import { startRole, until, type RoleProcess } from './role-process.js';

const plan = choosePlan(process.argv.slice(2), { events: 1_000_000, interval: 5 }, { events: 100_000, interval: 2 });
const ZONES = 40_000;
const JOBS = 1000;
const GENERATOR = { zones: ZONES, seed: 7, mix: { http_requests: 1 } };

function jobs(directory: string): JobConfig[] {
  return Array.from({ length: JOBS }, (_, i) => ({
    id: `job-${i + 1}`,
    dataset: 'http_requests' as const,
    zones: Array.from({ length: ZONES / JOBS }, (_, k) => 1 + i + k * JOBS),
    output_options: { field_names: DEFAULT_FIELD_NAMES },
    compression: 'none' as const,
    max_upload_interval_seconds: plan.interval,
    destination: { type: 'object-store' as const, directory },
  }));
}

const dropped = (t: LedgerEntry | undefined): number => (t === undefined ? 0 : Object.values(t.dropped).reduce((a, b) => a + b, 0));

interface Row {
  backend: string;
  seconds: number;
  eventsPerSec: number;
  delivered: number;
  lost: number;
  published: number | null;
  duplicates: number | null;
}

async function finish(name: string, started: number, deliverer: RoleProcess, others: RoleProcess[]): Promise<Row> {
  const done = (): boolean => {
    const t = deliverer.latest()?.totals;
    return t !== undefined && t.delivered + dropped(t) + others.reduce((sum, o) => sum + dropped(o.latest()?.totals), 0) >= plan.events;
  };
  await until(done, 600_000, () => `${name}: ${JSON.stringify(deliverer.latest()?.totals)}; ${deliverer.stderr().slice(-1000)}`);
  const seconds = (performance.now() - started) / 1000;
  const final = await deliverer.stop();
  const edge = others.length > 0 ? await others[0]!.final.catch(() => null) : null;
  for (const p of [deliverer, ...others]) p.child.kill('SIGKILL');
  const buftee = (edge?.buftee ?? final.buftee) as Record<string, number>;
  return {
    backend: name,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSec: Math.round(final.totals.delivered / seconds),
    delivered: final.totals.delivered,
    lost: plan.events - final.totals.delivered,
    published: buftee.published ?? null,
    duplicates: buftee.duplicates ?? null,
  };
}

async function embedded(): Promise<Row> {
  const directory = mkdtempSync(join(tmpdir(), 'seatbelt-bench-nats-'));
  try {
    const started = performance.now();
    const all = startRole({ role: 'all', backend: 'embedded', servers: [], prefix: 'x', jobs: jobs(directory), events: plan.events, generator: GENERATOR });
    return await finish('embedded', started, all, []);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function overNats(name: string, servers: string[], replicas: number): Promise<Row> {
  const directory = mkdtempSync(join(tmpdir(), 'seatbelt-bench-nats-'));
  const prefix = `bench${Date.now().toString(36)}`;
  try {
    const push = startRole({ role: 'push', servers, prefix, replicas, jobs: jobs(directory), generator: GENERATOR });
    await push.ready;
    const started = performance.now();
    const edge = startRole({ role: 'edge', servers, prefix, replicas, jobs: jobs(directory), events: plan.events, generator: GENERATOR });
    return await finish(name, started, push, [edge]);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
rows.push(await embedded());
const single = await startNats();
try {
  rows.push(await overNats('nats R1 (edge → NATS → push)', [single.url], 1));
} finally {
  await single.stop();
}
const cluster = await startNatsCluster(3);
try {
  rows.push(await overNats('nats R3 (edge → 3-node cluster → push)', cluster.urls, 3));
} finally {
  await cluster.stop();
}

console.table(rows);
const base = rows[0]!.eventsPerSec;
const r1 = rows[1]!.eventsPerSec / base;
const r3 = rows[2]!.eventsPerSec / base;
console.log(`target: NATS R1 >= 50% of the embedded backend's events/s: ${(r1 * 100).toFixed(0)}% ${r1 >= 0.5 ? 'MET' : 'MISSED'} (R3: ${(r3 * 100).toFixed(0)}%)`);
const result = { events: plan.events, jobs: JOBS, zones: ZONES, maxUploadIntervalSeconds: plan.interval, rows, r1VsEmbedded: Number(r1.toFixed(3)), r3VsEmbedded: Number(r3.toFixed(3)), target: 0.5, met: r1 >= 0.5 };
const out = join(PROJECT_ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, process.argv.includes('--quick') ? 'nats.quick.json' : 'nats.json'), `${JSON.stringify(result, null, 2)}\n`);
