/**
 * HttpSource over real sockets on 127.0.0.1 (ephemeral ports): NDJSON and msgpack bodies, every
 * refusal status with its ledger count, backpressure (503 past maxInFlight, and for a slow sink),
 * and a server that keeps serving after each; then ~2,000 events through the real pipeline to an
 * object store, each in its job's objects exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobConfig } from '../../../src/actors/job.js';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { HttpSource, type HttpSourceOptions } from '../../../src/actors/sources/http-source.js';
import { countInto, ledgerRefusals, type IngestResult, type IngestSink } from '../../../src/actors/sources/ingest-sink.js';
import { TcpSource } from '../../../src/actors/sources/tcp-source.js';
import { linesOf, readObjects } from '../pipeline/helpers.js';

const NDJSON = 'application/x-ndjson';
const MSGPACK = 'application/msgpack';

/** Accepts every event it is given (the source has validated them), unless told to wait or fail. */
class FakeSink implements IngestSink {
  readonly calls: { dataset: string; events: unknown[] }[] = [];
  gate: Promise<void> | null = null;
  delayMs = 0;
  fail: Error | null = null;
  /** Calls under way now, and the most at once. */
  active = 0;
  peakActive = 0;

  async ingest(dataset: string, events: readonly unknown[]): Promise<IngestResult> {
    this.calls.push({ dataset, events: [...events] });
    this.peakActive = Math.max(this.peakActive, ++this.active);
    try {
      if (this.gate !== null) await this.gate;
      if (this.delayMs > 0) await sleep(this.delayMs);
      if (this.fail !== null) throw this.fail;
      return { accepted: events.length, refused: 0, reasons: {} };
    } finally {
      this.active--;
    }
  }

  get events(): Record<string, unknown>[] {
    return this.calls.flatMap((c) => c.events as Record<string, unknown>[]);
  }
}

/** A gate the test opens. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds; fails naming `what` after 20 s (a hang, not a timing assertion). */
async function waitFor(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const sources: HttpSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.close()));
});

interface Refusals {
  counts: Record<string, number>;
}

