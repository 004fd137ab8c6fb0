/**
 * TcpSource over real sockets on 127.0.0.1 (ephemeral ports): line splitting across chunks,
 * refusals, backpressure to the client, limits, closing; then ~2,000 events through the real
 * pipeline to an object store, each in its jobs' objects exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobConfig } from '../../../src/actors/job.js';
import { createPipeline } from '../../../src/actors/pipeline.js';
import { SourceError } from '../../../src/actors/sources/errors.js';
import { countInto, ledgerRefusals, type IngestResult, type IngestSink, type SourceRefusal } from '../../../src/actors/sources/ingest-sink.js';
import { TcpSource, type TcpSourceOptions } from '../../../src/actors/sources/tcp-source.js';
import { linesOf, readObjects } from '../pipeline/helpers.js';

/** Accepts events with a numeric ZoneID, refuses the others as malformed (as toEvent would). */
class FakeSink implements IngestSink {
  readonly calls: { dataset: string; events: unknown[] }[] = [];
  /** Each call waits this long first. */
  delayMs = 0;
  /** Each call waits for this first, when set. */
  gate: Promise<void> | null = null;
  fail: Error | null = null;

  async ingest(dataset: string, events: readonly unknown[]): Promise<IngestResult> {
    this.calls.push({ dataset, events: [...events] });
    if (this.gate !== null) await this.gate;
    if (this.delayMs > 0) await sleep(this.delayMs);
    if (this.fail !== null) throw this.fail;
    const reasons: Record<string, number> = {};
    let accepted = 0;
    for (const e of events) {
      if (typeof (e as { ZoneID?: unknown }).ZoneID === 'number') accepted++;
      else countInto(reasons, 'malformed', 1);
    }
    return { accepted, refused: events.length - accepted, reasons };
  }

  get events(): Record<string, unknown>[] {
    return this.calls.flatMap((c) => c.events as Record<string, unknown>[]);
  }
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

const sources: TcpSource[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(sources.splice(0).map((s) => s.close()));
});

async function start(sink: IngestSink, options: TcpSourceOptions = {}): Promise<TcpSource> {
  const source = new TcpSource(sink, options);
  sources.push(source);
  await source.listen();
  return source;
}

