/**
 * No head-of-line blocking: one job's HTTP destination (a real local server) answers 503 for 10 s;
 * the other job keeps delivering meanwhile; the failing job's events arrive after it recovers;
 * nothing is lost. Also: upload objects respect the three upload limits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { linesOf, readObjects } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'seatbelt-hol-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function event(zone: number, i: number): Record<string, unknown> {
  return { ZoneID: zone, RayID: `ray-${zone}-${i}`, EdgeStartTimestamp: 1_731_600_000_000_000_000 + i, EdgeResponseStatus: 200, ClientIP: '192.0.2.1' };
}

describe('a failing destination backs up only its own job', () => {
  it('keeps other jobs delivering while one HTTP destination answers 503 for 10 s, then catches up', async () => {
    let down = true;
    const received: string[] = [];
    let refusals = 0;
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (down) {
          refusals++;
          res.writeHead(503, { 'retry-after': '1' }).end('down');
          return;
        }
        const body = Buffer.concat(chunks);
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
        for (const line of text.split('\n')) if (line) received.push((JSON.parse(line) as { RayID: string }).RayID);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`;
    const pipeline = createPipeline({
      config: {
        jobs: [
          { id: 'healthy', dataset: 'http_requests', zones: [1], output_options: { field_names: ['RayID'] }, compression: 'none', max_upload_interval_seconds: 1, destination: { type: 'object-store', directory: dir } },
          { id: 'failing', dataset: 'http_requests', zones: [2], output_options: { field_names: ['RayID'] }, max_upload_interval_seconds: 1, destination: { type: 'http', url } },
        ],
      },
      supervisor: { onRootFailure: 'emit', log: { level: 'silent' } },
    });
    await pipeline.start();
    try {
      const started = Date.now();
      let i = 0;
      // 5 s of traffic to both jobs while the HTTP destination is down.
      while (Date.now() - started < 5000) {
        await pipeline.ingest('http_requests', [event(1, i), event(2, i)]);
        i++;
        await sleep(10);
      }
      // Objects seal after 1 s; Logreceiver may hold a batch 0.5 s more.
      await sleep(3000);
      const healthyMidway = pipeline.ledger.entry('healthy')!;
      const failingMidway = pipeline.ledger.entry('failing')!;
      // The healthy job delivered (nearly) everything while the other was refused.
      expect(healthyMidway.delivered).toBeGreaterThan(i * 0.8);
      expect(failingMidway.delivered).toBe(0);
      expect(refusals).toBeGreaterThan(0);
      // The destination recovers 10 s after the start.
      await sleep(Math.max(0, 10_000 - (Date.now() - started)));
      down = false;
      const clean = await pipeline.stop();
      expect(clean).toBe(true);
      const failing = pipeline.ledger.entry('failing')!;
      expect(failing.delivered).toBe(i);
      expect(failing.inFlight).toBe(0);
      expect(new Set(received)).toEqual(new Set(Array.from({ length: i }, (_, k) => `ray-2-${k}`)));
      const healthy = readObjects(dir).filter((o) => o.job === 'healthy').flatMap(linesOf);
      expect(healthy.length).toBe(i);
      expect(pipeline.ledger.balanced()).toBe(true);
    } finally {
      if (pipeline.inFlight() > 0) await pipeline.stop();
      await new Promise((r) => server.close(r));
    }
  });
});
