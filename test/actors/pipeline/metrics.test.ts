/**
 * The pipeline's /metrics: a real pipeline fed a known set of events by ingest() (no generator, so
 * nothing moves once they are delivered), scraped over HTTP. The text must parse as Prometheus
 * text (strictly: every line, every sample with a TYPE), its ledger counters must equal stats()
 * per job and per reason, the job-label guard must sum the jobs beyond the limit under "_other",
 * and the stages, Buftee, config generation and mode, and alerts must show. A scrape asks the
 * workers once, and neither a stopped tree nor a hung or failing stats() fails it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DROP_REASONS, type JobConfig } from '../../../src/actors/job.js';
import type { LedgerEntry } from '../../../src/actors/ledger.js';
import { createPipelineMetrics, PIPELINE_ALERT_NAMES } from '../../../src/actors/pipeline-metrics.js';
import { createPipeline, type PipelineAlert } from '../../../src/actors/pipeline.js';
import { serveMetrics } from '../../../src/runtime/metrics.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-metrics-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = { onRootFailure: 'emit' as const, log: { level: 'silent' as const } };

// ---------------------------------------------------------------------------------------------
// A strict parser of the Prometheus text format (0.0.4).

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type: string;
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`);
  return Number(text);
}

/** The family a sample name belongs to, given the families typed so far. */
function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const family = families.get(name.slice(0, -suffix.length));
    if (family !== undefined && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
  }
  return undefined;
}

