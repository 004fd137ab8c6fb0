/**
 * `seatbelt drill fail-open | cut`: the drills, with a table on the terminal while they run,
 * `--json` (one JSON object on stdout; the table goes to stderr) and `--report FILE.html`.
 */

import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runFailOpenDrill } from './fail-open.js';
import { runCutDrill } from './cut.js';
import { renderReport } from './report.js';
import type { DrillSecond, DrillSummary } from './types.js';

const HELP = `usage: seatbelt drill fail-open [options]
       seatbelt drill cut [options]

fail-open: the incident of 2024-11-14 on a compressed clock: steady state, then the config
provider hands out a blank config with Logfwdr on fail-open, then it reverts.
cut: kills stage workers at random under load, each stage at least once.

  --zones N            zones at the synthetic edge (default 40000)
  --jobs N             zones with a push job (default 1000)
  --steady-seconds S   steady state before the blank config (default 10)
  --blank-seconds S    seconds of blank config (default 10)
  --duration S         length of the run (default 40; cut: 30)
  --rate N             events per second (default 20000)
  --max-buffers N      Buftee's maxBuffers (default 100000)
  --unbuckled          fail-open with every Buftee limit off, under a safety cap
  --safety-rss-mb N    unbuckled: stop past this RSS (default 4096)
  --safety-buffers N   unbuckled: stop past this many buffers (default 10 x max-buffers)
  --kills N            cut: workers to kill (default 10; each stage at least once)
  --hard               cut: terminate workers wherever their code is, even inside a record
                       (default: at their next event-loop turn); an interrupted record is then
                       handled again: at least once, its events may be delivered and counted twice
  --nats URL[,URL]     fail-open: Buftee on NATS JetStream at these servers (buffers are subjects)
  --json               print one JSON object on stdout (the table goes to stderr)
  --report FILE.html   write a self-contained HTML report with charts

Exit status: 0 when the seatbelts held (configured jobs lost nothing but what the drill's cuts
took from a crashed Buftee, the ledger balanced, buffers within the limit); 1 otherwise. An
unbuckled run exits 0 when it ran to its end or its safety cap.
`;

