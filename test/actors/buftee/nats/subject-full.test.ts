/**
 * A job's subject is its buffer on NATS: `max_msgs_per_subject` with discard-new per subject.
 * When nobody consumes, the edge fills it and JetStream refuses the next batch; the edge must count
 * what it could not store (buffer_full, as the embedded Buftee does, or shed by Logfwdr under the
 * pressure it reads), never lose it silently, and its `delivered` must be exactly what JetStream
 * holds: read back here message by message.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createPipeline } from '../../../../src/actors/pipeline.js';
import { jobStream } from '../../../../src/actors/buftee/nats/options.js';
import { readJobHeader } from '../../../../src/actors/messages.js';
import type { JobConfig } from '../../../../src/actors/job.js';
import { startNats, stopAll } from '../../../helpers/nats-server.js';
import { E2E_GENERATOR, e2eJobs } from '../../pipeline/exact.js';

const EVENTS = 40_000;
const PER_SUBJECT = 8;

afterAll(async () => {
  await stopAll();
});

describe('Buftee on NATS: a full subject', () => {
  it('refusals past max_msgs_per_subject are counted (block, then drop_newest at once); delivered is what JetStream holds', { timeout: 120_000 }, async () => {
    const server = await startNats();
    const prefix = `f${Date.now().toString(36)}`;
    // all-top blocks (the default), filtered drops the newest at once; nothing consumes.
    const jobs: JobConfig[] = e2eJobs('/nonexistent').map((j) => (j.id === 'filtered' ? { ...j, overflow: 'drop_newest' } : j));
    const edge = createPipeline({
      config: { jobs },
      backend: 'nats',
      role: 'edge',
      nats: { servers: [server.url], prefix, maxMsgsPerSubject: PER_SUBJECT },
      generator: { ...E2E_GENERATOR, limit: EVENTS },
      supervisor: { onRootFailure: 'emit', log: { level: 'warn' } },
      log: { level: 'silent' },
    });
    await edge.start();
    try {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const s = await edge.stats();
        if (s.stages.source?.sent === EVENTS && s.totals.inFlight === 0) break;
        if (Date.now() > deadline) throw new Error(`the edge did not finish: ${JSON.stringify(s.totals)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const stats = await edge.stats();
      const buftee = stats.stages.buftee as { subjectFull: number };
      expect(buftee.subjectFull).toBeGreaterThan(0);
    } finally {
      expect(await edge.stop()).toBe(true);
    }
    const ledger = edge.ledger.snapshot();
    expect(edge.ledger.balanced()).toBe(true);
    for (const id of ['all-top', 'filtered']) {
      const e = ledger[id]!;
      expect(e.inFlight).toBe(0);
      // Every event is either stored or counted dropped, with a reason; the full subject cost some.
      expect(e.ingested).toBe(e.delivered + Object.values(e.dropped).reduce((a, b) => a + b, 0));
      expect(e.dropped.buffer_full + e.dropped.shed, `${id}: ${JSON.stringify(e)}`).toBeGreaterThan(0);
      expect(e.delivered).toBeGreaterThan(0);
    }
    expect(ledger['filtered']!.dropped.buffer_full).toBeGreaterThan(0);

    // What JetStream holds: at most PER_SUBJECT batches a job, and their events are the edge's `delivered`.
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const stored: Record<string, number> = {};
      for (const dataset of new Set(jobs.map((j) => j.dataset))) {
        const name = jobStream(prefix, dataset);
        const info = await jsm.streams.info(name, { subjects_filter: '>' });
        for (const [subject, count] of Object.entries(info.state.subjects ?? {})) expect(count, subject).toBeLessThanOrEqual(PER_SUBJECT);
        const header = { slot: 0, events: 0, offset: 0 };
        for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
          const m = await jsm.streams.getMessage(name, { seq });
          if (m === null) continue;
          const job = m.subject.split('.').at(-1)!;
          readJobHeader(new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength), 0, header);
          stored[job] = (stored[job] ?? 0) + header.events;
        }
      }
      for (const j of jobs) expect(stored[j.id] ?? 0, j.id).toBe(ledger[j.id]!.delivered);
    } finally {
      await nc.close();
    }
  });
});
