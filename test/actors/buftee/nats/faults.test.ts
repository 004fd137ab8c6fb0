/**
 * Faults on the NATS backend, with real nats-server processes:
 *   - nats-server restarted under load: publishers back off and resume, nothing acknowledged is
 *     lost, every configured event is delivered once, and the ledger balances;
 *   - a three-node cluster with R3 streams, one node killed (SIGKILL) mid-run: the same.
 * One process (role `all`), so one ledger holds the whole story.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../../../src/actors/pipeline.js';
import { INTENTIONAL_REASONS, type DropReason } from '../../../../src/actors/job.js';
import { startNats, startNatsCluster, stopAll } from '../../../helpers/nats-server.js';
import { E2E_GENERATOR, e2eJobs, expectExactDelivery } from '../../pipeline/exact.js';
import { until } from '../../../../bench/nats/role-process.js';
import { linesOf, readObjects } from '../../pipeline/helpers.js';
import { natsUrl } from '../../../helpers/nats-server.js';

const EVENTS = 400_000;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await stopAll();
});

async function run(servers: string[], replicas: number, fault: (pipeline: Pipeline) => Promise<void>): Promise<{ pipeline: Pipeline; clean: boolean; buftee: Record<string, number>; dir: string; produced: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'seatbelt-nats-fault-'));
  dirs.push(dir);
  const pipeline = createPipeline({
    config: { jobs: e2eJobs(dir) },
    backend: 'nats',
    nats: { servers, replicas, prefix: `f${Date.now().toString(36)}`, requestTimeoutMs: 2000 },
    generator: { ...E2E_GENERATOR, limit: EVENTS, ratePerSecond: 40_000 },
    supervisor: { onRootFailure: 'emit', log: { level: 'warn' } },
    log: { level: 'silent' },
  });
  await pipeline.start();
  let clean = false;
  try {
    // Under load: part of the events through, the rest still to come.
    await until(() => pipeline.ledger.totals().delivered > 5_000, 60_000, () => `nothing delivered: ${JSON.stringify(pipeline.ledger.totals())}`);
    await fault(pipeline);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const last = await pipeline.stats();
      if ((last.stages.source?.sent as number | undefined) === EVENTS) break;
      if (Date.now() > deadline) throw new Error(`not done: sent ${String(last.stages.source?.sent)}, ${JSON.stringify(last.totals)}, buftee ${JSON.stringify(last.stages.buftee)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const stats = await pipeline.stats();
    // stop() drains: every event published, fetched, delivered (Logpush seals at once), or it returns false.
    clean = await pipeline.stop();
    return { pipeline, clean, buftee: stats.stages.buftee as Record<string, number>, dir, produced: stats.stages.source!.produced as Record<string, number> };
  } finally {
    if (!clean) await pipeline.stop();
  }
}

function expectNothingLost(pipeline: Pipeline): void {
  const totals = pipeline.ledger.totals();
  for (const [reason, n] of Object.entries(totals.dropped)) {
    // Events of zones without a job are `unconfigured` at Logfwdr, and the filter drops some: asked for.
    if (reason === 'unconfigured' || INTENTIONAL_REASONS.has(reason as DropReason)) continue;
    expect({ reason, n }).toEqual({ reason, n: 0 });
  }
  expect(totals.inFlight).toBe(0);
  expect(pipeline.ledger.balanced()).toBe(true);
}

describe('Buftee on NATS under faults', () => {
  it('nats-server restarted under load: publishers back off and resume, nothing is lost, the ledger balances', { timeout: 300_000 }, async () => {
    const server = await startNats();
    const { pipeline, clean, buftee, dir, produced } = await run([server.url], 1, async () => {
      await server.stop();
      await new Promise((r) => setTimeout(r, 1500));
      await server.restart();
    });
    expect(clean, JSON.stringify(pipeline.ledger.totals())).toBe(true);
    // The outage was seen (the connection lost and regained; a publish or a fetch refused or
    // retried only when one fell in it: the client holds publishes while it reconnects), and
    // ridden out: nothing dropped, below.
    expect(buftee.disconnects).toBeGreaterThan(0);
    expect(buftee.reconnects).toBeGreaterThan(0);
    expectNothingLost(pipeline);
    expectExactDelivery(e2eJobs(dir), dir, produced, pipeline.ledger.snapshot());
  });

  it('a three-node cluster with R3 streams: one node killed mid-run, nothing acknowledged is lost', { timeout: 300_000 }, async () => {
    const cluster = await startNatsCluster(3);
    const { pipeline, clean, dir, produced } = await run(cluster.urls, 3, async () => {
      await cluster.nodes[0]!.kill();
    });
    expect(clean, JSON.stringify(pipeline.ledger.totals())).toBe(true);
    expectNothingLost(pipeline);
    expectExactDelivery(e2eJobs(dir), dir, produced, pipeline.ledger.snapshot());
    await cluster.stop();
  });

  it('the edge\'s publishing Buftee killed three times or more, until publishes were in flight: each batch counted stored or crashed, none twice', { timeout: 300_000 }, async () => {
    const nats = await natsUrl();
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-nats-kill-'));
    dirs.push(dir);
    const prefix = `k${Date.now().toString(36)}`;
    const common = { config: { jobs: e2eJobs(dir) }, backend: 'nats' as const, nats: { servers: [nats.url], prefix }, supervisor: { onRootFailure: 'emit' as const, log: { level: 'warn' as const } }, log: { level: 'silent' as const } };
    // Two processes' worth of pipeline in this one: an edge and a push, each with its own ledger.
    const push = createPipeline({ ...common, role: 'push' });
    const edge = createPipeline({ ...common, role: 'edge', generator: { ...E2E_GENERATOR, limit: EVENTS, ratePerSecond: 40_000 } });
    await push.start();
    await edge.start();
    try {
      let recovered = 0;
      await until(() => edge.ledger.totals().delivered > 5_000, 60_000, () => `nothing stored: ${JSON.stringify(edge.ledger.totals())}`);
      // Three kills, and more (up to eight) until one lands with publishes in flight: where a kill
      // lands is timing, and one with nothing in flight checks nothing of the recovery.
      for (let i = 0; i < 8 && (i < 3 || recovered === 0); i++) {
        await edge.tree.kill('buftee');
        await new Promise((r) => setTimeout(r, 1500));
        recovered += Number((await edge.stats()).stages.buftee?.recovered ?? 0);
      }
      for (;;) {
        const s = await edge.stats();
        if ((s.stages.source?.sent as number | undefined) === EVENTS) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const edgeClean = await edge.stop();
      expect(edgeClean, JSON.stringify({ totals: edge.ledger.totals(), recovered })).toBe(true);
      const edgeTotals = edge.ledger.totals();
      expect(edge.ledger.balanced()).toBe(true);
      // At the edge: only `crashed` is lost, at most what the successors found not stored.
      for (const [reason, n] of Object.entries(edgeTotals.dropped)) if (!['unconfigured', 'crashed'].includes(reason)) expect({ reason, n }).toEqual({ reason, n: 0 });
      expect(edgeTotals.dropped.crashed).toBeLessThanOrEqual(recovered);
      await until(() => push.ledger.totals().ingested === edgeTotals.delivered, 60_000, () => `push took ${push.ledger.totals().ingested} of ${edgeTotals.delivered}`);
      expect(await push.stop()).toBe(true);
      const pushTotals = push.ledger.totals();
      expect(push.ledger.balanced()).toBe(true);
      expect(pushTotals.ingested).toBe(edgeTotals.delivered);
      // Every event the push side delivered is one line, none twice in its job (an event of zone 1
      // is in two jobs).
      const lines = readObjects(dir).flatMap((o) => linesOf(o).filter((l) => !l.startsWith('RayID,')).map((l) => `${o.job}:${l.startsWith('{') ? String((JSON.parse(l) as { RayID: string }).RayID) : l.split(',')[0]!}`));
      expect(lines.length).toBe(pushTotals.delivered);
      expect(new Set(lines).size).toBe(lines.length);
      expect(recovered, 'a kill found publishes in flight').toBeGreaterThan(0);
    } finally {
      await edge.stop();
      await push.stop();
      await nats.stop();
    }
  });
});