export async function drillCommand(argv: string[]): Promise<number> {
  const [which, ...rest] = argv;
  if (which === undefined || which === '--help' || which === '-h' || which === 'help') {
    process.stdout.write(HELP);
    return which === undefined ? 2 : 0;
  }
  if (which !== 'fail-open' && which !== 'cut') {
    process.stderr.write(`seatbelt drill: unknown drill ${JSON.stringify(which)}; known: fail-open, cut\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      zones: { type: 'string' },
      jobs: { type: 'string' },
      'steady-seconds': { type: 'string' },
      'blank-seconds': { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      'max-buffers': { type: 'string' },
      unbuckled: { type: 'boolean', default: false },
      'safety-rss-mb': { type: 'string' },
      'safety-buffers': { type: 'string' },
      kills: { type: 'string' },
      hard: { type: 'boolean', default: false },
      nats: { type: 'string' },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const int = (name: string): number | undefined => {
    const text = (values as Record<string, unknown>)[name] as string | undefined;
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
    return n;
  };
  if (values.report !== undefined && !values.report.endsWith('.html')) throw new RangeError(`--report must name an .html file, got ${JSON.stringify(values.report)}`);
  if (which === 'cut' && values.unbuckled) throw new RangeError('--unbuckled applies to the fail-open drill only');
  if (which === 'cut' && values.nats !== undefined) throw new RangeError('--nats applies to the fail-open drill only');
  const out = values.json ? process.stderr : process.stdout;
  const table = new ProgressTable(out);
  const common = {
    zones: int('zones'),
    jobs: int('jobs'),
    durationSeconds: int('duration'),
    ratePerSecond: int('rate'),
    maxBuffers: int('max-buffers'),
    onSecond: (s: DrillSecond) => table.row(s),
  };
  out.write(`seatbelt drill ${which}${values.unbuckled ? ' --unbuckled (every Buftee limit OFF, under a safety cap)' : ''}\n`);
  table.header();
  const summary =
    which === 'fail-open'
      ? await runFailOpenDrill({
          ...common,
          steadySeconds: int('steady-seconds'),
          blankSeconds: int('blank-seconds'),
          unbuckled: values.unbuckled,
          ...(values.nats === undefined ? {} : { nats: { servers: values.nats.split(',') } }),
          safety: { rssMb: int('safety-rss-mb'), buffers: int('safety-buffers') },
        })
      : await runCutDrill({ ...common, kills: int('kills'), killAt: values.hard ? 'now' : 'turn' });
  if (values.report !== undefined) await writeFile(values.report, renderReport(summary));
  if (values.json) {
    const { seconds, ...rest } = summary;
    process.stdout.write(`${JSON.stringify({ ...rest, seconds })}\n`);
  }
  out.write(`\n${describeSummary(summary)}\n`);
  if (values.report !== undefined) out.write(`report: ${values.report}\n`);
  return verdict(summary) ? 0 : 1;
}

/** Whether the seatbelts held (see HELP's exit status). */
export function verdict(summary: DrillSummary): boolean {
  if (summary.unbuckled) return true;
  const crashed = summary.drill === 'cut' ? (summary.droppedByReason.crashed ?? 0) : 0;
  const withinLimit = summary.bufferLimit === null || summary.maxBuffers <= summary.bufferLimit;
  return summary.ledgerBalanced && withinLimit && summary.configuredLost <= crashed;
}

export function describeSummary(s: DrillSummary): string {
  const lossPct = s.configuredIngested === 0 ? 0 : (100 * s.configuredLost) / s.configuredIngested;
  const drops = Object.entries(s.droppedByReason).map(([r, n]) => `${r}=${n}`).join(' ') || 'none';
  const alerts = Object.entries(s.alerts).map(([a, n]) => `${a}=${n}`).join(' ') || 'none';
  return [
    `configured jobs: ingested ${s.configuredIngested}, delivered ${s.configuredDelivered}, lost ${s.configuredLost} (${lossPct.toFixed(3)}%)`,
    `buffers: most ${s.maxBuffers}, limit ${s.bufferLimit ?? 'OFF'}; recovery ${s.recoverySeconds === null ? 'n/a' : `${s.recoverySeconds} s after the revert`}`,
    `restarts ${s.restarts}; stats() p99 ${s.statsP99Ms} ms; peak RSS ${s.peakRssMb} MB; ledger ${s.ledgerBalanced ? 'balanced' : 'NOT balanced'}`,
    `dropped: ${drops}`,
    `alerts: ${alerts}`,
    ...(s.cuts === undefined
      ? []
      : [`cuts: ${Object.entries(s.cuts).map(([stage, c]) => `${stage} x${c.kills} (back in ${c.recoverMs.map((ms) => Math.round(ms)).join('/')} ms)`).join(', ')}`]),
    ...(s.stoppedBy === null ? [] : [`stopped by ${s.stoppedBy}`]),
    `verdict: ${s.unbuckled ? 'unbuckled run (a demonstration)' : verdict(s) ? 'the seatbelts held' : 'FAILED'}`,
  ].join('\n');
}

class ProgressTable {
  constructor(private readonly out: NodeJS.WritableStream) {}

  header(): void {
    this.out.write(
      `${pad('t', 4)} ${pad('phase', 6)} ${pad('mode', 18)} ${pad('buffers', 8)} ${pad('press', 5)} ${pad('in/s', 7)} ${pad('out/s', 7)} ` +
        `${pad('cfg lost', 8)} ${pad('lag ms', 7)} ${pad('stats ms', 8)} ${pad('rss MB', 6)} ${pad('rst', 3)}  dropped/s\n`,
    );
  }

  row(s: DrillSecond): void {
    const lag = Math.max(0, ...Object.values(s.lagMs));
    const stats = Math.max(0, ...Object.values(s.statsMs));
    const drops = Object.entries(s.droppedPerSec).map(([r, n]) => `${r}=${n}`).join(' ');
    this.out.write(
      `${pad(String(s.t), 4)} ${pad(s.phase, 6)} ${pad(s.mode, 18)} ${pad(String(s.buffers), 8)} ${pad(s.pressure, 5)} ${pad(String(s.ingestedPerSec), 7)} ` +
        `${pad(String(s.deliveredPerSec), 7)} ${pad(String(s.configuredLost), 8)} ${pad(lag.toFixed(0), 7)} ${pad(stats.toFixed(0), 8)} ${pad(String(s.rssMb), 6)} ${pad(String(s.restarts), 3)}  ${drops}\n`,
    );
  }
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}
