/**
 * bench/nats/subjects: how nats-server 2.9.10 takes many subjects and consumers, the reason the
 * NATS backend reads each dataset with one wildcard consumer instead of one consumer per job.
 * For N jobs (subjects) of one work-queue stream: publish 2 messages of 200 bytes a subject (64 in
 * flight), then read them all back with one durable pull consumer filtered on the wildcard; and, at
 * the smaller N, the other design: one durable consumer per subject (the time to create them, and
 * the server's RSS with them). Writes bench/results/nats-subjects.json.
 */
import { execSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, RetentionPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { PROJECT_ROOT } from '../../src/runtime/worker-module.js';
import { startNats } from '../../test/helpers/nats-server.js';
import { choosePlan } from '../plan.js';

const plan = choosePlan(process.argv.slice(2), { subjects: [1_000, 10_000, 100_000], perSubjectConsumers: [1_000, 5_000] }, { subjects: [1_000, 5_000], perSubjectConsumers: [500] });

function serverRssMb(port: number): number {
  const pid = execSync(`pgrep -f -- "-p ${port} "`).toString().trim().split('\n')[0]!;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024);
}

const body = new Uint8Array(200);
const rows: Record<string, unknown>[] = [];
for (const n of plan.subjects) {
  const server = await startNats();
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'B', subjects: ['b.>'], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add('B', { durable_name: 'all', ack_policy: AckPolicy.Explicit, filter_subject: 'b.>', max_ack_pending: 10_000 });
    const total = n * 2;
    let t = performance.now();
    const inflight = new Set<Promise<unknown>>();
    for (let i = 0; i < total; i++) {
      const p: Promise<unknown> = js.publish(`b.job-${i % n}`, body).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= 64) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    const publishPerSec = Math.round(total / ((performance.now() - t) / 1000));
    const info = await jsm.streams.info('B');
    const rssAfterPublish = serverRssMb(server.port);
    t = performance.now();
    const consumer = await js.consumers.get('B', 'all');
    let read = 0;
    while (read < total) {
      for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
        m.ack();
        read++;
      }
    }
    await nc.flush();
    const consumePerSec = Math.round(total / ((performance.now() - t) / 1000));
    rows.push({ design: 'one wildcard consumer', subjects: n, numSubjects: info.state.num_subjects, publishPerSec, consumePerSec, serverRssMb: rssAfterPublish });
  } finally {
    await nc.close();
    await server.stop();
  }
}
for (const n of plan.perSubjectConsumers) {
  const server = await startNats();
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'C', subjects: ['c.>'], retention: RetentionPolicy.Interest });
    const rssBefore = serverRssMb(server.port);
    const t = performance.now();
    for (let i = 0; i < n; i++) await jsm.consumers.add('C', { durable_name: `job-${i}`, ack_policy: AckPolicy.Explicit, filter_subject: `c.job-${i}` });
    const seconds = (performance.now() - t) / 1000;
    rows.push({ design: 'one consumer per job', subjects: n, consumers: n, createSeconds: Number(seconds.toFixed(1)), consumersCreatedPerSec: Math.round(n / seconds), serverRssMb: serverRssMb(server.port), serverRssMbBefore: rssBefore });
  } finally {
    await nc.close();
    await server.stop();
  }
}
console.table(rows);
const out = join(PROJECT_ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, process.argv.includes('--quick') ? 'nats-subjects.quick.json' : 'nats-subjects.json'), `${JSON.stringify({ rows }, null, 2)}\n`);