function parsePrometheus(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) {
    // The format ignores empty lines (prom-client ends each family with one).
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) throw new Error(`a comment that is neither HELP nor TYPE: ${line}`);
      const [, keyword, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      let family = families.get(name);
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        if (family?.type !== undefined && family.type !== '') throw new Error(`second TYPE for ${name}`);
        if (family !== undefined && family.samples.length > 0) throw new Error(`TYPE after samples of ${name}`);
        if (family === undefined) families.set(name, (family = { name, type: rest, help: undefined, samples: [] }));
        else family.type = rest;
      } else {
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP: ${line}`);
        if (family?.help !== undefined) throw new Error(`second HELP for ${name}`);
        const help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
        if (family === undefined) families.set(name, { name, type: '', help, samples: [] });
        else family.help = help;
      }
      continue;
    }
    // name{label="value",...} value [timestamp]
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    if (!METRIC_NAME.test(name)) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0) throw new Error(`bad labels in: ${line}`);
        const label = line.slice(i, eq);
        if (!LABEL_NAME.test(label)) throw new Error(`bad label name ${JSON.stringify(label)} in: ${line}`);
        if (label in labels) throw new Error(`label ${label} twice in: ${line}`);
        if (line[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
        let value = '';
        let j = eq + 2;
        for (;;) {
          const c = line[j];
          if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[j + 1];
            if (e === '\\') value += '\\';
            else if (e === '"') value += '"';
            else if (e === 'n') value += '\n';
            else throw new Error(`bad escape in label value in: ${line}`);
            j += 2;
          } else {
            value += c;
            j++;
          }
        }
        labels[label] = value;
        i = j + 1;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') throw new Error(`expected , or } in: ${line}`);
      }
      i++;
    }
    if (line[i] !== ' ') throw new Error(`expected a space before the value in: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length < 1 || parts.length > 2) throw new Error(`expected a value and an optional timestamp in: ${line}`);
    const value = parseValue(parts[0]!, line);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`bad timestamp in: ${line}`);
    const family = familyOf(name, families);
    if (family === undefined || family.type === '') throw new Error(`sample of ${name} without a TYPE: ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`series twice: ${line}`);
    seen.add(key);
    family.samples.push({ name, labels, value });
  }
  for (const family of families.values()) if (family.type === '') throw new Error(`HELP without TYPE for ${family.name}`);
  return families;
}

/** The value of the one sample of `name` whose labels are exactly `labels`; undefined if none. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families);
  const want = JSON.stringify(Object.entries(labels).sort());
  return family?.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

function samplesOf(families: Map<string, Family>, name: string): Sample[] {
  return families.get(name)?.samples ?? [];
}

describe('the strict Prometheus text parser', () => {
  it('reads HELP, TYPE, labels with escapes and special values, and refuses what is not the format', () => {
    const f = parsePrometheus('# HELP x_total A \\\\ help\\nline.\n# TYPE x_total counter\n\nx_total{a="q\\"uo\\\\te\\n",b=""} 3\nx_total 1e3 1700000000000\n# TYPE y gauge\ny NaN\ny{z="1"} +Inf\n');
    expect(f.get('x_total')?.help).toBe('A \\ help\nline.');
    expect(value(f, 'x_total', { a: 'q"uo\\te\n', b: '' })).toBe(3);
    expect(value(f, 'x_total')).toBe(1000);
    expect(value(f, 'y', { z: '1' })).toBe(Infinity);
    for (const bad of ['x 1\n', '# TYPE x counter\nx{a=b} 1\n', '# TYPE x counter\nx 1\nx 2\n', '# TYPE x counter\nx one\n', '# TYPE x counter\nx 1', '# hello\n', '# TYPE x counter\nx{a="1"}1\n', '# TYPE x counter\nx{a="\\t"} 1\n', '# TYPE x counter\n \n', '# TYPE x counter\nx 1 \n']) {
      expect(() => parsePrometheus(bad), bad).toThrow();
    }
  });
});

// ---------------------------------------------------------------------------------------------

function event(zone: number, i: number, uri = '/'): Record<string, unknown> {
  return { ZoneID: zone, RayID: `ray-${zone}-${i}`, EdgeStartTimestamp: 1_731_600_000_000_000_000 + i, ClientRequestURI: uri };
}

function job(id: string, zones: number[], directory: string, extra: Partial<JobConfig> = {}): JobConfig {
  return {
    id,
    dataset: 'http_requests',
    zones,
    output_options: { field_names: ['RayID', 'ZoneID', 'ClientRequestURI'] },
    compression: 'none',
    max_upload_interval_seconds: 1,
    destination: { type: 'object-store', directory },
    ...extra,
  };
}

function sumEntries(entries: LedgerEntry[]): LedgerEntry {
  const dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as LedgerEntry['dropped'];
  const out: LedgerEntry = { ingested: 0, delivered: 0, dropped, inFlight: 0 };
  for (const e of entries) {
    out.ingested += e.ingested;
    out.delivered += e.delivered;
    out.inFlight += e.inFlight;
    for (const r of DROP_REASONS) out.dropped[r] += e.dropped[r];
  }
  return out;
}

/** The ledger series of `job` in a scrape, as a LedgerEntry (undefined fields when a series is missing). */
function ledgerOf(f: Map<string, Family>, job: string): { entry: LedgerEntry; droppedTotal: number | undefined } {
  const dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, value(f, 'seatbelt_ledger_dropped_events_total', { job, reason })])) as LedgerEntry['dropped'];
  return {
    entry: {
      ingested: value(f, 'seatbelt_ledger_events_total', { job, outcome: 'ingested' })!,
      delivered: value(f, 'seatbelt_ledger_events_total', { job, outcome: 'delivered' })!,
      dropped,
      inFlight: value(f, 'seatbelt_ledger_in_flight_events', { job })!,
    },
    droppedTotal: value(f, 'seatbelt_ledger_events_total', { job, outcome: 'dropped' }),
  };
}

function expectLedgerSeries(f: Map<string, Family>, job: string, want: LedgerEntry): void {
  const { entry, droppedTotal } = ledgerOf(f, job);
  expect(entry, `ledger series of job ${job}`).toEqual(want);
  expect(droppedTotal, `dropped total of job ${job}`).toBe(DROP_REASONS.reduce((a, r) => a + want.dropped[r], 0));
}

describe('pipeline /metrics', () => {
  it('parses as Prometheus text and its ledger counters match stats()', async () => {
    const dir = join(root, 'objects');
    const v1 = [
      job('plain', [1], dir),
      job('filtered', [2], dir, { filter: { where: { key: 'ClientRequestURI', operator: 'startsWith', value: '/keep' } } }),
      job('sampled', [3], dir, { output_options: { field_names: ['RayID', 'ZoneID'], sample_rate: 0.5 } }),
    ];
    const v2 = [...v1, job('late', [4], dir)];
    // The provider's answers: v1 at start, then v2 (generation 2), then a refused one (an alert),
    // then v2 again and again (unchanged: no more alerts, nothing moves).
    let calls = 0;
    const provide = (): unknown => {
      calls++;
      return calls === 1 ? { jobs: v1 } : calls === 3 ? { jobs: 'not a list' } : { jobs: v2 };
    };
    const pipeline = createPipeline({ config: { fn: provide, intervalMs: 150 }, supervisor: quiet, log: { level: 'silent' } });
    const alerts: PipelineAlert[] = [];
    pipeline.on('alert', (a) => alerts.push(a));
    const generations: number[] = [];
    pipeline.on('config', (g) => generations.push(g));
    let server: Awaited<ReturnType<typeof serveMetrics>> | null = null;
    let stopped = false;
    try {
      await pipeline.start();
      const registry = createPipelineMetrics(pipeline);
      const limited = createPipelineMetrics(pipeline, { maxJobLabels: 1, statsTimeoutMs: 200 });
      server = await serveMetrics(registry, 0);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

      let deadline = Date.now() + 5000;
      while (!(calls >= 4 && generations.includes(2) && alerts.length >= 1) && Date.now() < deadline) await sleep(50);
      expect(generations).toContain(2);
      expect(alerts.map((a) => a.alert)).toEqual(['config_refused']);

      // A known set of events, then nothing: every job's events end delivered or dropped.
      const results = [
        await pipeline.ingest('http_requests', Array.from({ length: 50 }, (_, i) => event(1, i))),
        await pipeline.ingest('http_requests', Array.from({ length: 40 }, (_, i) => event(2, i, i % 2 === 0 ? '/keep/me' : '/drop/me'))),
        await pipeline.ingest('http_requests', Array.from({ length: 40 }, (_, i) => event(3, i))),
        await pipeline.ingest('http_requests', Array.from({ length: 30 }, (_, i) => event(4, i))),
        await pipeline.ingest('http_requests', [...Array.from({ length: 5 }, (_, i) => event(99, i)), { RayID: 'no-zone' }, 'not an object', { ZoneID: -3 }]),
        await pipeline.ingest('dns_logs', [event(1, 1000), event(1, 1001)]),
      ];
      expect(results.map((r) => r.refused)).toEqual([0, 0, 0, 0, 3, 2]);
      // ingest() resolves once Logfwdr has the events; it counts them ingested when it handles them.
      const sent = 50 + 40 + 40 + 30 + 5 + 3 + 2;
      const settled = (): boolean => {
        const totals = pipeline.ledger.totals();
        return totals.ingested === sent && totals.inFlight === 0;
      };
      deadline = Date.now() + 10_000;
      while (!settled() && Date.now() < deadline) await sleep(50);
      expect(pipeline.ledger.totals()).toMatchObject({ ingested: sent, inFlight: 0 });

      // One real HTTP scrape, asking the workers once.
      const statsCalls = vi.spyOn(pipeline.tree, 'stats');
      const response = await fetch(url);
      expect(statsCalls).toHaveBeenCalledTimes(1);
      statsCalls.mockRestore();
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      const text = await response.text();
      const f = parsePrometheus(text);
      const stats = await pipeline.stats();

      // The ledger: every slot equal to stats(), per job, per outcome, per reason.
      expect(Object.keys(stats.ledger).sort()).toEqual(['-', 'filtered', 'late', 'plain', 'sampled']);
      for (const [id, entry] of Object.entries(stats.ledger)) expectLedgerSeries(f, id, entry);
      expectLedgerSeries(f, '_all', stats.totals);
      expectLedgerSeries(f, '_other', sumEntries([]));
      expect(new Set(samplesOf(f, 'seatbelt_ledger_events_total').map((s) => s.labels.job))).toEqual(new Set(['-', 'plain', 'filtered', 'sampled', 'late', '_other', '_all']));
      // ...and what they are, so an empty ledger does not pass for a matching one.
      expect(ledgerOf(f, 'plain').entry.delivered).toBe(50);
      expect(ledgerOf(f, 'filtered').entry.dropped.filtered).toBe(20);
      expect(ledgerOf(f, 'filtered').entry.delivered).toBe(20);
      expect(ledgerOf(f, 'sampled').entry.dropped.sampled).toBe(20);
      expect(ledgerOf(f, 'late').entry.delivered).toBe(30);
      expect(ledgerOf(f, '-').entry.dropped.malformed).toBe(3);
      expect(ledgerOf(f, '-').entry.dropped.unconfigured).toBe(7);
      expect(ledgerOf(f, '_all').entry.ingested).toBe(sent);

      // The stages' counts, from the same stats() fields.
      const stage = (id: string): Record<string, unknown> => stats.stages[id] ?? {};
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logfwdr', kind: 'forwarded' })).toBe(160);
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logfwdr', kind: 'forwarded' })).toBe(stage('logfwdr').forwarded);
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logfwdr', kind: 'unconfigured' })).toBe(5);
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logfwdr', kind: 'shed' })).toBe(0);
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logreceiver', kind: 'received' })).toBe(160);
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logpush', kind: 'received' })).toBe(160);
      expect(value(f, 'seatbelt_stage_events_total', { stage: 'logpush', kind: 'delivered' })).toBe(stats.totals.delivered);
      expect(value(f, 'seatbelt_stage_batches_total', { stage: 'buftee', kind: 'appended' })).toBe(stage('buftee').appended);
      expect(value(f, 'seatbelt_stage_batches_total', { stage: 'buftee', kind: 'appended' })).toBeGreaterThan(0);
      expect(value(f, 'seatbelt_stage_batches_total', { stage: 'logreceiver', kind: 'sent' })).toBe(stage('logreceiver').batchesOut);
      expect(value(f, 'seatbelt_stage_batches_total', { stage: 'logpush', kind: 'received' })).toBe(stage('logpush').batches);
      expect(value(f, 'seatbelt_logpush_objects_total', { outcome: 'sealed' })).toBeGreaterThanOrEqual(4);
      expect(value(f, 'seatbelt_logpush_objects_total', { outcome: 'failed' })).toBe(0);
      expect(value(f, 'seatbelt_logpush_upload_retries_total')).toBe(0);
      for (const s of [...samplesOf(f, 'seatbelt_stage_events_total'), ...samplesOf(f, 'seatbelt_stage_batches_total')]) {
        expect(['source', 'logfwdr', 'logreceiver', 'buftee', 'logpush']).toContain(s.labels.stage);
      }

      // Buftee, from shared memory.
      expect(value(f, 'seatbelt_buftee_pressure_level')).toBe(0);
      expect(value(f, 'seatbelt_buftee_buffers')).toBe(stats.pressure.buffers);
      expect(value(f, 'seatbelt_buftee_bytes')).toBe(stats.pressure.bytes);
      expect(value(f, 'seatbelt_buftee_unconfigured_buffers')).toBe(0);
      expect(value(f, 'seatbelt_buftee_pressure_trips_total')).toBe(stats.pressure.trips);
      expect(f.get('seatbelt_buftee_pressure_trips_total')?.type).toBe('counter');

      // The config in force and the alerts.
      expect(value(f, 'seatbelt_config_generation')).toBe(2);
      expect(stats.generation).toBe(2);
      expect(value(f, 'seatbelt_config_mode', { mode: stats.mode })).toBe(1);
      expect(samplesOf(f, 'seatbelt_config_mode').reduce((a, s) => a + s.value, 0)).toBe(1);
      expect(samplesOf(f, 'seatbelt_config_mode').length).toBe(4);
      expect(stats.alerts).toEqual({ config_refused: 1 });
      for (const alert of PIPELINE_ALERT_NAMES) expect(value(f, 'seatbelt_alerts_total', { alert }), alert).toBe(stats.alerts[alert] ?? 0);

      // The runtime's metrics ride along, not duplicated.
      expect(value(f, 'seatbelt_actor_up', { actor: 'logpush' })).toBe(1);
      expect(value(f, 'seatbelt_actor_restarts_total', { actor: 'logpush', cause: 'error' })).toBeUndefined();
      expect(f.get('seatbelt_actor_mailbox_bytes')?.type).toBe('gauge');
      expect(f.get('seatbelt_main_event_loop_lag_seconds')?.type).toBe('gauge');
      for (const family of f.values()) expect(family.name).toMatch(/^seatbelt_/);

      // The job-label guard: one job by name, the rest under "_other", and "_all" for every slot.
      const g = parsePrometheus(await limited.metrics());
      expect(new Set(samplesOf(g, 'seatbelt_ledger_events_total').map((s) => s.labels.job))).toEqual(new Set(['-', 'plain', '_other', '_all']));
      expect(new Set(samplesOf(g, 'seatbelt_ledger_dropped_events_total').map((s) => s.labels.job))).toEqual(new Set(['-', 'plain', '_other', '_all']));
      expectLedgerSeries(g, 'plain', stats.ledger.plain!);
      expectLedgerSeries(g, '-', stats.ledger['-']!);
      expectLedgerSeries(g, '_other', sumEntries([stats.ledger.filtered!, stats.ledger.sampled!, stats.ledger.late!]));
      expectLedgerSeries(g, '_all', stats.totals);
      expect(ledgerOf(g, '_other').entry.ingested).toBe(110);

      // A hung, then a failing, stats() costs the scrape its stage series, never the scrape.
      const hung = vi.spyOn(pipeline.tree, 'stats').mockImplementation(() => new Promise(() => {}));
      let started = performance.now();
      const h = parsePrometheus(await limited.metrics());
      expect(performance.now() - started).toBeLessThan(1500);
      hung.mockRestore();
      expect(samplesOf(h, 'seatbelt_stage_events_total')).toEqual([]);
      expect(value(h, 'seatbelt_actor_up', { actor: 'logpush' })).toBe(0);
      expectLedgerSeries(h, '_all', stats.totals);
      const failing = vi.spyOn(pipeline.tree, 'stats').mockRejectedValue(new Error('no'));
      const r = parsePrometheus(await limited.metrics());
      failing.mockRestore();
      expect(samplesOf(r, 'seatbelt_stage_batches_total')).toEqual([]);
      expect(value(r, 'seatbelt_config_generation')).toBe(2);

      // Stopped: the tree is gone, the scrape still answers with the ledger.
      const tree = pipeline.tree;
      expect(await pipeline.stop()).toBe(true);
      stopped = true;
      started = performance.now();
      const after = await fetch(url);
      expect(after.status).toBe(200);
      const s = parsePrometheus(await after.text());
      expect(performance.now() - started).toBeLessThan(1500);
      expect(samplesOf(s, 'seatbelt_stage_events_total')).toEqual([]);
      for (const id of tree.actorIds()) expect(value(s, 'seatbelt_actor_up', { actor: id }), id).toBe(0);
      expectLedgerSeries(s, '_all', pipeline.ledger.totals());
    } finally {
      if (server !== null) {
        const open = server;
        await new Promise<void>((r) => open.close(() => r()));
      }
      if (!stopped) await pipeline.stop();
    }
  });
});