async function start(sink: IngestSink, options: HttpSourceOptions = {}): Promise<{ source: HttpSource; url: string; refusals: Refusals }> {
  const refusals: Refusals = { counts: {} };
  const source = new HttpSource(sink, { onRefused: (reason, n) => countInto(refusals.counts, reason, n), ...options });
  sources.push(source);
  await source.listen();
  return { source, url: `http://127.0.0.1:${source.port}`, refusals };
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function post(url: string, body: Uint8Array | string, contentType: string | null = NDJSON, method = 'POST'): Promise<Answer> {
  const headers: Record<string, string> = contentType === null ? {} : { 'content-type': contentType };
  const res = await fetch(url, { method, headers, body: method === 'GET' ? undefined : body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const ndjson = (events: unknown[]): string => events.map((e) => `${JSON.stringify(e)}\n`).join('');
const zones = (n: number, from = 1): { ZoneID: number; RayID: string }[] => Array.from({ length: n }, (_, i) => ({ ZoneID: from + i, RayID: `ray-${from + i}` }));

describe('HttpSource', () => {
  it('ingests an NDJSON body, refusing bad lines one by one with their reasons', async () => {
    const sink = new FakeSink();
    const { source, url, refusals } = await start(sink);
    const body = `${ndjson(zones(3))}not json\n{"RayID":"no zone"}\n\n${ndjson(zones(2, 10))}`;
    const answer = await post(`${url}/ingest/http_requests`, body, 'application/x-ndjson; charset=utf-8');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.body).toMatchObject({ accepted: 5, refused: 2, reasons: { malformed: 2 } });
    expect(answer.body.messages).toEqual([expect.stringMatching(/^line 4 is not JSON/), 'line 5: ZoneID must be a positive integer, got none']);
    expect(sink.calls.map((c) => c.dataset)).toEqual(['http_requests']);
    expect(sink.events).toEqual([...zones(3), ...zones(2, 10)]);
    expect(refusals.counts).toEqual({ malformed: 2 });
    expect(source.stats()).toMatchObject({ requests: 1, responses: { 200: 1 }, accepted: 5, refused: { malformed: 2 }, bytes: Buffer.byteLength(body), inFlight: 0 });
  });

  it('ingests msgpack bodies: one array of events, or maps back to back', async () => {
    const sink = new FakeSink();
    const { url } = await start(sink);
    const array = await post(`${url}/ingest/firewall_events`, pack(zones(100)), MSGPACK);
    expect(array).toMatchObject({ status: 200, body: { accepted: 100, refused: 0, reasons: {} } });
    const sequence = Buffer.concat(zones(3, 200).map((e) => pack(e)));
    const back = await post(`${url}/ingest/firewall_events`, sequence, 'application/x-msgpack');
    expect(back).toMatchObject({ status: 200, body: { accepted: 3 } });
    expect(sink.calls.map((c) => c.dataset)).toEqual(['firewall_events', 'firewall_events']);
    expect(sink.events).toEqual([...zones(100), ...zones(3, 200)]);
  });

  it('answers 400 for malformed msgpack, counts it, and keeps serving', async () => {
    const sink = new FakeSink();
    const { source, url, refusals } = await start(sink);
    const truncated = pack(zones(5)).subarray(0, 20);
    const answer = await post(`${url}/ingest/http_requests`, truncated, MSGPACK);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ accepted: 0, refused: 1, reasons: { malformed: 1 }, error: expect.stringMatching(/^body is not valid msgpack/) });
    expect(refusals.counts).toEqual({ malformed: 1 });
    expect(sink.calls).toHaveLength(0);
    expect((await post(`${url}/ingest/http_requests`, pack(zones(2)), MSGPACK)).status).toBe(200);
    expect(source.stats().responses).toEqual({ 200: 1, 400: 1 });
  });

  it('answers 413 for a body over maxBodyBytes, by Content-Length up front or while reading a chunked body, and keeps serving', async () => {
    const sink = new FakeSink();
    const { source, url, refusals } = await start(sink, { maxBodyBytes: 1000 });
    const big = ndjson(zones(100));
    const declared = await post(`${url}/ingest/http_requests`, big);
    expect(declared).toMatchObject({ status: 413, body: { accepted: 0, refused: 1, reasons: { oversized: 1 }, error: 'body is over the maximum of 1000 bytes' } });

    // No Content-Length: refused once the body passes the limit, answered before the upload ends.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/ingest/http_requests`, { method: 'POST', headers: { 'content-type': NDJSON, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      const line = `${JSON.stringify({ ZoneID: 1, Pad: 'x'.repeat(100) })}\n`;
      const pump = (): void => {
        if (req.destroyed) return;
        req.write(line);
        setTimeout(pump, 1);
      };
      pump();
    });
    expect(chunked).toBe(413);
    await waitFor('the slot of the chunked request', () => source.stats().inFlight === 0);

    // maxEvents counts too.
    const { url: url2 } = await start(sink, { maxEvents: 3 });
    expect((await post(`${url2}/ingest/http_requests`, ndjson(zones(4)))).status).toBe(413);

    expect(refusals.counts).toEqual({ oversized: 2 });
    expect(sink.calls).toHaveLength(0);
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(2)))).status).toBe(200);
    expect(source.stats().responses).toEqual({ 200: 1, 413: 2 });
  });

  it('answers 415 for a content type that is neither NDJSON nor msgpack, counted as malformed', async () => {
    const sink = new FakeSink();
    const { url, refusals } = await start(sink);
    const json = await post(`${url}/ingest/http_requests`, JSON.stringify(zones(2)), 'application/json');
    expect(json).toMatchObject({ status: 415, body: { accepted: 0, refused: 1, reasons: { malformed: 1 } } });
    expect(json.body.error).toMatch(/content type "application\/json" is neither NDJSON/);
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(2)), null)).status).toBe(415);
    expect(refusals.counts).toEqual({ malformed: 2 });
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(2)))).status).toBe(200);
  });

  it('answers 404 for another path or a dataset that is not a name, 405 for another method, and counts none of them', async () => {
    const sink = new FakeSink();
    const { source, url, refusals } = await start(sink);
    const bad = await post(`${url}/ingest/bad..name!`, ndjson(zones(1)));
    expect(bad).toMatchObject({ status: 404, body: { error: 'dataset "bad..name!" is not a valid name (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)' } });
    expect((await post(`${url}/ingest/${'a'.repeat(65)}`, ndjson(zones(1)))).status).toBe(404);
    expect((await post(`${url}/ingest/`, ndjson(zones(1)))).status).toBe(404);
    expect((await post(`${url}/ingest/http_requests/more`, ndjson(zones(1)))).status).toBe(404);
    expect((await post(`${url}/metrics`, '', null, 'GET')).body).toEqual({ error: 'no such endpoint "/metrics": events go to POST /ingest/<dataset>' });
    const get = await post(`${url}/ingest/http_requests`, '', null, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(refusals.counts).toEqual({});
    expect(sink.calls).toHaveLength(0);
    // A well-formed name the pipeline does not carry: every event is counted unconfigured.
    const unknown = await post(`${url}/ingest/dns_logs?x=1`, ndjson(zones(3)));
    expect(unknown).toMatchObject({ status: 200, body: { accepted: 0, refused: 3, reasons: { unconfigured: 3 } } });
    expect(refusals.counts).toEqual({ unconfigured: 3 });
    expect((await post(`${url}/ingest/http_requests/`, ndjson(zones(1)))).status).toBe(200);
    expect(source.stats().responses).toEqual({ 200: 2, 404: 5, 405: 1 });
  });

  it('answers 503 with Retry-After at once past maxInFlight, without waiting for a slot', async () => {
    const sink = new FakeSink();
    const held = gate();
    sink.gate = held.promise;
    const { source, url } = await start(sink, { maxInFlight: 2 });
    const first = post(`${url}/ingest/http_requests`, ndjson(zones(2)));
    const second = post(`${url}/ingest/http_requests`, ndjson(zones(2, 10)));
    // Both hold a slot; the second waits for its turn at the sink (one call at a time).
    await waitFor('two requests in flight', () => source.stats().inFlight === 2 && sink.calls.length === 1);
    const third = await post(`${url}/ingest/http_requests`, ndjson(zones(1, 20)));
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(third.body.error).toBe('busy: 2 requests are being ingested, the most at once is 2; retry after 1 s');
    expect(source.stats()).toMatchObject({ inFlight: 2, peakInFlight: 2, busy: 1 });
    expect(sink.calls).toHaveLength(1);

    held.open();
    expect((await first).body).toMatchObject({ accepted: 2 });
    expect((await second).body).toMatchObject({ accepted: 2 });
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(1, 20)))).status).toBe(200);
    expect(source.stats()).toMatchObject({ inFlight: 0, accepted: 5, responses: { 200: 3, 503: 1 } });
  });

  it('answers 503 with Retry-After when the sink takes longer than ingestTimeoutMs, keeping the slot until it answers', async () => {
    const sink = new FakeSink();
    const held = gate();
    sink.gate = held.promise;
    const { source, url } = await start(sink, { ingestTimeoutMs: 50, maxInFlight: 1 });
    const slow = await post(`${url}/ingest/http_requests`, ndjson(zones(2)));
    expect(slow.status).toBe(503);
    expect(slow.headers.get('retry-after')).toBe('1');
    expect(slow.body.error).toMatch(/did not take the 2 events within 50 ms; they may still be delivered/);
    // Its events are still held: the slot is not free yet.
    expect(source.stats()).toMatchObject({ inFlight: 1, timeouts: 1 });
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(1)))).status).toBe(503);
    held.open();
    await waitFor('the slot back', () => source.stats().inFlight === 0);
    sink.gate = null;
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(1)))).status).toBe(200);
    expect(source.stats()).toMatchObject({ accepted: 3, busy: 1 });
  });

  it('answers 503 when the sink fails, and reports the error', async () => {
    const sink = new FakeSink();
    sink.fail = new Error('the pipeline is not started');
    const errors: string[] = [];
    const { source, url } = await start(sink, { onError: (e) => errors.push(e.message) });
    const answer = await post(`${url}/ingest/http_requests`, ndjson(zones(1)));
    expect(answer).toMatchObject({ status: 503, body: { error: 'the pipeline failed to take the events: the pipeline is not started' } });
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(errors).toEqual(['the pipeline is not started']);
    expect(source.stats()).toMatchObject({ sinkFailures: 1, inFlight: 0 });
  });

  it('survives garbage and clients that leave mid-body, and frees their slots', async () => {
    const sink = new FakeSink();
    const { source, url } = await start(sink, { maxInFlight: 1 });
    // Not HTTP at all: Node answers 400 and closes.
    const garbage = connect(source.port, '127.0.0.1');
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      garbage.on('data', (d: Buffer) => (text += d.toString()));
      garbage.on('close', () => resolve(text));
      garbage.on('error', () => {});
      garbage.write('\x00\x01 garbage \r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    // A body cut off: the slot (the only one) comes back, nothing is ingested or counted.
    const cut = connect(source.port, '127.0.0.1');
    cut.on('error', () => {});
    cut.write(`POST /ingest/http_requests HTTP/1.1\r\nHost: x\r\nContent-Type: ${NDJSON}\r\nContent-Length: 1000\r\n\r\n{"ZoneID":1}\n{"Zo`);
    await waitFor('the cut request in flight', () => source.stats().inFlight === 1);
    cut.destroy();
    await waitFor('its slot back', () => source.stats().inFlight === 0);
    expect((await post(`${url}/ingest/http_requests`, ndjson(zones(1)))).status).toBe(200);
    expect(sink.events).toEqual(zones(1));
    expect(source.stats().refused).toEqual({});
  });

  it('close() waits for the requests in flight, then closes', async () => {
    const sink = new FakeSink();
    const held = gate();
    sink.gate = held.promise;
    const { source, url } = await start(sink);
    const pending = post(`${url}/ingest/http_requests`, ndjson(zones(3)));
    await waitFor('the request at the sink', () => sink.calls.length === 1);
    let closed = false;
    const closing = source.close().then(() => (closed = true));
    await sleep(20);
    expect(closed).toBe(false);
    held.open();
    expect((await pending).body).toMatchObject({ accepted: 3 });
    await closing;
    await expect(fetch(`${url}/ingest/http_requests`, { method: 'POST', body: '' })).rejects.toThrow();
  });

  it('calls the sink one call at a time, over every source of the same sink (Pipeline.ingest shares one batch writer)', async () => {
    const sink = new FakeSink();
    sink.delayMs = 5;
    const { url } = await start(sink);
    const tcp = new TcpSource(sink);
    try {
      await tcp.listen();
      const requests = Array.from({ length: 8 }, (_, r) => post(`${url}/ingest/http_requests`, ndjson(zones(50, 1 + r * 50))));
      const connections = Array.from({ length: 4 }, (_, c) =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(tcp.port, '127.0.0.1', () => socket.end(ndjson(zones(50, 1000 + c * 50))));
          socket.on('error', reject);
          socket.on('close', () => resolve());
          socket.resume();
        }),
      );
      const answers = await Promise.all(requests);
      await Promise.all(connections);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(sink.peakActive).toBe(1);
      expect(sink.events.map((e) => e.ZoneID).sort((a, b) => (a as number) - (b as number))).toEqual([...zones(400), ...zones(200, 1000)].map((e) => e.ZoneID));
    } finally {
      await tcp.close();
    }
  });

  it('refuses options out of range with errors naming them', () => {
    const sink = new FakeSink();
    expect(() => new HttpSource(sink, { maxInFlight: 0 })).toThrow('http source: maxInFlight must be an integer from 1 to 65536, got 0');
    expect(() => new HttpSource(sink, { ingestTimeoutMs: 1.5 })).toThrow(/ingestTimeoutMs/);
    expect(() => new HttpSource(sink, { maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
    expect(() => new HttpSource(sink, { maxLineBytes: 2 ** 40 })).toThrow(/maxLineBytes/);
  });
});

describe('HttpSource into the real pipeline', () => {
  // Made when the test runs (not when the file is collected), so a filtered run leaves nothing behind.
  let dir = '';
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'seatbelt-http-source-'))));
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('delivers ~2,000 events in NDJSON and msgpack requests to their jobs\' objects exactly once, and counts refusals in the ledger', async () => {
    const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const jobs: JobConfig[] = [
      { id: 'http-ndjson', dataset: 'http_requests', zones: range(1, 12), output_options: { field_names: ['RayID', 'ZoneID'] }, compression: 'gzip', destination: { type: 'object-store', directory: dir } },
      { id: 'fw-msgpack', dataset: 'firewall_events', zones: range(1, 12), output_options: { field_names: ['RayID', 'ZoneID'] }, compression: 'none', destination: { type: 'object-store', directory: dir } },
    ];
    // Zone 13 has no job: unconfigured in Logfwdr, under "-".
    const http = Array.from({ length: 1000 }, (_, i) => ({ ZoneID: 1 + (i % 13), RayID: `h-${i}`, EdgeStartTimestamp: 1_764_000_000_000_000_000 + i }));
    const firewall = Array.from({ length: 1000 }, (_, i) => ({ ZoneID: 1 + (i % 13), RayID: `f-${i}`, Datetime: '2025-11-24T12:00:00Z' }));
    const pipeline = createPipeline({ config: { jobs }, supervisor: { onRootFailure: 'emit', log: { level: 'warn' } } });
    await pipeline.start();
    try {
      const { source, url } = await start(pipeline, { onRefused: ledgerRefusals(pipeline.ledger), maxInFlight: 8 });
      const requests: Promise<Answer>[] = [];
      for (let i = 0; i < 1000; i += 125) {
        requests.push(post(`${url}/ingest/http_requests`, ndjson(http.slice(i, i + 125)) + (i === 0 ? 'not json\n' : '')));
        requests.push(post(`${url}/ingest/firewall_events`, pack(firewall.slice(i, i + 125)), MSGPACK));
      }
      const answers = await Promise.all(requests);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(answers.reduce((n, a) => n + (a.body.accepted as number), 0)).toBe(2000);
      expect(await post(`${url}/ingest/http_requests`, Buffer.from([0xc1]), MSGPACK)).toMatchObject({ status: 400 });
      expect(source.stats()).toMatchObject({ accepted: 2000, refused: { malformed: 2 }, inFlight: 0 });
      await source.close();
    } finally {
      expect(await pipeline.stop()).toBe(true);
    }

    const got = new Map<string, string[]>(jobs.map((j) => [j.id, []]));
    for (const object of readObjects(dir)) {
      for (const line of linesOf(object)) {
        const e = JSON.parse(line) as { RayID: string; ZoneID: number };
        got.get(object.job)!.push(`${e.RayID}:${e.ZoneID}`);
      }
    }
    const want = (events: { ZoneID: number; RayID: string }[]): string[] => events.filter((e) => e.ZoneID <= 12).map((e) => `${e.RayID}:${e.ZoneID}`).sort();
    expect([...got.get('http-ndjson')!].sort()).toEqual(want(http));
    expect([...got.get('fw-msgpack')!].sort()).toEqual(want(firewall));
    const noJob = [...http, ...firewall].filter((e) => e.ZoneID === 13).length;
    expect(pipeline.ledger.snapshot()['-']!.dropped).toMatchObject({ malformed: 2, unconfigured: noJob });
    expect(pipeline.ledger.balanced()).toBe(true);
    expect(pipeline.ledger.totals().inFlight).toBe(0);
  });
});