async function dial(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  clients.push(socket);
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

const closed = (socket: Socket): Promise<void> => (socket.closed ? Promise.resolve() : new Promise((r) => socket.once('close', () => r())));

/** Half-closes and waits for the source's FIN: it comes once the sink answered for every line. */
async function finish(socket: Socket): Promise<void> {
  socket.resume();
  socket.end();
  await closed(socket);
}

/** A seeded PRNG (mulberry32), so a failing cut can be reproduced from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TcpSource', () => {
  it('turns NDJSON cut at arbitrary chunk boundaries (inside lines and UTF-8 characters) into the right events', async () => {
    const sink = new FakeSink();
    const source = await start(sink, { dataset: 'firewall_events' });
    const want = Array.from({ length: 300 }, (_, i) => ({ ZoneID: 1 + (i % 7), RayID: `ray-${i}`, Note: i % 3 === 0 ? 'héllo ✓ 𝄞' : 'plain' }));
    // CRLF endings and blank lines as well: neither is an event, neither breaks one.
    const text = want.map((e, i) => JSON.stringify(e) + (i % 5 === 0 ? '\r\n' : '\n') + (i % 11 === 0 ? '\n  \n' : '')).join('');
    const bytes = Buffer.from(text);
    const seed = 0x5eed;
    const random = prng(seed);
    const socket = await dial(source.port);
    socket.setNoDelay(true);
    let at = 0;
    while (at < bytes.length) {
      const end = Math.min(bytes.length, at + 1 + Math.floor(random() * 97));
      socket.write(bytes.subarray(at, end));
      at = end;
      // Each piece is read before the next is written, so the source sees these cuts (or finer).
      await waitFor(`byte ${at} at the source (seed ${seed})`, () => source.stats().bytes === at);
    }
    await finish(socket);
    expect(sink.calls.every((c) => c.dataset === 'firewall_events')).toBe(true);
    expect(sink.events).toEqual(want);
    const stats = source.stats();
    expect(stats).toMatchObject({ accepted: 300, refused: {}, bytes: bytes.length, connections: 0, connectionsTotal: 1, pendingEvents: 0 });
    expect(stats.lines).toBe(300 + 2 * Math.ceil(300 / 11));
    expect(sink.calls.length).toBeGreaterThan(10);
  });

  it('counts malformed and oversized lines, reports them through onRefused, and keeps serving the connection', async () => {
    const sink = new FakeSink();
    const refusals: Record<string, number> = {};
    const source = await start(sink, { maxLineBytes: 100, onRefused: (reason: SourceRefusal, n) => countInto(refusals, reason, n) });
    const socket = await dial(source.port);
    socket.write('{"ZoneID":1,"RayID":"a"}\nnot json\n[1,2]\n');
    // An oversized line, cut in pieces: refused once it is known to be too long, the rest skipped.
    socket.write(`{"ZoneID":2,"pad":"${'x'.repeat(60)}`);
    socket.write(`${'y'.repeat(200)}"}\n{"RayID":"no zone"}\n\xff\xfe\n`);
    socket.write('{"ZoneID":3,"RayID":"b"}\n');
    await waitFor('the first lines', () => sink.events.length === 3);
    expect(refusals).toEqual({ malformed: 3, oversized: 1 });
    expect(source.stats().connections).toBe(1);

    socket.write('{"ZoneID":4,"RayID":"c"}\n');
    await waitFor('a line after the refusals', () => sink.events.length === 4);
    await finish(socket);
    expect(sink.events.map((e) => e.RayID)).toEqual(['a', 'no zone', 'b', 'c']);
    // The source's refusals and the sink's (no ZoneID) together.
    expect(source.stats()).toMatchObject({ accepted: 3, refused: { malformed: 4, oversized: 1 }, lines: 8 });
  });

  it('pauses a socket while the sink is slow: the client\'s writes back up and the source holds at most one chunk of events', async () => {
    const sink = new FakeSink();
    sink.delayMs = 50;
    const source = await start(sink);
    const socket = await dial(source.port);
    const line = (i: number): string => `${JSON.stringify({ ZoneID: 100 + (i % 900), RayID: `r${String(i).padStart(9, '0')}`, Pad: 'p'.repeat(60) })}\n`;
    const lineBytes = line(0).length;
    const total = Math.ceil(20e6 / lineBytes);
    const perWrite = 512;
    let drained = false;
    let accepted = true;
    for (let i = 0; i < total; i += perWrite) {
      let block = '';
      for (let j = i; j < Math.min(total, i + perWrite); j++) block += line(j);
      accepted = socket.write(block);
    }
    socket.once('drain', () => (drained = true));
    expect(accepted).toBe(false);

    // Twenty slow sink calls later: each let the source read about one more chunk, no more.
    await waitFor('20 sink calls', () => source.stats().sinkCalls >= 20);
    const slow = source.stats();
    expect(drained).toBe(false);
    expect(socket.writableLength).toBeGreaterThan(total * lineBytes - slow.bytes - 16e6);
    expect(socket.writableLength).toBeGreaterThan(0);
    expect(slow.bytes).toBeLessThanOrEqual((slow.sinkCalls + 2) * slow.peakChunkBytes);
    expect(slow.bytes).toBeLessThan((total * lineBytes) / 4);

    sink.delayMs = 0;
    await finish(socket);
    const stats = source.stats();
    expect(stats.accepted).toBe(total);
    expect(stats.bytes).toBe(total * lineBytes);
    expect(stats.pendingEvents).toBe(0);
    // Bounded by one socket read (at most 64 KiB in Node) and the line it left unfinished.
    expect(stats.peakChunkBytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.peakPendingEvents).toBeLessThanOrEqual(Math.floor(stats.peakChunkBytes / lineBytes) + 1);
    expect(stats.peakPendingEvents).toBeLessThan(total / 100);
    // Every event, once, in order.
    let next = 0;
    let misplaced = 0;
    for (const call of sink.calls) for (const e of call.events) if ((e as { RayID: string }).RayID !== `r${String(next++).padStart(9, '0')}`) misplaced++;
    expect({ next, misplaced }).toEqual({ next: total, misplaced: 0 });
  });

  it('refuses connections past maxConnections and serves the others', async () => {
    const sink = new FakeSink();
    const source = await start(sink, { maxConnections: 2 });
    const a = await dial(source.port);
    const b = await dial(source.port);
    await waitFor('two connections', () => source.stats().connectionsTotal === 2);
    const c = await dial(source.port);
    await closed(c);
    expect(source.stats()).toMatchObject({ connections: 2, connectionsRefused: 1 });

    a.write('{"ZoneID":1}\n');
    b.write('{"ZoneID":2}\n');
    await finish(a);
    const d = await dial(source.port);
    d.write('{"ZoneID":3}\n');
    await Promise.all([finish(b), finish(d)]);
    expect(sink.events.map((e) => e.ZoneID).sort()).toEqual([1, 2, 3]);
    expect(source.stats()).toMatchObject({ connections: 0, connectionsTotal: 3, connectionsRefused: 1 });
  });

  it('closes idle connections, but not one waiting on a slow sink', async () => {
    const sink = new FakeSink();
    let open!: () => void;
    sink.gate = new Promise((r) => (open = r));
    const source = await start(sink, { idleTimeoutMs: 50 });
    const busy = await dial(source.port);
    busy.write('{"ZoneID":1}\n');
    await waitFor('the sink call', () => sink.calls.length === 1);
    const idle = await dial(source.port);
    await closed(idle);
    expect(source.stats().connectionsIdle).toBe(1);
    // Several idle periods pass while the sink holds the first connection's batch.
    await sleep(200);
    expect(busy.closed).toBe(false);
    open();
    busy.write('{"ZoneID":2}\n');
    await waitFor('the second line', () => sink.events.length === 2);
    await closed(busy);
    expect(source.stats()).toMatchObject({ connectionsIdle: 2, accepted: 2 });
  });

  it('close() hands what was read to the sink, an unfinished last line included, then closes every connection', async () => {
    const sink = new FakeSink();
    const source = await start(sink);
    const sockets = await Promise.all([dial(source.port), dial(source.port)]);
    sockets[0]!.write('{"ZoneID":1}\n{"ZoneID":2}\n{"ZoneID":3}');
    sockets[1]!.write('{"ZoneID":4}\n{"ZoneID":');
    const sent = sockets.reduce((n, s) => n + s.bytesWritten, 0);
    await waitFor('every byte at the source', () => source.stats().bytes === sent);
    await source.close();
    await Promise.all(sockets.map(closed));
    expect(sink.events.map((e) => e.ZoneID).sort()).toEqual([1, 2, 3, 4]);
    // The cut line of the second connection cannot be an event: counted, not lost silently.
    expect(source.stats()).toMatchObject({ accepted: 4, refused: { malformed: 1 }, connections: 0 });
    await expect(source.listen()).rejects.toThrow(/after close/);
  });

  it('resets a connection whose sink call fails, reports the error, and keeps serving others', async () => {
    const sink = new FakeSink();
    const errors: Error[] = [];
    const source = await start(sink, { onError: (e) => errors.push(e) });
    sink.fail = new Error('mailbox of logfwdr stayed full for 30000 ms');
    const doomed = await dial(source.port);
    doomed.write('{"ZoneID":1}\n{"ZoneID":2}\n');
    await closed(doomed);
    expect(errors.map((e) => e.message)).toEqual(['mailbox of logfwdr stayed full for 30000 ms']);
    expect(source.stats()).toMatchObject({ sinkFailures: 1, sinkFailedEvents: 2, pendingEvents: 0, accepted: 0 });

    sink.fail = null;
    const next = await dial(source.port);
    next.write('{"ZoneID":3}\n');
    await finish(next);
    expect(source.stats().accepted).toBe(1);
  });

  it('refuses options out of range with errors naming them', () => {
    const sink = new FakeSink();
    expect(() => new TcpSource(sink, { dataset: 'dns/../x' })).toThrow(SourceError);
    expect(() => new TcpSource(sink, { dataset: 'dns_logs' })).toThrow(/dataset must be a dataset the pipeline carries/);
    expect(() => new TcpSource(sink, { maxConnections: 0 })).toThrow('tcp source: maxConnections must be an integer from 1 to 1048576, got 0');
    expect(() => new TcpSource(sink, { port: 70_000 })).toThrow(/port must be an integer from 0 to 65535/);
    expect(() => new TcpSource(sink, { maxLineBytes: -1 })).toThrow(/maxLineBytes/);
    expect(() => new TcpSource(sink, { idleTimeoutMs: Infinity })).toThrow(/idleTimeoutMs/);
  });
});

describe('TcpSource into the real pipeline', () => {
  // Made when the test runs (not when the file is collected), so a filtered run leaves nothing behind.
  let dir = '';
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'seatbelt-tcp-source-'))));
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('delivers ~2,000 events sent over two connections to their jobs\' objects exactly once, and counts the refused lines in the ledger', async () => {
    const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    const jobs: JobConfig[] = [
      { id: 'tcp-low', dataset: 'http_requests', zones: range(1, 10), output_options: { field_names: ['RayID', 'ZoneID'] }, compression: 'gzip', destination: { type: 'object-store', directory: dir } },
      { id: 'tcp-high', dataset: 'http_requests', zones: range(6, 20), output_options: { field_names: ['RayID', 'ZoneID'] }, compression: 'none', destination: { type: 'object-store', directory: dir } },
    ];
    const pipeline = createPipeline({ config: { jobs }, supervisor: { onRootFailure: 'emit', log: { level: 'warn' } } });
    await pipeline.start();
    try {
      const source = await start(pipeline, { onRefused: ledgerRefusals(pipeline.ledger), batchEvents: 256 });
      // Zones 1-24: 21-24 have no job (unconfigured in Logfwdr).
      const events = Array.from({ length: 2000 }, (_, i) => ({ ZoneID: 1 + (i % 24), RayID: `tcp-${i}`, EdgeStartTimestamp: 1_764_000_000_000_000_000 + i }));
      const texts = ['', ''];
      events.forEach((e, i) => (texts[i % 2] += `${JSON.stringify(e)}\n`));
      texts[0] += 'not json\n{"RayID":"no zone"}\n';
      texts[1] += `{"ZoneID":1,"pad":"${'x'.repeat(2 << 20)}"}\n`;
      const sockets = await Promise.all([dial(source.port), dial(source.port)]);
      sockets.forEach((s, i) => s.write(texts[i]!));
      await Promise.all(sockets.map(finish));
      expect(source.stats()).toMatchObject({ accepted: 2000, refused: { malformed: 2, oversized: 1 }, pendingEvents: 0 });
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
    for (const job of jobs) {
      const want = Array.from({ length: 2000 }, (_, i) => ({ z: 1 + (i % 24), i }))
        .filter(({ z }) => job.zones.includes(z))
        .map(({ z, i }) => `tcp-${i}:${z}`);
      expect(want.length).toBeGreaterThan(500);
      expect([...got.get(job.id)!].sort()).toEqual(want.sort());
    }
    const ledger = pipeline.ledger.snapshot();
    const noJob = Array.from({ length: 2000 }, (_, i) => 1 + (i % 24)).filter((z) => z > 20).length;
    expect(ledger['-']!.dropped).toMatchObject({ malformed: 2, oversized: 1, unconfigured: noJob });
    expect(pipeline.ledger.balanced()).toBe(true);
    expect(pipeline.ledger.totals().inFlight).toBe(0);
  });
});
