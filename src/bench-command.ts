/**
 * `seatbelt bench [transport|actors|codec|pipeline|scale ...] [--quick]`: runs the benchmarks, each
 * as a child process (`dist/bench/<name>/run.js`, which prints its own table and writes
 * bench/results/<name>.json), with a progress display, then writes bench/results/summary.json and
 * summary.md: every bench's headline figures and the issue's targets, met or not.
 *
 * Progress: on a terminal, one status line (`[2/5] bench pipeline … 35 s`) redrawn every second
 * below the children's output; otherwise a plain line when each bench starts and when it ends.
 *
 * A bench that fails is recorded as such and the others still run; the exit code is the first
 * failing child's (1 when it died by a signal). Missed targets do not change the exit code.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './runtime/worker-module.js';

export const BENCHES = ['transport', 'actors', 'codec', 'pipeline', 'scale', 'nats'] as const;
export type BenchName = (typeof BENCHES)[number];
/** With no bench named: all of them (transport, actors, codec, pipeline, scale and nats). */
export const DEFAULT_BENCHES: readonly BenchName[] = BENCHES;

export const BENCH_USAGE = `usage: seatbelt bench [${BENCHES.join('|')} ...] [--quick]

Runs the named benchmarks (all when none is named), each printing its table and writing
bench/results/<name>.json (<name>.quick.json with --quick, for the benches that keep one), then
writes bench/results/summary.json and summary.md with each bench's headline figures and targets.
Run "npm run build" first: the benchmarks run from dist/.
`;

const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');

/** One headline figure of a bench, with its target when the issue sets one. */
export interface SummaryFigure {
  figure: string;
  /** A number in `unit`, or a sentence when there is no number (a run that failed). */
  value: number | string | null;
  unit: string;
  target: string | null;
  /** null: no target, or nothing measured to judge it by. */
  met: boolean | null;
}

export interface BenchSummary {
  /** ok: ran and wrote its results; failed: the child exited non-zero; not run: no results of this run to read. */
  status: 'ok' | 'failed' | 'not run';
  exitCode: number | null;
  seconds: number | null;
  /** The results file read, in bench/results/, or null when none of this run was found. */
  file: string | null;
  figures: SummaryFigure[];
  note?: string;
}

export interface Summary {
  generatedAt: string;
  node: string;
  cpu: { model: string; count: number };
  quick: boolean;
  benches: Partial<Record<BenchName, BenchSummary>>;
  targets: { met: number; missed: number; notMeasured: number };
}

