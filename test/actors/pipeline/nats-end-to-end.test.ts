/**
 * The exact end-to-end test (exact.ts) on the NATS backend, with two Seatbelt processes: an edge
 * process (generator, Logfwdr, Logreceiver, Buftee publishing to JetStream) and a push process
 * (Buftee consuming, Logpush). Each configured job's events must land exactly once; the edge's
 * ledger counts what JetStream stored as delivered, the push process's ledger counts it ingested
 * and delivers all of it; both balance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl } from '../../helpers/nats-server.js';
import { E2E_GENERATOR, e2eJobs, expectExactDelivery } from './exact.js';
import { startRole, until } from '../../../bench/nats/role-process.js';

const EVENTS = Number(process.env.SEATBELT_E2E_EVENTS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'seatbelt-nats-e2e-'));
let nats: Awaited<ReturnType<typeof natsUrl>>;
beforeAll(async () => {
  nats = await natsUrl();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await nats?.stop();
});

describe(`end to end on NATS JetStream: ${EVENTS.toLocaleString('en')} events, an edge process and a push process`, () => {
  it('delivers every configured job\'s events exactly once and both ledgers balance', async () => {
    const jobs = e2eJobs(dir);
    const prefix = `e2e${Date.now().toString(36)}`;
    // A job's subject is its buffer (4,096 batches by default, discard new): the heaviest job here
    // has ~4,800 batches, so a push process that starts slowly on a loaded machine would let the
    // edge overflow it (buffer_full, shed: counted, and tested in subject-full.test.ts). This test
    // is about exact delivery: the push process starts first and the subjects hold every batch.
    const deep = { maxMsgsPerSubject: 16_384 };
    const push = startRole({ role: 'push', servers: [nats.url], prefix, jobs, generator: E2E_GENERATOR, nats: deep });
    await push.ready;
    const edge = startRole({ role: 'edge', servers: [nats.url], prefix, jobs, events: EVENTS, generator: E2E_GENERATOR, nats: deep });
    try {
      const edgeFinal = await edge.final;
      expect(edgeFinal.clean).toBe(true);
      expect(edgeFinal.balanced).toBe(true);
      const stored = jobs.reduce((sum, j) => sum + edgeFinal.ledger[j.id]!.delivered, 0);
      expect(stored).toBeGreaterThan(0);
      // Nothing but the fail-open surplus... which a configured-mode edge has none of: no loss at the edge.
      for (const j of jobs) {
        const e = edgeFinal.ledger[j.id]!;
        expect(e.delivered, `${j.id}: dropped ${JSON.stringify(e.dropped)}; buftee ${JSON.stringify(edgeFinal.buftee)}`).toBe(e.ingested);
      }
      await until(
        () => {
          const t = push.latest()?.totals;
          return t !== undefined && t.ingested === stored;
        },
        120_000,
        () => `push process ingested ${push.latest()?.totals.ingested} of ${stored}, in flight ${push.latest()?.totals.inFlight}; ${push.stderr().slice(-2000)}`,
      );
      // Everything arrived; stop drains it (Logpush seals its open objects at once).
      const pushFinal = await push.stop();
      expect(pushFinal.clean).toBe(true);
      expect(pushFinal.balanced).toBe(true);
      expect(pushFinal.buftee.duplicates ?? 0).toBe(0);
      expectExactDelivery(jobs, dir, edgeFinal.produced!, pushFinal.ledger);
      // Every event the edge stored, the push process took in: one copy each.
      for (const j of jobs) expect(pushFinal.ledger[j.id]!.ingested).toBe(edgeFinal.ledger[j.id]!.delivered);
    } finally {
      edge.child.kill('SIGKILL');
      push.child.kill('SIGKILL');
    }
  });
});
