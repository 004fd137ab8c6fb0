/**
 * `seatbelt run`: the pipeline, from a config file (`--config pipeline.yaml`) or from flags (the
 * synthetic edge to an object-store directory). On a TTY, one live block refreshed each second;
 * otherwise a plain line a second. A summary at the end. SIGHUP reloads the config file through the
 * config guard; SIGINT or SIGTERM (or --duration) drains and stops within the config's
 * drainTimeoutMs; the exit code is 0 only if nothing was left in flight and nothing was lost.
 *
 * `seatbelt validate FILE`: checks a config file without running it.
 */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Server } from 'node:http';
import { createPipeline, lostIn, type Pipeline, type PipelineOptions } from './actors/pipeline.js';
import { defaultJobs } from './actors/defaults.js';
import { DROP_REASONS } from './actors/job.js';
import { loadPipelineConfig, PipelineConfigError, pipelineOptionsOf } from './actors/pipeline-config.js';
import { createPipelineMetrics } from './actors/pipeline-metrics.js';
import { serveMetrics } from './runtime/metrics.js';
import { NONE_JOB, type LedgerEntry, type LedgerSnapshot } from './actors/ledger.js';

const HELP = `usage: seatbelt run [--config FILE] [options]

  --config FILE     a pipeline config (JSON or YAML; see the README); the flags below are then
                    ignored, except --duration, --log-file, --log-level and --metrics-port
  --data DIR        object-store directory (default ./data)
  --zones N         zones at the synthetic edge (default 40000)
  --jobs N          zones with a push job (default 1000)
  --rate N          events per second (default: as fast as the pipeline takes them)
  --duration S      stop after S seconds (default: run until Ctrl-C or SIGTERM)
  --no-gzip         plain ndjson objects
  --log-file FILE   pino log lines to FILE instead of stderr
  --log-level L     fatal | error | warn | info (default) | debug | trace | silent
  --metrics-port N  serve Prometheus /metrics on 127.0.0.1:N (0: a free port)

SIGHUP reloads --config through the config guard. Exit 0 only if nothing was lost or left in flight.
`;

const VALIDATE_HELP = `usage: seatbelt validate FILE

Checks a pipeline config (JSON or YAML) without running it: exit 0 when valid, 1 with every
problem (file, path, what was expected) when not.
`;

