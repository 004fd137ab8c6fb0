/**
 * One Seatbelt process of the NATS benchmark and tests, run as its own node process: `edge`
 * (generator, Logfwdr, Logreceiver, Buftee's publisher), `push` (Buftee's consumer, Logpush), or
 * `all` (every stage; with `backend: embedded`, the in-process Buftee).
 *
 * argv[2]: a JSON file of { role, backend?, servers, prefix, jobs, events?, replicas?, ratePerSecond?, generator?, nats? }
 * (`nats`: more of Buftee's NATS options, e.g. maxMsgsPerSubject).
 * stdout, one JSON line each: { ready } once started; { stats } every 250 ms; { final } after stop.
 * An edge process stops by itself once its generator sent everything and nothing is in flight;
 * any process stops on the line `stop` on stdin.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createPipeline } from '../../src/actors/pipeline.js';
import type { JobConfig } from '../../src/actors/job.js';
import type { NatsBufteeOptions, Role } from '../../src/actors/buftee/nats/options.js';
import type { EdgeGeneratorOptions } from '../../src/actors/sources/edge-generator.js';

interface Args {
  role: Role;
  backend?: 'embedded' | 'nats';
  generator: EdgeGeneratorOptions;
  servers: string[];
  prefix: string;
  jobs: JobConfig[];
  events?: number;
  replicas?: number;
  ratePerSecond?: number;
  nats?: Omit<NatsBufteeOptions, 'servers' | 'prefix' | 'replicas'>;
}

const args = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Args;
const say = (o: object): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);
const pipeline = createPipeline({
  config: { jobs: args.jobs },
  ...(args.backend === 'embedded'
    ? {}
    : { backend: 'nats' as const, role: args.role, nats: { ...args.nats, servers: args.servers, prefix: args.prefix, ...(args.replicas === undefined ? {} : { replicas: args.replicas }) } }),
  ...(args.role === 'push' ? {} : { generator: { ...args.generator, limit: args.events ?? 100_000, ...(args.ratePerSecond === undefined ? {} : { ratePerSecond: args.ratePerSecond }) } }),
  supervisor: { onRootFailure: 'emit', log: { level: 'warn' } },
});
await pipeline.start();
say({ ready: true, pid: process.pid });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const stats = await pipeline.stats();
  const clean = await pipeline.stop();
  const final = { clean, ledger: pipeline.ledger.snapshot(), totals: pipeline.ledger.totals(), balanced: pipeline.ledger.balanced(), produced: stats.stages.source?.produced ?? null, buftee: stats.stages.buftee };
  // Exits once the (long) line is written: a pipe takes it in pieces.
  process.stdout.write(`${JSON.stringify({ final })}\n`, () => process.exit(0));
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stop') void stop();
});

for (;;) {
  if (stopping) break;
  const stats = await pipeline.stats();
  say({ stats: { totals: stats.totals, buftee: stats.stages.buftee, sent: stats.stages.source?.sent ?? null } });
  if (args.role !== 'push' && stats.stages.source?.sent === (args.events ?? 100_000) && stats.totals.inFlight === 0) {
    await stop();
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}
