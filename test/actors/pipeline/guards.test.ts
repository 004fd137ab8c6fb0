/**
 * The pipeline's guards, end to end: bad input is counted in the ledger and the pipeline keeps
 * serving; objects respect the three upload limits; the config guard refuses a blank, a
 * malformed and a mass-removal config (last known good kept, alert raised) and applies a valid
 * change within one regeneration period.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../../../src/actors/pipeline.js';
import type { JobConfig } from '../../../src/actors/job.js';
import type { PipelineAlert } from '../../../src/actors/pipeline.js';
import { linesOf, readObjects } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'seatbelt-guards-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = { onRootFailure: 'emit' as const, log: { level: 'silent' as const } };

function event(zone: number, i: number, pad = 0): Record<string, unknown> {
  return { ZoneID: zone, RayID: `ray-${zone}-${i}`, EdgeStartTimestamp: 1_731_600_000_000_000_000 + i, ClientRequestURI: 'x'.repeat(pad) };
}

function job(id: string, zones: number[], directory: string, extra: Partial<JobConfig> = {}): JobConfig {
  return { id, dataset: 'http_requests', zones, output_options: { field_names: ['RayID', 'ZoneID', 'ClientRequestURI'] }, compression: 'none', destination: { type: 'object-store', directory }, ...extra };
}

describe('bad input', () => {
  it('counts malformed, oversized and unknown-dataset events in the ledger and keeps serving', async () => {
    const dir = join(root, 'bad');
    const pipeline = createPipeline({ config: { jobs: [job('good', [1], dir)] }, supervisor: quiet });
    await pipeline.start();
    const result = await pipeline.ingest('http_requests', [
      event(1, 0),
      { RayID: 'no-zone' },
      'not an object',
      { ZoneID: -3 },
      event(1, 1, 2 * 1024 * 1024),
      event(1, 2),
    ]);
    expect(result).toEqual({ accepted: 2, refused: 4, reasons: { malformed: 3, oversized: 1 } });
    const unknown = await pipeline.ingest('dns_logs', [event(1, 3)]);
    expect(unknown.reasons).toEqual({ unconfigured: 1 });
    expect(await pipeline.stop()).toBe(true);
    const none = pipeline.ledger.entry('-')!;
    expect(none.dropped.malformed).toBe(3);
    expect(none.dropped.oversized).toBe(1);
    expect(none.dropped.unconfigured).toBe(1);
    expect(pipeline.ledger.entry('good')!.delivered).toBe(2);
    expect(readObjects(dir).flatMap(linesOf).length).toBe(2);
    expect(pipeline.ledger.balanced()).toBe(true);
  });
});

describe('concurrent ingest', () => {
  it('keeps every event when many ingest calls overlap while Logfwdr\'s mailbox is full', async () => {
    const dir = join(root, 'concurrent');
    const pipeline = createPipeline({ config: { jobs: [job('all', [1, 2, 3, 4], dir)] }, supervisor: quiet });
    await pipeline.start();
    const calls = Array.from({ length: 12 }, (_, c) => pipeline.ingest('http_requests', Array.from({ length: 4000 }, (_, i) => event((i % 4) + 1, c * 4000 + i, 200))));
    const results = await Promise.all(calls);
    expect(results.every((r) => r.accepted === 4000 && r.refused === 0)).toBe(true);
    expect(await pipeline.stop()).toBe(true);
    expect(pipeline.ledger.entry('all')!.delivered).toBe(48_000);
    expect(new Set(readObjects(dir).flatMap(linesOf).map((l) => (JSON.parse(l) as { RayID: string }).RayID)).size).toBe(48_000);
  });
});

describe('upload limits', () => {
  it('seals objects by records, by bytes and by interval, never past a limit', async () => {
    const dir = join(root, 'limits');
    const pipeline = createPipeline({
      config: {
        jobs: [
          job('by-records', [1], dir, { max_upload_records: 500 }),
          job('by-bytes', [2], dir, { max_upload_bytes: 5_000_000 }),
          job('by-interval', [3], dir, { max_upload_interval_seconds: 1 }),
        ],
      },
      supervisor: quiet,
    });
    await pipeline.start();
    const batch: Record<string, unknown>[] = [];
    for (let i = 0; i < 3000; i++) batch.push(event(1, i));
    // ~12 MB of lines for the bytes job: at least three objects of at most 5,000,000 bytes.
    for (let i = 0; i < 12_000; i++) batch.push(event(2, i, 1000));
    for (let k = 0; k < batch.length; k += 1000) await pipeline.ingest('http_requests', batch.slice(k, k + 1000));
    for (let i = 0; i < 8; i++) {
      await pipeline.ingest('http_requests', [event(3, i)]);
      await sleep(900);
    }
    expect(await pipeline.stop()).toBe(true);
    const objects = readObjects(dir);
    const of = (id: string) => objects.filter((o) => o.job === id);
    expect(of('by-records').length).toBeGreaterThanOrEqual(6);
    for (const o of of('by-records')) expect(linesOf(o).length).toBeLessThanOrEqual(500);
    expect(of('by-records').flatMap(linesOf).length).toBe(3000);
    expect(of('by-bytes').length).toBeGreaterThanOrEqual(3);
    for (const o of of('by-bytes')) expect(o.bytes).toBeLessThanOrEqual(5_000_000);
    expect(of('by-bytes').flatMap(linesOf).length).toBe(12_000);
    // 8 events over ~7 s with a 1 s interval (Logreceiver may hold each up to 0.5 s): sealed by
    // time, so several objects; never one object for all of them.
    expect(of('by-interval').length).toBeGreaterThanOrEqual(3);
    expect(of('by-interval').flatMap(linesOf).length).toBe(8);
  });
});

describe('the config guard in the running pipeline', () => {
  it('refuses blank, malformed and mass-removal configs, keeps the last known good, and applies a valid change', async () => {
    const dir = join(root, 'guard');
    const file = join(root, 'logfwdr.json');
    const jobs = Array.from({ length: 10 }, (_, i) => job(`job-${i}`, [i + 1], dir));
    writeFileSync(file, JSON.stringify({ jobs }));
    const pipeline: Pipeline = createPipeline({ config: { file, intervalMs: 200 }, supervisor: quiet });
    const alerts: PipelineAlert[] = [];
    pipeline.on('alert', (a) => alerts.push(a));
    await pipeline.start();
    let sent = 0;
    const traffic = async (): Promise<void> => {
      await pipeline.ingest('http_requests', Array.from({ length: 10 }, (_, z) => event(z + 1, sent)));
      sent++;
    };
    await traffic();
    const refusedFor = async (text: string, reason: string): Promise<void> => {
      writeFileSync(file, text);
      const deadline = Date.now() + 5000;
      while (!alerts.some((a) => a.alert === 'config_refused' && a.reason === reason) && Date.now() < deadline) await sleep(50);
      expect(alerts.some((a) => a.alert === 'config_refused' && a.reason === reason)).toBe(true);
      await traffic();
    };
    await refusedFor('', 'blank');
    await refusedFor('{"jobs": [', 'schema');
    await refusedFor(JSON.stringify({ jobs: jobs.slice(0, 1) }), 'mass_removal');
    expect(pipeline.guard.generation).toBe(1);
    const applied = new Promise<number>((resolve) => pipeline.once('config', resolve));
    const started = Date.now();
    writeFileSync(file, JSON.stringify({ jobs: [...jobs, job('job-new', [11], dir)] }));
    expect(await applied).toBe(2);
    expect(Date.now() - started).toBeLessThan(2000);
    await pipeline.ingest('http_requests', [event(11, 0)]);
    expect(await pipeline.stop()).toBe(true);
    for (let i = 0; i < 10; i++) {
      const entry = pipeline.ledger.entry(`job-${i}`)!;
      expect(entry.delivered).toBe(sent);
      expect(entry.inFlight).toBe(0);
    }
    expect(pipeline.ledger.entry('job-new')!.delivered).toBe(1);
  });
});
