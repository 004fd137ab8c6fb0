/**
 * A nats-server that confirmed acks and then lost them. nats-server 2.9.10 stopped with SIGTERM
 * goes on answering acks for a moment after it has written its consumers' state; the restarted
 * server hands those messages out again (after ack_wait) although Buftee had them acked and
 * confirmed, and Buftee took them for new ones: delivered twice, counted twice (the restart case
 * of faults.test.ts failed 1 run in about 15 that way).
 *
 * Here the loss is made certain rather than waited for: the stream's store is copied while every
 * message is in it and none delivered, the push side delivers and JetStream confirms its acks, and
 * the server restarts from the copy: it knows none of those acks and hands every message out
 * again at once. Each event must still land exactly once, and the push side's ledger balance.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../../src/actors/pipeline.js';
import { startNats, stopAll } from '../../../helpers/nats-server.js';
import { E2E_GENERATOR, e2eJobs, expectExactDelivery } from '../../pipeline/exact.js';

const EVENTS = 60_000;

async function until(check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await stopAll();
});

describe('Buftee on NATS: acks a restarted server lost', () => {
  it('messages handed out again after their confirmed ack was lost are acked again, not delivered twice', { timeout: 180_000 }, async () => {
    const server = await startNats();
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-nats-lost-acks-'));
    const snapshot = mkdtempSync(join(tmpdir(), 'seatbelt-nats-store-'));
    dirs.push(dir, snapshot);
    const jobs = e2eJobs(dir);
    const prefix = `l${Date.now().toString(36)}`;
    const common = { config: { jobs }, backend: 'nats' as const, nats: { servers: [server.url], prefix, requestTimeoutMs: 2000 }, supervisor: { onRootFailure: 'emit' as const, log: { level: 'warn' as const } }, log: { level: 'silent' as const } };

    // 1. The edge stores every batch; nobody consumes yet.
    const edge = createPipeline({ ...common, role: 'edge', generator: { ...E2E_GENERATOR, limit: EVENTS, ratePerSecond: 40_000 } });
    await edge.start();
    let produced: Record<string, number> = {};
    try {
      await until(async () => {
        const s = await edge.stats();
        produced = s.stages.source?.produced as Record<string, number>;
        return s.stages.source?.sent === EVENTS;
      }, 60_000, () => 'the edge did not send every event');
      expect(await edge.stop()).toBe(true);
    } finally {
      await edge.stop();
    }
    const edgeTotals = edge.ledger.totals();
    expect(edge.ledger.balanced()).toBe(true);
    expect(edgeTotals.delivered).toBeGreaterThan(0);

    // 2. The store with every message in it, none delivered or acked.
    await server.stop();
    cpSync(server.storeDir, snapshot, { recursive: true });
    await server.restart();

    // 3. The push side delivers, and JetStream confirms its acks; 4. the server restarts without
    // them, as from a shutdown that answered acks it did not keep.
    const push = createPipeline({ ...common, role: 'push' });
    await push.start();
    try {
      let acked = 0;
      await until(async () => {
        acked = Number((await push.stats()).stages.buftee?.acked ?? 0);
        return acked > 0;
      }, 60_000, () => 'the push side acked nothing');
      await server.stop();
      rmSync(server.storeDir, { recursive: true, force: true });
      cpSync(snapshot, server.storeDir, { recursive: true });
      await server.restart();

      // 5. Every event taken in once, delivered once.
      await until(() => {
        const t = push.ledger.totals();
        return t.ingested >= edgeTotals.delivered && t.inFlight === 0;
      }, 120_000, () => `push: ${JSON.stringify(push.ledger.totals())} of ${edgeTotals.delivered}`);
      const buftee = (await push.stats()).stages.buftee as Record<string, number>;
      // Acks retried while others for the same message were confirmed took its bytes off twice.
      expect(buftee.pendingBytes, JSON.stringify(buftee)).toBeGreaterThanOrEqual(0);
      expect(await push.stop()).toBe(true);
      const totals = push.ledger.totals();
      expect(totals.ingested, JSON.stringify({ totals, buftee })).toBe(edgeTotals.delivered);
      expect(push.ledger.balanced()).toBe(true);
      expectExactDelivery(jobs, dir, produced, push.ledger.snapshot());
      // The lost acks were seen and made good (sent again, or the repeat caught).
      expect((buftee.reacks ?? 0) + (buftee.repeats ?? 0), JSON.stringify(buftee)).toBeGreaterThan(0);
    } finally {
      await push.stop();
      await server.stop();
    }
  });
});
