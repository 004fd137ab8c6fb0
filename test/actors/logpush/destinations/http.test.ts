import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { HttpDestination, type HttpDestinationOptions } from '../../../../src/actors/logpush/destinations/http.js';
import { uploadObject } from '../fixtures/upload-objects.js';

interface Received {
  headers: IncomingHttpHeaders;
  method: string | undefined;
  url: string | undefined;
  body: Buffer;
}

/** How the server answers request number `index` (0-based); it may also leave the response hanging. */
type Responder = (res: ServerResponse, index: number) => void;

const servers: Server[] = [];
const destinations: HttpDestination[] = [];

afterEach(async () => {
  await Promise.all(destinations.splice(0).map((d) => d.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(respond: Responder): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = received.length;
      received.push({ headers: req.headers, method: req.method, url: req.url, body: Buffer.concat(chunks) });
      respond(res, index);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/ingest?token=secret`, received };
}

function reply(res: ServerResponse, status: number, headers: Record<string, string> = {}, body = ''): void {
  res.writeHead(status, headers);
  res.end(body);
}

function destination(url: string, options: Partial<HttpDestinationOptions> = {}): { d: HttpDestination; sleeps: number[] } {
  const sleeps: number[] = [];
  const d = new HttpDestination({
    url,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  destinations.push(d);
  return { d, sleeps };
}

describe('HttpDestination', () => {
  it('POSTs the object gzipped with its content type; 503 then 200 is retried and acked', async () => {
    const { url, received } = await serve((res, i) => (i === 0 ? reply(res, 503, {}, 'busy') : reply(res, 200)));
    const { d, sleeps } = destination(url, { headers: { Authorization: 'Bearer t' }, retry: { baseMs: 100 } });
    await d.put(uploadObject(['{"a":1}', '{"a":2}'], { gzip: true }));
    expect(received).toHaveLength(2);
    for (const r of received) {
      expect(r.method).toBe('POST');
      expect(r.url).toBe('/ingest?token=secret');
      expect(r.headers['content-type']).toBe('application/x-ndjson');
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.headers.authorization).toBe('Bearer t');
      expect(gunzipSync(r.body).toString()).toBe('{"a":1}\n{"a":2}\n');
    }
    // Full jitter with random() = 0.5: half of the first window.
    expect(sleeps).toEqual([50]);
  });

  it('sends an uncompressed CSV object as text/csv without Content-Encoding', async () => {
    const { url, received } = await serve((res) => reply(res, 204));
    const { d } = destination(url);
    await d.put(uploadObject(['A,B', '1,2'], { contentType: 'text/csv' }));
    expect(received[0]!.headers['content-type']).toBe('text/csv');
    expect(received[0]!.headers['content-encoding']).toBeUndefined();
    expect(received[0]!.body.toString()).toBe('A,B\n1,2\n');
  });

  it('resolves only after the 2xx arrives', async () => {
    let release: (() => void) | undefined;
    const { url } = await serve((res) => {
      release = () => reply(res, 200);
    });
    const { d } = destination(url);
    let settled = false;
    const put = d.put(uploadObject(['x'])).finally(() => (settled = true));
    while (release === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    release();
    await put;
    expect(settled).toBe(true);
  });

  it('fails for good on a 4xx other than 429, with the status and the body, without retrying', async () => {
    const { url, received } = await serve((res) => reply(res, 400, { 'content-type': 'text/plain' }, 'invalid\n  token'));
    const { d, sleeps } = destination(url);
    const error = await d.put(uploadObject(['x'])).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_DESTINATION_REJECTED', status: 400, retryable: false });
    expect((error as Error).message).toContain('HTTP 400: invalid token');
    // The query string may hold a token: messages leave it out.
    expect((error as Error).message).not.toContain('secret');
    expect(received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('honours Retry-After on 429, in seconds or as a date, capped', async () => {
    const now = Date.UTC(2024, 10, 14, 10, 0, 0);
    const { url, received } = await serve((res, i) => {
      if (i === 0) return reply(res, 429, { 'retry-after': '3' });
      if (i === 1) return reply(res, 429, { 'retry-after': new Date(now + 7000).toUTCString() });
      if (i === 2) return reply(res, 503, { 'retry-after': '3600' });
      return reply(res, 200);
    });
    const { d, sleeps } = destination(url, { now: () => now, retry: { maxRetryAfterMs: 10_000 } });
    await d.put(uploadObject(['x']));
    expect(received).toHaveLength(4);
    expect(sleeps).toEqual([3000, 7000, 10_000]);
  });

  it('times a request out, then retries it', async () => {
    const { url, received } = await serve((res, i) => {
      if (i > 0) reply(res, 200); // the first response never comes
    });
    const { d, sleeps } = destination(url, { timeoutMs: 150 });
    const started = Date.now();
    await d.put(uploadObject(['x']));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(received).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  it('gives up after maxAttempts, retryable, naming the last failure', async () => {
    const { url: hanging } = await serve(() => undefined);
    const timeout = destination(hanging, { timeoutMs: 100, retry: { maxAttempts: 2 } });
    await expect(timeout.d.put(uploadObject(['x']))).rejects.toMatchObject({
      code: 'ERR_DESTINATION_UNAVAILABLE',
      retryable: true,
      message: expect.stringContaining('failed 2 times; last: no response within 100 ms'),
    });

    const { url: failing, received } = await serve((res) => reply(res, 500, {}, 'oops'));
    const fiveHundred = destination(failing, { retry: { maxAttempts: 3 } });
    await expect(fiveHundred.d.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_UNAVAILABLE', status: 500 });
    expect(received).toHaveLength(3);
    expect(fiveHundred.sleeps).toHaveLength(2);
  });

  it('retries network errors (connection refused)', async () => {
    const { url } = await serve(() => undefined);
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const { d, sleeps } = destination(url, { retry: { maxAttempts: 3, baseMs: 10, maxMs: 40 } });
    await expect(d.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_UNAVAILABLE', message: expect.stringMatching(/ECONNREFUSED|connect/) });
    expect(sleeps).toEqual([5, 10]);
  });

  it('refuses for good an object whose leading lines another destination staged, sending nothing', async () => {
    let requests = 0;
    const { url } = await serve((res) => (requests++, reply(res, 200)));
    const d = new HttpDestination({ url });
    await expect(d.put({ ...uploadObject(['b']), staged: { append: () => {}, discard: () => {} } })).rejects.toMatchObject({ retryable: false, message: expect.stringContaining('staged') });
    expect(requests).toBe(0);
    await d.close();
  });

  it('close() ends a put that is waiting to retry, and refuses new puts', async () => {
    const { url } = await serve((res) => reply(res, 503));
    const d = new HttpDestination({ url, retry: { baseMs: 60_000, maxMs: 60_000 }, random: () => 0.99 });
    const put = d.put(uploadObject(['x']));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await d.close();
    await expect(put).rejects.toMatchObject({ code: 'ERR_DESTINATION_CLOSED' });
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(d.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_CLOSED' });
  });

  it('checks its config, naming the path', () => {
    const bad = (options: Partial<HttpDestinationOptions>, path: string): void => {
      expect(() => new HttpDestination({ url: 'http://127.0.0.1:1/', ...options })).toThrow(expect.objectContaining({ code: 'ERR_LOGPUSH_CONFIG', path }));
    };
    bad({ url: 'ftp://example.com/' }, 'destination.url');
    bad({ url: 'not a url' }, 'destination.url');
    bad({ url: 'https://user:pw@example.com/' }, 'destination.url');
    bad({ headers: { 'Content-Length': '5' } }, 'destination.headers["Content-Length"]');
    bad({ headers: { 'X-A': 'a\r\nInjected: 1' } }, 'destination.headers["X-A"]');
    bad({ headers: { 'bad name': 'x' } }, 'destination.headers["bad name"]');
    bad({ timeoutMs: 0 }, 'destination.timeoutMs');
    bad({ timeoutMs: Infinity }, 'destination.timeoutMs');
    bad({ retry: { maxAttempts: 0 } }, 'destination.retry.maxAttempts');
    bad({ retry: { baseMs: 10, maxMs: 5 } }, 'destination.retry.maxMs');
  });
});
