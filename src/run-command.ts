/**
 * `seatbelt run`: the pipeline with defaults, the synthetic edge generator to an object-store
 * directory. Prints a line of rates, buffers and drops every second and a summary at the end;
 * Ctrl-C (or SIGTERM, or --duration) drains and stops; exits 0 only if nothing was left in flight.
 */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createPipeline } from './actors/pipeline.js';
import { defaultJobs } from './actors/defaults.js';
import { DROP_REASONS } from './actors/job.js';

const HELP = `usage: seatbelt run [options]

  --data DIR        object-store directory (default ./data)
  --zones N         zones at the synthetic edge (default 40000)
  --jobs N          zones with a push job (default 1000)
  --rate N          events per second (default: as fast as the pipeline takes them)
  --duration S      stop after S seconds (default: run until Ctrl-C)
  --gzip            compress objects (default on; --no-gzip for plain ndjson)
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: './data' },
      zones: { type: 'string', default: '40000' },
      jobs: { type: 'string', default: '1000' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      gzip: { type: 'boolean', default: true },
      'no-gzip': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const number = (name: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name} must be a number >= ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  const zones = number('zones', values.zones, 1)!;
  const jobs = number('jobs', values.jobs, 1)!;
  const rate = number('rate', values.rate, 1);
  const duration = number('duration', values.duration, 0);
  const directory = resolve(values.data!);
  const pipeline = createPipeline({
    config: { jobs: defaultJobs({ zones, jobs, directory, compression: values['no-gzip'] ? 'none' : 'gzip' }) },
    generator: { zones, seed: Date.now() >>> 0, ...(rate === undefined ? {} : { ratePerSecond: rate }) },
  });
  await pipeline.start();
  process.stdout.write(`seatbelt: ${jobs} jobs over ${zones} zones, objects in ${directory}; Ctrl-C drains and stops\n`);
  const started = performance.now();
  let last = pipeline.ledger.totals();
  let stopping: Promise<boolean> | null = null;
  const stop = (): Promise<boolean> => (stopping ??= pipeline.stop());
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  const ticker = setInterval(() => {
    void (async () => {
      if (stopping !== null) return;
      const stats = await pipeline.stats();
      const t = stats.totals;
      const buftee = stats.stages.buftee ?? {};
      const drops = DROP_REASONS.filter((r) => t.dropped[r] > 0).map((r) => `${r}=${t.dropped[r]}`).join(' ') || 'none';
      process.stdout.write(
        `${((performance.now() - started) / 1000).toFixed(0).padStart(4)}s  in ${t.ingested - last.ingested}/s  out ${t.delivered - last.delivered}/s  ` +
          `in flight ${t.inFlight}  buffers ${String(buftee.buffers ?? '?')} (${String(buftee.pressure ?? '?')})  drops ${drops}\n`,
      );
      last = t;
    })();
  }, 1000);
  if (duration !== undefined) setTimeout(() => void stop(), duration * 1000).unref();
  await new Promise<void>((resolveWait) => {
    const poll = setInterval(() => {
      if (stopping !== null) {
        clearInterval(poll);
        resolveWait();
      }
    }, 100);
  });
  const clean = await stopping!;
  clearInterval(ticker);
  const t = pipeline.ledger.totals();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `\nsummary: ${seconds.toFixed(1)} s, ingested ${t.ingested}, delivered ${t.delivered} (${Math.round(t.delivered / seconds)}/s), ` +
      `dropped ${JSON.stringify(Object.fromEntries(DROP_REASONS.filter((r) => t.dropped[r] > 0).map((r) => [r, t.dropped[r]])))}, ` +
      `in flight ${t.inFlight}, ledger ${pipeline.ledger.balanced() ? 'balanced' : 'NOT balanced'}\n`,
  );
  return clean ? 0 : 1;
}