export async function validateCommand(argv: string[]): Promise<number> {
  const [file, ...rest] = argv;
  if (file === undefined || file === '--help' || file === '-h' || rest.length > 0) {
    process.stdout.write(VALIDATE_HELP);
    return file === '--help' || file === '-h' ? 0 : 2;
  }
  try {
    const config = loadPipelineConfig(file);
    const jobs = config.jobs?.length;
    process.stdout.write(`${file}: valid (${jobs === undefined ? 'jobs from a provider' : `${jobs} jobs`}, datasets ${config.datasets.join(', ')})\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof PipelineConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    for (const issue of error.issues.slice(5)) process.stderr.write(`  ${issue.message}\n`);
    return 1;
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      data: { type: 'string', default: './data' },
      zones: { type: 'string', default: '40000' },
      jobs: { type: 'string', default: '1000' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      gzip: { type: 'boolean', default: true },
      'no-gzip': { type: 'boolean', default: false },
      'log-file': { type: 'string' },
      'log-level': { type: 'string' },
      'metrics-port': { type: 'string' },
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
  const duration = number('duration', values.duration, 0);
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  const level = values['log-level'];
  if (level !== undefined && !(levels as readonly string[]).includes(level)) throw new RangeError(`--log-level must be one of ${levels.join(' | ')}, got ${JSON.stringify(level)}`);
  const configFile = values.config;
  let options: PipelineOptions;
  let metrics: { port: number; host: string } | undefined;
  let describe: string;
  if (configFile !== undefined) {
    let loaded;
    try {
      loaded = pipelineOptionsOf(loadPipelineConfig(configFile), configFile);
    } catch (error) {
      if (!(error instanceof PipelineConfigError)) throw error;
      process.stderr.write(`seatbelt: ${error.message}\n`);
      return 1;
    }
    const { metrics: m, logFile: _logFile, ...rest } = loaded;
    options = rest;
    metrics = m;
    describe = `config ${configFile}`;
  } else {
    const zones = number('zones', values.zones, 1)!;
    const jobs = number('jobs', values.jobs, 1)!;
    const rate = number('rate', values.rate, 1);
    const directory = resolve(values.data!);
    options = {
      config: { jobs: defaultJobs({ zones, jobs, directory, compression: values['no-gzip'] ? 'none' : 'gzip' }) },
      generator: { zones, seed: Date.now() >>> 0, ...(rate === undefined ? {} : { ratePerSecond: rate }) },
    };
    describe = `${jobs} jobs over ${zones} zones, objects in ${directory}`;
  }
  // Logs: stderr (pretty on a TTY) or --log-file; the flags win over the config file.
  const logFile = values['log-file'];
  const log = {
    level: (level ?? options.log?.level ?? 'info') as (typeof levels)[number],
    ...(logFile !== undefined ? { destination: resolve(logFile) } : options.log?.destination !== undefined ? { destination: options.log.destination } : {}),
  };
  const pretty = log.destination === undefined && process.stderr.isTTY === true;
  options = { ...options, log: { ...log, pretty }, supervisor: { ...options.supervisor, log: { ...log, pretty } } };
  const metricsPort = number('metrics-port', values['metrics-port'], 0);
  if (metricsPort !== undefined) metrics = { port: metricsPort, host: '127.0.0.1' };

  const pipeline = createPipeline(options);
  await pipeline.start();
  let server: Server | null = null;
  if (metrics !== undefined) {
    server = await serveMetrics(createPipelineMetrics(pipeline), metrics.port, metrics.host);
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : metrics.port;
    process.stdout.write(`seatbelt: metrics on http://${metrics.host}:${port}/metrics\n`);
  }
  const ports = pipeline.ports;
  for (const [i, port] of ports.tcp.entries()) {
    process.stdout.write(`seatbelt: NDJSON over TCP on ${options.sources?.tcp?.[i]?.host ?? '127.0.0.1'}:${port} (${options.sources?.tcp?.[i]?.dataset ?? 'http_requests'})\n`);
  }
  if (ports.http !== null) process.stdout.write(`seatbelt: HTTP on http://${options.sources?.http?.host ?? '127.0.0.1'}:${ports.http}/ingest/<dataset>\n`);
  process.stdout.write(`seatbelt: ${describe}; Ctrl-C drains and stops\n`);
  const started = performance.now();
  let stopping: Promise<boolean> | null = null;
  const stop = (): Promise<boolean> => (stopping ??= pipeline.stop());
  // The first SIGINT or SIGTERM drains (bounded by drainTimeoutMs). Another within a second is the
  // same request: `timeout`, and supervisors that signal the process and its group, deliver two.
  // One after that stops at once, saying what was in flight, with exit code 130.
  let firstSignalAt = -1;
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (firstSignalAt < 0) {
      firstSignalAt = now;
      process.stdout.write(`\nseatbelt: ${signal}: draining (again, after a second, to stop at once)\n`);
      void stop();
    } else if (now - firstSignalAt >= 1000) {
      process.stdout.write(`\nseatbelt: ${signal} again: stopping without draining; ${pipeline.inFlight()} events in flight are not delivered\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onHup = (): void => void reload(pipeline, configFile, options);
  process.on('SIGHUP', onHup);
  const status = new StatusDisplay(pipeline, process.stdout, started);
  const ticker = setInterval(() => {
    if (stopping === null) void status.tick();
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
  process.off('SIGHUP', onHup);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  server?.close();
  const t = pipeline.ledger.totals();
  const lost = lostOf(pipeline.ledger.snapshot());
  const seconds = (performance.now() - started) / 1000;
  status.finish();
  process.stdout.write(
    `\nsummary: ${seconds.toFixed(1)} s, ingested ${t.ingested}, delivered ${t.delivered} (${Math.round(t.delivered / seconds)}/s), ` +
      `dropped ${JSON.stringify(Object.fromEntries(DROP_REASONS.filter((r) => t.dropped[r] > 0).map((r) => [r, t.dropped[r]])))}, ` +
      `lost by configured jobs ${lost}, in flight ${t.inFlight}, ledger ${pipeline.ledger.balanced() ? 'balanced' : 'NOT balanced'}\n`,
  );
  return clean && lost === 0 && pipeline.ledger.balanced() ? 0 : 1;
}

/** SIGHUP: the config file read again; its jobs go through the guard, a provider is asked now. */
async function reload(pipeline: Pipeline, file: string | undefined, running: PipelineOptions): Promise<void> {
  if (file === undefined) {
    pipeline.log.warn('SIGHUP: no --config to reload; ignored');
    return;
  }
  try {
    const next = pipelineOptionsOf(loadPipelineConfig(file), file);
    if ('jobs' in next.config) {
      const result = pipeline.reload({ jobs: next.config.jobs }, file);
      const line = `SIGHUP: ${file} reloaded: ${result.outcome} (config generation ${pipeline.guard.generation})`;
      pipeline.log.info({ outcome: result.outcome, generation: pipeline.guard.generation }, line);
      process.stdout.write(`seatbelt: ${line}\n`);
    } else {
      await pipeline.refreshProvider();
      pipeline.log.info({ generation: pipeline.guard.generation }, `SIGHUP: asked the config provider again`);
    }
    const changed = (['sources', 'buftee', 'supervision', 'datasets', 'maxJobs', 'policy'] as const).filter(
      (key) => JSON.stringify(next[key] ?? null) !== JSON.stringify(running[key] ?? null),
    );
    if (changed.length > 0) pipeline.log.warn({ changed }, `SIGHUP: changes to ${changed.join(', ')} take a restart; the running values stay`);
  } catch (error) {
    if (!(error instanceof PipelineConfigError)) throw error;
    pipeline.log.error({ alert: 'config_refused', source: file }, `SIGHUP: ${error.message}; the running config stays`);
  }
}

/** Rates, buffers, drops by reason, restarts and alerts: a live block on a TTY, a plain line otherwise. */
export class StatusDisplay {
  private last: LedgerEntry;
  /** Buftee's `blockedMsByLimit` and restarts at the last tick (a restarted Buftee counts from 0). */
  private lastWaits: Record<string, number> = {};
  private lastBufteeRestarts = 0;
  private lines = 0;
  private readonly tty: boolean;

  constructor(
    private readonly pipeline: Pipeline,
    private readonly out: NodeJS.WriteStream,
    private readonly started: number,
  ) {
    this.last = pipeline.ledger.totals();
    this.tty = out.isTTY === true;
  }

  async tick(): Promise<void> {
    const stats = await this.pipeline.stats();
    const t = stats.totals;
    const elapsed = ((performance.now() - this.started) / 1000).toFixed(0);
    const dropsPerSec = DROP_REASONS.filter((r) => t.dropped[r] - this.last.dropped[r] > 0).map((r) => `${r}=${t.dropped[r] - this.last.dropped[r]}`).join(' ') || 'none';
    const restarts = Object.values(stats.stages).reduce((sum, s) => sum + Number(s.restarts ?? 0), 0);
    const alerts = Object.entries(stats.alerts).map(([a, n]) => `${a}=${n}`).join(' ') || 'none';
    const p = stats.pressure;
    const inRate = t.ingested - this.last.ingested;
    const outRate = t.delivered - this.last.delivered;
    this.last = t;
    const waits = this.waitsSinceLast(stats.stages.buftee?.blockedMsByLimit, Number(stats.stages.buftee?.restarts ?? 0));
    if (!this.tty) {
      this.out.write(
        `${elapsed.padStart(4)}s  in ${inRate}/s  out ${outRate}/s  in flight ${t.inFlight}  buffers ${p.buffers} (${p.level})  drops ${dropsPerSec}  buftee waited ${waits}\n`,
      );
      return;
    }
    const block = [
      `seatbelt ${elapsed}s   config generation ${stats.generation} (${this.pipeline.mode()})   pressure ${p.level}`,
      `  in ${fmt(inRate)}/s   out ${fmt(outRate)}/s   in flight ${fmt(t.inFlight)}   lost ${fmt(lostOf(stats.ledger))}`,
      `  buffers ${fmt(p.buffers)} (${fmt(p.unconfiguredBuffers)} unconfigured, ${(p.bytes / 2 ** 20).toFixed(1)} MiB)   restarts ${restarts}`,
      `  drops/s ${dropsPerSec}`,
      `  buftee waited ${waits}`,
      `  alerts ${alerts}`,
    ];
    // Back to the block's first line, clear to the end of the screen, draw again.
    this.out.write(`${this.lines > 0 ? `\x1b[${this.lines}A\x1b[J` : ''}${block.join('\n')}\n`);
    this.lines = block.length;
  }

  finish(): void {
    this.lines = 0;
  }

  /**
   * How long Buftee held its input since the last tick, by the limit that was full
   * (`maxBytesPerBuffer=310ms`: a busy job at its own budget; `maxTotalBytes`: Buftee at its
   * total), or `none`.
   */
  private waitsSinceLast(byLimit: unknown, restarts: number): string {
    const now = (typeof byLimit === 'object' && byLimit !== null ? byLimit : {}) as Record<string, number>;
    // A Buftee restarted since the last tick counts from 0.
    const since = restarts === this.lastBufteeRestarts ? this.lastWaits : {};
    const parts: string[] = [];
    for (const [limit, ms] of Object.entries(now)) {
      const waited = Math.round(ms - (since[limit] ?? 0));
      if (waited > 0) parts.push(`${limit}=${waited}ms`);
    }
    this.lastWaits = { ...now };
    this.lastBufteeRestarts = restarts;
    return parts.join(' ') || 'none';
  }
}

/** Events of configured jobs (not "-") dropped for a reason other than their own filter or sampling. */
function lostOf(ledger: LedgerSnapshot): number {
  let lost = 0;
  for (const [job, entry] of Object.entries(ledger)) if (job !== NONE_JOB) lost += lostIn(entry);
  return lost;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}
