/**
 * The drills on the real pipeline, scaled so the suite stays fast: 4,000 zones of which 100 have
 * jobs (the incident's 40x), 20,000 events a second, Buftee's maxBuffers at 1,000 (ten times the
 * steady state) so a blank config would take it far past its cap without the seatbelts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCutDrill } from '../../src/drill/cut.js';
import { runFailOpenDrill } from '../../src/drill/fail-open.js';
import { createPipeline } from '../../src/actors/pipeline.js';
import { defaultJobs } from '../../src/actors/defaults.js';
import { countLedger } from '../../src/drill/sampler.js';
import type { DrillSummary } from '../../src/drill/types.js';

const BIN = fileURLToPath(new URL('../../bin/seatbelt.js', import.meta.url));
const SCALE = { zones: 4000, jobs: 100, steadySeconds: 4, blankSeconds: 5, durationSeconds: 14, maxBuffers: 1000, ratePerSecond: 20_000 };

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('seatbelt drill fail-open', () => {
  it('with default limits: configured jobs lose nothing, buffers stay under the cap, stats() answers, no restart, back to steady state within 5 s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-drill-'));
    const report = join(dir, 'report.html');
    try {
      const { code, stdout, stderr } = await runCli([
        'drill', 'fail-open', '--json', '--report', report,
        '--zones', String(SCALE.zones), '--jobs', String(SCALE.jobs), '--steady-seconds', String(SCALE.steadySeconds),
        '--blank-seconds', String(SCALE.blankSeconds), '--duration', String(SCALE.durationSeconds),
        '--max-buffers', String(SCALE.maxBuffers), '--rate', String(SCALE.ratePerSecond),
      ]);
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as DrillSummary;
      const context = { code, stderr: stderr.slice(-3000), summary: { ...summary, seconds: undefined } };
      expect(code, JSON.stringify(context)).toBe(0);
      // Every field the issue names is there.
      for (const key of ['configuredIngested', 'configuredDelivered', 'configuredLost', 'maxBuffers', 'bufferLimit', 'recoverySeconds', 'restarts', 'statsP99Ms', 'peakRssMb', 'droppedByReason', 'ledgerBalanced']) {
        expect(summary, key).toHaveProperty(key);
      }
      expect(summary.configuredIngested).toBeGreaterThan(10_000);
      expect(summary.configuredLost).toBe(0);
      expect(summary.configuredDelivered).toBe(summary.configuredIngested);
      expect(summary.maxBuffers).toBeLessThanOrEqual(SCALE.maxBuffers);
      expect(summary.bufferLimit).toBe(SCALE.maxBuffers);
      expect(summary.statsP99Ms).toBeLessThan(100);
      expect(summary.restarts).toBe(0);
      expect(summary.recoverySeconds).not.toBeNull();
      expect(summary.recoverySeconds!).toBeLessThanOrEqual(5);
      expect(summary.ledgerBalanced).toBe(true);
      // The seatbelts engaged: the fail-open episode, the trip, and refusals or shedding counted.
      expect(summary.alerts.fail_open).toBeGreaterThanOrEqual(1);
      expect(summary.alerts.buftee_pressure).toBeGreaterThanOrEqual(1);
      expect((summary.droppedByReason.shed ?? 0) + (summary.droppedByReason.buffer_limit ?? 0)).toBeGreaterThan(0);
      expect(summary.seconds.some((s) => s.phase === 'blank' && s.mode.startsWith('fail-open'))).toBe(true);
      // The owner answered the trip by falling back to the last known good for the episode.
      expect(summary.seconds.some((s) => s.phase === 'blank' && s.mode === 'fail-open+fallback')).toBe(true);
      expect(summary.seconds.filter((s) => s.phase === 'after').at(-1)?.mode).toBe('configured');
      // The alert lines are error log lines with their stable name.
      expect(stderr).toMatch(/"level":50.*"alert":"buftee_pressure"/);
      expect(stderr).toContain('configured jobs: ingested');
      // The report: written, self-contained, carrying this run's data.
      expect(existsSync(report)).toBe(true);
      const html = readFileSync(report, 'utf8');
      expect(html).toContain('id="drill-data"');
      expect(html).toContain(String(summary.configuredIngested));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--unbuckled grows buffers past the cap the seatbelts hold, and is stopped by its safety cap', async () => {
    const summary = await runFailOpenDrill({ ...SCALE, unbuckled: true, safety: { buffers: 1500 } });
    expect(summary.unbuckled).toBe(true);
    expect(summary.bufferLimit).toBeNull();
    expect(summary.maxBuffers).toBeGreaterThan(SCALE.maxBuffers);
    expect(summary.stoppedBy).toMatch(/^safety cap: \d+ buffers > 1500$/);
    expect(summary.alerts.buftee_pressure ?? 0).toBe(0);
    // Stopped early, drained: what the unbuckled Buftee held for no reader is counted, not lost.
    expect(summary.ledgerBalanced).toBe(true);
    expect(summary.configuredLost).toBe(0);
  });
});

describe('seatbelt drill cut', () => {
  it('kills every stage under load: nothing in a ring is lost; what a crashed stage held is counted crashed, to the event', async () => {
    const cuts: string[] = [];
    // Kills at each worker's next turn (the default): every record handled exactly once across them.
    const summary = await runCutDrill({ zones: SCALE.zones, jobs: SCALE.jobs, ratePerSecond: SCALE.ratePerSecond, durationSeconds: 16, kills: 7, onCut: (stage) => cuts.push(stage) });
    const context = JSON.stringify({ ...summary, seconds: undefined });
    for (const stage of ['source', 'logfwdr', 'logreceiver', 'buftee', 'logpush']) expect(cuts, context).toContain(stage);
    expect(summary.restarts, context).toBe(7);
    expect(summary.ledgerBalanced, context).toBe(true);
    // The configured jobs lost nothing but what was counted crashed.
    expect(Object.keys(summary.configuredDroppedByReason).filter((r) => r !== 'crashed'), context).toEqual([]);
    expect(summary.configuredLost, context).toBe(summary.configuredDroppedByReason.crashed ?? 0);
    expect(summary.configuredIngested - summary.configuredDelivered - summary.configuredLost, context).toBe(0);
    // Every event the ledger calls delivered is a line in an object, and no more; a line twice only
    // from a Logpush that died between writing an object and its ack (delivery is at-least-once).
    expect(summary.objectDistinctLines, context).toBe(summary.configuredDelivered);
    expect(summary.objectLines, context).toBeGreaterThanOrEqual(summary.objectDistinctLines);
    expect(summary.seconds.length, context).toBe(16);
    expect(summary.statsP99Ms, context).toBeGreaterThan(0);
    for (const cut of Object.values(summary.cuts!)) for (const ms of cut.recoverMs) expect(ms).toBeGreaterThan(0);
  });
});

describe('a config guard episode with last-known-good', () => {
  it('blank, then malformed, then a valid change: configured jobs lose nothing, and the change applies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seatbelt-episode-'));
    const jobs = defaultJobs({ zones: 2000, jobs: 50, directory: dir, compression: 'none' }).map((j) => ({ ...j, max_upload_interval_seconds: 1 }));
    // Ten more jobs on busy zones (2..11; the first jobs' zones are 1, 41, 81, ...).
    const extra = jobs.slice(0, 10).map((j, i) => ({ ...j, id: `late-${i}`, zones: [2 + i] }));
    let phase: 'good' | 'blank' | 'malformed' | 'changed' = 'good';
    const pipeline = createPipeline({
      config: {
        fn: () => (phase === 'good' ? { jobs } : phase === 'blank' ? { jobs: [] } : phase === 'malformed' ? { jobs: [{ id: '../etc', dataset: 'http_requests' }] } : { jobs: [...jobs, ...extra] }),
        intervalMs: 100,
      },
      generator: { zones: 2000, seed: 7, ratePerSecond: 10_000 },
      maxJobs: 200,
      supervisor: { log: { level: 'silent' } },
    });
    const alerts: string[] = [];
    pipeline.on('alert', (a) => alerts.push(a.alert));
    try {
      await pipeline.start();
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      await sleep(1500);
      phase = 'blank';
      await sleep(1500);
      expect(pipeline.guard.generation).toBe(1);
      phase = 'malformed';
      await sleep(1500);
      expect(pipeline.guard.generation).toBe(1);
      phase = 'changed';
      const deadline = Date.now() + 5000;
      while (pipeline.guard.generation < 2 && Date.now() < deadline) await sleep(50);
      expect(pipeline.guard.generation).toBe(2);
      await sleep(1500);
      expect(await pipeline.stop()).toBe(true);
      const counts = countLedger(pipeline);
      expect(counts.configuredIngested).toBeGreaterThan(1000);
      expect(counts.configuredLost).toBe(0);
      expect(counts.configuredDelivered).toBe(counts.configuredIngested);
      expect(pipeline.ledger.balanced()).toBe(true);
      expect(alerts.filter((a) => a === 'config_refused')).toHaveLength(2);
      expect(alerts).not.toContain('fail_open');
      // The jobs the valid change added took events too.
      for (const job of extra) expect(pipeline.ledger.entry(job.id)?.ingested ?? 0, job.id).toBeGreaterThan(0);
    } finally {
      await pipeline.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