export async function benchCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const quick = args.includes('--quick');
  const named = args.filter((a) => a !== '--quick');
  const unknown = named.filter((a) => !(BENCHES as readonly string[]).includes(a));
  if (unknown.length > 0) {
    process.stderr.write(
      `seatbelt bench: unknown benchmark ${unknown.map((u) => JSON.stringify(u)).join(', ')}; choose from ${BENCHES.join(', ')} (and --quick)\n`,
    );
    return 2;
  }
  const selected = named.length > 0 ? [...new Set(named as BenchName[])] : [...DEFAULT_BENCHES];
  const progress = new Progress(process.stdout.isTTY === true, selected.length);
  const runs: { name: BenchName; startedAt: number; exitCode: number | null; seconds: number; error?: string }[] = [];
  let exitCode = 0;
  for (const [i, name] of selected.entries()) {
    const script = join(PROJECT_ROOT, 'dist', 'bench', name, 'run.js');
    const startedAt = Date.now();
    if (!existsSync(script)) {
      const error = `${script} is missing; run "npm run build" first`;
      process.stderr.write(`seatbelt bench: ${error}\n`);
      runs.push({ name, startedAt, exitCode: null, seconds: 0, error });
      exitCode ||= 1;
      continue;
    }
    progress.begin(i, name);
    const run = await runChild(script, quick ? ['--quick'] : [], progress);
    progress.end(run.exitCode, run.signal);
    runs.push({ name, startedAt, exitCode: run.exitCode, seconds: run.seconds, ...(run.error === undefined ? {} : { error: run.error }) });
    if (run.exitCode !== 0) exitCode ||= run.exitCode ?? 1;
  }
  progress.close();

  const summary: Summary = {
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpu: { model: cpus()[0]?.model.trim() ?? 'unknown', count: cpus().length },
    quick,
    benches: {},
    targets: { met: 0, missed: 0, notMeasured: 0 },
  };
  for (const run of runs) {
    const bench = summarize(run.name, quick, run.startedAt, run.exitCode, run.seconds, run.error);
    summary.benches[run.name] = bench;
    for (const f of bench.figures) {
      if (f.target === null) continue;
      if (f.met === true) summary.targets.met++;
      else if (f.met === false) summary.targets.missed++;
      else summary.targets.notMeasured++;
    }
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonPath = join(RESULTS_DIR, 'summary.json');
  const mdPath = join(RESULTS_DIR, 'summary.md');
  writeFileSync(jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
  const markdown = formatMarkdown(summary);
  writeFileSync(mdPath, markdown);
  process.stdout.write(`\n${markdown}\nwrote ${jsonPath} and ${mdPath}\n`);
  return exitCode;
}

/** The status line on a terminal, plain start and end lines elsewhere. */
class Progress {
  private index = 0;
  private name = '';
  private started = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Whether the status line is drawn now (and must be cleared before other output). */
  private drawn = false;

  constructor(
    private readonly tty: boolean,
    private readonly total: number,
  ) {}

  private get label(): string {
    return `[${this.index + 1}/${this.total}] bench ${this.name}`;
  }

  begin(index: number, name: string): void {
    this.index = index;
    this.name = name;
    this.started = performance.now();
    if (!this.tty) {
      process.stdout.write(`${this.label}: started\n`);
      return;
    }
    this.draw();
    this.timer = setInterval(() => this.draw(), 1000);
  }

  /** Writes a whole line of a child's output above the status line. */
  line(stream: NodeJS.WriteStream, text: string): void {
    this.clear();
    stream.write(text);
    if (this.timer !== null) this.draw();
  }

  end(exitCode: number | null, signal: string | null): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.clear();
    const seconds = Math.round((performance.now() - this.started) / 1000);
    const how = exitCode === 0 ? 'done' : signal !== null ? `killed by ${signal}` : `failed (exit ${exitCode})`;
    process.stdout.write(`${this.label}: ${how} in ${formatDuration(seconds)}\n`);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  private draw(): void {
    const seconds = Math.floor((performance.now() - this.started) / 1000);
    process.stdout.write(`\r\x1b[2K${this.label} … ${formatDuration(seconds)}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    process.stdout.write('\r\x1b[2K');
    this.drawn = false;
  }
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** Runs a bench, passing its output through line by line (so the status line stays below it). */
function runChild(script: string, args: readonly string[], progress: Progress): Promise<{ exitCode: number | null; signal: string | null; seconds: number; error?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['inherit', 'pipe', 'pipe'] });
    const pass = (from: NodeJS.ReadableStream, to: NodeJS.WriteStream): (() => void) => {
      let pending = '';
      from.setEncoding('utf8');
      from.on('data', (chunk: string) => {
        pending += chunk;
        const nl = pending.lastIndexOf('\n');
        if (nl < 0) return;
        progress.line(to, pending.slice(0, nl + 1));
        pending = pending.slice(nl + 1);
      });
      return () => {
        if (pending !== '') progress.line(to, `${pending}\n`);
        pending = '';
      };
    };
    const flushOut = pass(child.stdout, process.stdout);
    const flushErr = pass(child.stderr, process.stderr);
    let spawnError: Error | undefined;
    child.once('error', (error) => (spawnError = error));
    child.once('close', (code, signal) => {
      flushOut();
      flushErr();
      const seconds = (performance.now() - started) / 1000;
      resolve({ exitCode: spawnError === undefined ? code : null, signal, seconds, ...(spawnError === undefined ? {} : { error: spawnError.message }) });
    });
  });
}

/**
 * The results of this run for `name`: the quick file first with --quick (actors and codec keep one
 * file for both), and only a file written since the bench started, so an old file is never
 * reported as this run's.
 */
function summarize(name: BenchName, quick: boolean, startedAt: number, exitCode: number | null, seconds: number, error?: string): BenchSummary {
  const base = { exitCode, seconds: Number(seconds.toFixed(1)) };
  const candidates = quick ? [`${name}.quick.json`, `${name}.json`] : [`${name}.json`];
  let file: string | null = null;
  let stale: string | null = null;
  for (const candidate of candidates) {
    const path = join(RESULTS_DIR, candidate);
    if (!existsSync(path)) continue;
    // A second of slack: some file systems keep mtimes in whole seconds.
    if (statSync(path).mtimeMs >= startedAt - 1000) {
      file = candidate;
      break;
    }
    stale ??= candidate;
  }
  const failed = exitCode !== 0;
  if (file === null) {
    const why = error ?? (failed ? `exited with ${exitCode === null ? 'a signal' : `code ${exitCode}`}` : 'exited without writing results');
    const note = `${why}; no results file of this run${stale === null ? '' : ` (${stale} is from an earlier run)`}`;
    return { status: 'not run', ...base, file: null, figures: [], note };
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(join(RESULTS_DIR, file), 'utf8'));
  } catch (e) {
    return { status: 'not run', ...base, file, figures: [], note: `${file} is not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  let figures: SummaryFigure[];
  try {
    figures = EXTRACTORS[name](data);
  } catch (e) {
    return { status: failed ? 'failed' : 'ok', ...base, file, figures: [], note: `could not read the figures of ${file}: ${e instanceof Error ? e.message : String(e)}` };
  }
  return { status: failed ? 'failed' : 'ok', ...base, file, figures, ...(failed ? { note: `exited with code ${exitCode}; figures from what it wrote` } : {}) };
}

// --- reading each bench's JSON, as it writes it ---------------------------------------------

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Keeps what a reader can use: whole numbers from 100 up, three decimals below. */
function tidy(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Number(v.toFixed(3));
}

function figure(name: string, raw: number | string | null, unit: string, target: string | null = null, check?: (v: number) => boolean): SummaryFigure {
  const value = typeof raw === 'number' ? tidy(raw) : raw;
  const met = target === null || check === undefined || typeof value !== 'number' ? null : check(value);
  return { figure: name, value, unit, target, met };
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** transport.json: one array of rows, { transport, bytes, opsPerSec, mbPerSec } or latency or idle. */
function transportFigures(data: unknown): SummaryFigure[] {
  if (!Array.isArray(data)) throw new Error('expected an array of rows');
  const rows = data.filter(isObject);
  const at = (transport: string, bytes?: number): Json | undefined =>
    rows.find((r) => r.transport === transport && (bytes === undefined || r.bytes === bytes));
  const ops = (transport: string, bytes: number): number | null => num(at(transport, bytes)?.opsPerSec);
  const mb = (transport: string, bytes: number): number | null => num(at(transport, bytes)?.mbPerSec);
  const out: SummaryFigure[] = [];
  for (const bytes of [256, 4096, 65536]) out.push(figure(`ring records/s at ${bytes} B`, ops('ring', bytes), 'records/s'));
  for (const [bytes, factor] of [
    [256, 5],
    [4096, 8],
  ] as const) {
    out.push(figure(`ring vs postMessage-copy at ${bytes} B`, ratio(ops('ring', bytes), ops('postMessage-copy', bytes)), 'x', `>= ${factor}x`, (v) => v >= factor));
  }
  const share = ratio(mb('ring', 65536), mb('memcpy', 65536));
  out.push(figure('ring MB/s as a share of memcpy at 64 KiB', share === null ? null : share * 100, '%', '>= 70%', (v) => v >= 70));
  const versus = [256, 4096, 65536].map((b) => ratio(ops('ring', b), ops('ringbuf.js', b)));
  const worst = versus.some((v) => v === null) ? null : Math.min(...(versus as number[]));
  out.push(figure('ring vs ringbuf.js, lowest over the sizes', worst, 'x', '>= 1x at every size', (v) => v >= 1));
  out.push(figure('ring round trip p50', num(at('ring-rtt')?.p50Us), 'µs', '<= 10 µs', (v) => v <= 10));
  out.push(figure('ring round trip p99', num(at('ring-rtt')?.p99Us), 'µs'));
  out.push(figure('idle consumer CPU, % of one core', num(at('ring-idle')?.cpuPercent), '%', '< 1%', (v) => v < 1));
  return out;
}

/** actors.json: { chainEventsPerSec, postMessageChainEventsPerSec, restartP50Ms, restartP99Ms }. */
function actorsFigures(data: unknown): SummaryFigure[] {
  if (!isObject(data)) throw new Error('expected an object');
  const rings = num(data.chainEventsPerSec);
  const post = num(data.postMessageChainEventsPerSec);
  return [
    figure('chain of 3 actors on rings', rings, 'events/s'),
    figure('same chain on postMessage', post, 'events/s'),
    figure('rings vs postMessage', ratio(rings, post), 'x', '>= 2x', (v) => v >= 2),
    figure('restart latency p50', num(data.restartP50Ms), 'ms'),
    figure('restart latency p99', num(data.restartP99Ms), 'ms', '< 250 ms', (v) => v < 250),
  ];
}

/** codec.json: { rows: [{ op, name, eventsPerSec }], ratios: {...} }; the issue sets no target. */
function codecFigures(data: unknown): SummaryFigure[] {
  if (!isObject(data)) throw new Error('expected an object');
  const rows = Array.isArray(data.rows) ? data.rows.filter(isObject) : [];
  const rate = (name: string): number | null => num(rows.find((r) => r.name === name)?.eventsPerSec);
  const ratios = isObject(data.ratios) ? data.ratios : {};
  return [
    figure('encode, records with shared structures', rate('records, shared'), 'events/s'),
    figure('decode, records with shared structures', rate('records, shared, ArrayBuffer'), 'events/s'),
    figure('route a batch by its envelope', rate('BatchReader route: reset + keyIndex + timestamp'), 'events/s'),
    figure('encode, records vs plain maps', num(ratios.encodeRecordsVsMaps), 'x'),
    figure('decode, records vs plain maps', num(ratios.decodeRecordsVsMaps), 'x'),
    figure('bytes, records vs plain maps', num(ratios.bytesRecordsVsMaps), 'x'),
  ];
}

/**
 * pipeline.json: { eventsPerSec, eventsPerSecGzip, peakRssMb, latencyP50Ms, latencyP99Ms,
 * maxUploadIntervalSeconds, runs }. With `--runs N` the file holds N gzip-off runs: the events
 * lost are those of all of them.
 */
function pipelineFigures(data: unknown): SummaryFigure[] {
  if (!isObject(data)) throw new Error('expected an object');
  const interval = num(data.maxUploadIntervalSeconds);
  const p99Limit = interval === null ? null : (interval + 1) * 1000;
  const runs = Array.isArray(data.runs) ? data.runs.filter(isObject) : [];
  const plainLost = runs.filter((r) => r.compression === 'none').map((r) => num(r.lost));
  const lost = plainLost.length === 0 || plainLost.includes(null) ? null : plainLost.reduce<number>((sum, n) => sum + n!, 0);
  return [
    figure('events/s delivered, gzip off', num(data.eventsPerSec), 'events/s', '>= 400,000 events/s', (v) => v >= 400_000),
    figure('events/s delivered, gzip on', num(data.eventsPerSecGzip), 'events/s'),
    figure('latency creation → object written, p50', num(data.latencyP50Ms), 'ms'),
    figure(
      'latency creation → object written, p99',
      num(data.latencyP99Ms),
      'ms',
      p99Limit === null ? null : `<= ${p99Limit} ms (upload interval + 1 s)`,
      (v) => p99Limit !== null && v <= p99Limit,
    ),
    figure('peak RSS', num(data.peakRssMb), 'MB', '< 1024 MB', (v) => v < 1024),
    figure('events lost, gzip off', lost, 'events'),
  ];
}

/** scale.json (bench/scale/run.ts): per-count figures and `targets`. */
function scaleFigures(data: unknown): SummaryFigure[] {
  if (!isObject(data)) throw new Error('expected an object');
  const out: SummaryFigure[] = [];
  const bytes = isObject(data.bytesPerIdleBuffer) ? data.bytesPerIdleBuffer : {};
  for (const [n, v] of Object.entries(bytes)) out.push(figure(`heap per idle buffer, ${Number(n).toLocaleString('en-US')} buffers`, num(v), 'bytes'));
  const targets = isObject(data.targets) ? data.targets : {};
  const idle = isObject(targets.idleBuffers) ? targets.idleBuffers : {};
  out.push(figure('1,000,000 idle buffers (with their config and subscription)', num(idle.mb), 'MiB', '< 1024 MiB', (v) => v < 1024));
  const runs = Array.isArray(data.pipeline) ? data.pipeline.filter(isObject) : [];
  for (const r of runs) {
    const jobs = Number(r.jobs).toLocaleString('en-US');
    if (r.ok === true) {
      out.push(figure(`pipeline events/s, ${jobs} jobs`, num(r.eventsPerSec), 'events/s'));
      out.push(figure(`pipeline CPU per event, ${jobs} jobs`, num(r.cpuUsPerEvent), 'µs'));
    } else {
      const why = typeof r.skipped === 'string' ? `not run: ${r.skipped}` : `failed: ${typeof r.error === 'string' ? r.error : 'unknown'}`;
      out.push(figure(`pipeline, ${jobs} jobs`, why, ''));
    }
  }
  const cost = isObject(targets.perEventCost) ? targets.perEventCost : {};
  out.push(figure('CPU per event, 100,000 jobs vs 1,000 jobs', num(cost.cpuRatio), 'x', '<= 1.2x', (v) => v <= 1.2));
  out.push(figure('wall time per event, 100,000 jobs vs 1,000 jobs', num(cost.wallRatio), 'x'));
  // The hot set (every job's buffer in place, traffic on 1,000 jobs): absent in older results.
  const hot = isObject(targets.perEventCostHotSet) ? targets.perEventCostHotSet : null;
  if (hot !== null) {
    const to = Number(hot.toJobs).toLocaleString('en-US');
    out.push(figure(`CPU per event, ${to} buffers vs 1,000, traffic on 1,000 jobs`, num(hot.cpuRatio), 'x', '<= 1.2x', (v) => v <= 1.2));
  }
  return out;
}

/** nats.json (bench/nats/run.ts): rows of { backend, eventsPerSec, lost }, r1VsEmbedded, r3VsEmbedded. */
function natsFigures(data: unknown): SummaryFigure[] {
  if (!isObject(data)) throw new Error('expected an object');
  const rows = Array.isArray(data.rows) ? data.rows.filter(isObject) : [];
  const out = rows.map((r) => figure(`events/s, ${String(r.backend)}`, num(r.eventsPerSec), 'events/s'));
  out.push(figure('NATS R1 vs embedded', num(data.r1VsEmbedded), 'x', '>= 0.5x', (v) => v >= 0.5));
  out.push(figure('NATS R3 vs embedded', num(data.r3VsEmbedded), 'x'));
  out.push(figure('events lost, all runs', rows.reduce((sum, r) => sum + (num(r.lost) ?? 0), 0), 'events'));
  return out;
}

const EXTRACTORS: Record<BenchName, (data: unknown) => SummaryFigure[]> = {
  nats: natsFigures,
  transport: transportFigures,
  actors: actorsFigures,
  codec: codecFigures,
  pipeline: pipelineFigures,
  scale: scaleFigures,
};

/** The headline figures of a bench's results (its JSON, parsed); throws on a shape it does not know. */
export function benchFigures(name: BenchName, data: unknown): SummaryFigure[] {
  return EXTRACTORS[name](data);
}

// --- markdown -------------------------------------------------------------------------------

function formatValue(f: SummaryFigure): string {
  if (f.value === null) return 'n/a';
  if (typeof f.value === 'string') return f.value;
  const v = f.value;
  const digits = f.unit === 'x' ? 2 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  const text = v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: f.unit === 'x' ? 2 : 0 });
  if (f.unit === 'x') return `${text}x`;
  if (f.unit === '%') return `${text}%`;
  return f.unit === '' ? text : `${text} ${f.unit}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function formatMarkdown(summary: Summary): string {
  const lines = [
    `# Benchmarks${summary.quick ? ' (--quick)' : ''}`,
    '',
    `${summary.generatedAt}, Node ${summary.node}, ${summary.cpu.count} × ${summary.cpu.model}. ` +
      `Targets: ${summary.targets.met} met, ${summary.targets.missed} missed` +
      (summary.targets.notMeasured > 0 ? `, ${summary.targets.notMeasured} not measured` : '') +
      '.',
    '',
    '| bench | figure | value | target | met |',
    '|---|---|---|---|---|',
  ];
  for (const [name, bench] of Object.entries(summary.benches)) {
    if (bench.figures.length === 0) {
      lines.push(`| ${name} | — | ${cell(`${bench.status}: ${bench.note ?? ''}`)} | | |`);
      continue;
    }
    for (const f of bench.figures) {
      const met = f.target === null ? '' : f.met === null ? 'not measured' : f.met ? 'yes' : '**no**';
      lines.push(`| ${name} | ${cell(f.figure)} | ${cell(formatValue(f))} | ${cell(f.target ?? '')} | ${met} |`);
    }
    if (bench.status !== 'ok' || bench.note !== undefined) lines.push(`| ${name} | (run) | ${cell(`${bench.status}${bench.note === undefined ? '' : `: ${bench.note}`}`)} | | |`);
  }
  lines.push('');
  const files = Object.entries(summary.benches)
    .map(([name, b]) => `${name}: ${b.file ?? 'none'}${b.seconds === null ? '' : ` (${b.seconds} s)`}`)
    .join('; ');
  lines.push(`Results files (bench/results/): ${files}.`, '');
  return lines.join('\n');
}
