import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { fileProvider, functionProvider, httpProvider, type Provider } from '../../../src/actors/logfwdr/providers.js';
import type { Candidate, ProviderEvent } from '../../../src/actors/logfwdr/candidate.js';
import { ConfigGuard, type GuardAlert } from '../../../src/actors/logfwdr/config-guard.js';
import { ConfigError } from '../../../src/actors/logfwdr/errors.js';
import { configText, jobs, waitFor } from './fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects a provider's events; `texts` are the candidate texts in order. */
function recorder() {
  const events: ProviderEvent[] = [];
  return {
    events,
    onEvent: (event: ProviderEvent) => void events.push(event),
    candidates: () => events.flatMap((e) => (e.type === 'candidate' ? [e.candidate] : [])),
    texts: () => events.flatMap((e) => (e.type === 'candidate' && e.candidate.kind === 'text' ? [e.candidate.text] : [])),
    ofType: (type: ProviderEvent['type']) => events.filter((e) => e.type === type),
  };
}

const running: Provider[] = [];
/** Starts a provider that afterEach stops, so a failing test leaves nothing polling. */
function started<P extends Provider>(provider: P): P {
  running.push(provider);
  provider.start();
  return provider;
}
afterEach(() => {
  for (const provider of running.splice(0)) provider.stop();
});

describe('fileProvider', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seatbelt-logfwdr-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes a new file and renames it over `path`, as a config generator should. */
  async function replace(path: string, body: string): Promise<void> {
    const next = `${path}.${process.hrtime.bigint()}.tmp`;
    await writeFile(next, body);
    await rename(next, path);
  }

  it('delivers the file at start, then a rewritten file within the interval (polling only)', async () => {
    const path = join(dir, 'poll.json');
    await writeFile(path, configText(jobs(1)));
    const rec = recorder();
    const provider = started(fileProvider(path, { intervalMs: 200, watch: false, onEvent: rec.onEvent }));
    expect(provider.source).toBe(path);
    await waitFor('the first candidate', () => rec.texts().length === 1);
    await waitFor('an unchanged poll', () => rec.ofType('unchanged').length >= 1);
    const rewrittenAt = Date.now();
    await replace(path, configText(jobs(2)));
    await waitFor('the rewritten candidate', () => rec.texts().length === 2);
    // One interval, plus slack for a loaded 2-core machine.
    expect(Date.now() - rewrittenAt).toBeLessThan(200 + 1500);
    expect(rec.texts()[1]).toBe(configText(jobs(2)));
    expect(rec.candidates()[1]).toEqual({ kind: 'text', source: path, text: configText(jobs(2)) });
  });

  it('delivers a change soon after fs.watch reports it, long before the next poll', async () => {
    const path = join(dir, 'watched.json');
    await writeFile(path, configText(jobs(1)));
    const rec = recorder();
    started(fileProvider(path, { intervalMs: 60_000, debounceMs: 20, onEvent: rec.onEvent }));
    await waitFor('the first candidate', () => rec.texts().length === 1);
    await replace(path, configText(jobs(3)));
    await waitFor('the watched change', () => rec.texts().at(-1) === configText(jobs(3)), 3000);
    // An in-place rewrite (not a rename) is seen too.
    await writeFile(path, configText(jobs(4)));
    await waitFor('the in-place change', () => rec.texts().at(-1) === configText(jobs(4)), 3000);
  });

  it('reports a missing file as unavailable, then delivers it once it appears', async () => {
    const path = join(dir, 'late.json');
    const rec = recorder();
    started(fileProvider(path, { intervalMs: 100, watch: false, onEvent: rec.onEvent }));
    await waitFor('an unavailable event', () => rec.ofType('unavailable').length >= 1);
    expect(rec.events[0]).toMatchObject({ type: 'unavailable', source: path, reason: `no file at ${path}` });
    expect(rec.candidates()).toEqual([]);
    await writeFile(path, configText(jobs(1)));
    await waitFor('the candidate', () => rec.texts().length === 1);
  });

  it('reports a directory as unavailable, and a file past maxBytes as a too-large candidate', async () => {
    const sub = join(dir, 'a-directory');
    await mkdir(sub);
    const rec = recorder();
    await fileProvider(sub, { onEvent: rec.onEvent }).refresh();
    expect(rec.events).toMatchObject([{ type: 'unavailable', reason: `${sub} is not a regular file` }]);

    const big = join(dir, 'big.json');
    await writeFile(big, configText(jobs(50)));
    const bigRec = recorder();
    await fileProvider(big, { maxBytes: 100, onEvent: bigRec.onEvent }).refresh();
    const candidate = bigRec.candidates()[0];
    expect(candidate?.kind).toBe('error');
    const error = (candidate as Extract<Candidate, { kind: 'error' }>).error;
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ERR_CONFIG_TOO_LARGE');
  });

  it('feeds the guard: a blank rewrite is refused and the last known good kept, with an alert', async () => {
    const path = join(dir, 'guarded.json');
    await writeFile(path, configText(jobs(4)));
    const alerts: GuardAlert[] = [];
    const guard = new ConfigGuard({ onAlert: (alert) => alerts.push(alert) });
    started(fileProvider(path, { intervalMs: 100, debounceMs: 10, onEvent: (event) => guard.handle(event) }));
    await waitFor('the first config', () => guard.generation === 1);
    await replace(path, '');
    await waitFor('the refusal', () => alerts.length === 1);
    expect(alerts[0]).toMatchObject({ alert: 'config_refused', reason: 'blank', source: path });
    expect(guard.decision('http_requests', 1003)).toBe('forward');
    await replace(path, configText(jobs(5)));
    await waitFor('the next config', () => guard.generation === 2);
  });

  it('refresh() reads now, even before start, and resolves after delivering', async () => {
    const path = join(dir, 'refresh.json');
    await writeFile(path, configText(jobs(1)));
    const rec = recorder();
    const provider = fileProvider(path, { onEvent: rec.onEvent });
    await provider.refresh();
    expect(rec.texts()).toEqual([configText(jobs(1))]);
    // A refresh skips the unchanged-stat shortcut.
    await provider.refresh();
    expect(rec.texts()).toHaveLength(2);
  });

  it('delivers nothing after stop(), polled or watched', async () => {
    const path = join(dir, 'stopped.json');
    await writeFile(path, configText(jobs(1)));
    const rec = recorder();
    const provider = fileProvider(path, { intervalMs: 50, debounceMs: 10, onEvent: rec.onEvent });
    provider.start();
    await waitFor('the first candidate', () => rec.texts().length === 1);
    provider.stop();
    const count = rec.events.length;
    await replace(path, configText(jobs(2)));
    await sleep(300);
    expect(rec.events.length).toBe(count);
    provider.stop();
  });

  it('turns an onEvent that throws into onError, and keeps polling', async () => {
    const path = join(dir, 'throws.json');
    await writeFile(path, configText(jobs(1)));
    const errors: unknown[] = [];
    let calls = 0;
    started(
      fileProvider(path, {
        intervalMs: 50,
        watch: false,
        onEvent: () => {
          calls++;
          throw new Error('guard bug');
        },
        onError: (error) => errors.push(error),
      }),
    );
    await waitFor('three calls', () => calls >= 3);
    expect((errors[0] as Error).message).toBe('guard bug');
  });

  it('refuses intervals that are not finite positive integers', () => {
    expect(() => fileProvider('x', { intervalMs: 0, onEvent: () => {} })).toThrow('intervalMs must be an integer from 1 to 2147483647 ms, got 0');
    expect(() => fileProvider('x', { intervalMs: Infinity, onEvent: () => {} })).toThrow(RangeError);
  });
});

describe('httpProvider', () => {
  let server: Server;
  let base: string;
  const state = { body: configText(jobs(2)), etag: '"v1"', requests: [] as IncomingMessage[] };
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      state.requests.push(req);
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      switch (path) {
        case '/config':
          if (req.headers['if-none-match'] === state.etag) {
            res.writeHead(304).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json', etag: state.etag }).end(state.body);
          return;
        case '/fail':
          res.writeHead(500, 'Internal Server Error').end('boom');
          return;
        case '/slow':
          // Never answers: the provider's timeout must end the wait.
          held.push(res);
          return;
        case '/slow-body':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"jobs": [');
          held.push(res);
          return;
        case '/big':
          res.writeHead(200, { 'content-length': String(10_000) }).end('x'.repeat(10_000));
          return;
        case '/big-chunked':
          res.writeHead(200);
          for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
          res.end();
          return;
        default:
          res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('delivers the body, then "unchanged" on a 304, then the new body', async () => {
    const rec = recorder();
    started(httpProvider(`${base}/config`, { intervalMs: 100, onEvent: rec.onEvent }));
    await waitFor('the first candidate', () => rec.texts().length === 1);
    expect(rec.texts()[0]).toBe(state.body);
    await waitFor('an unchanged poll', () => rec.ofType('unchanged').length >= 1);
    expect(state.requests.at(-1)?.headers['if-none-match']).toBe('"v1"');
    state.body = configText(jobs(3));
    state.etag = '"v2"';
    await waitFor('the new body', () => rec.texts().length === 2);
    expect(rec.texts()[1]).toBe(configText(jobs(3)));
  });

  it('reports a 500 as unavailable', async () => {
    const rec = recorder();
    await httpProvider(`${base}/fail`, { onEvent: rec.onEvent }).refresh();
    expect(rec.events).toEqual([{ type: 'unavailable', source: `${base}/fail`, reason: 'HTTP 500 Internal Server Error' }]);
  });

  it('reports no answer, or a body that stops, within timeoutMs as unavailable', async () => {
    const rec = recorder();
    const startedAt = Date.now();
    await httpProvider(`${base}/slow`, { timeoutMs: 200, onEvent: rec.onEvent }).refresh();
    await httpProvider(`${base}/slow-body`, { timeoutMs: 200, onEvent: rec.onEvent }).refresh();
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(rec.events).toMatchObject([
      { type: 'unavailable', source: `${base}/slow`, reason: 'no complete response within 200 ms' },
      { type: 'unavailable', source: `${base}/slow-body`, reason: 'no complete response within 200 ms' },
    ]);
  });

  it('reports a refused connection as unavailable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const rec = recorder();
    await httpProvider(`http://127.0.0.1:${port}/config`, { onEvent: rec.onEvent }).refresh();
    expect(rec.events[0]).toMatchObject({ type: 'unavailable' });
    expect((rec.events[0] as { reason: string }).reason).toContain('ECONNREFUSED');
  });

  it('stops reading a body past maxBytes, declared or not, and hands over a too-large error', async () => {
    for (const path of ['/big', '/big-chunked']) {
      const rec = recorder();
      await httpProvider(`${base}${path}`, { maxBytes: 4096, onEvent: rec.onEvent }).refresh();
      const candidate = rec.candidates()[0] as Extract<Candidate, { kind: 'error' }>;
      expect(candidate.kind).toBe('error');
      expect((candidate.error as ConfigError).code).toBe('ERR_CONFIG_TOO_LARGE');
      expect((candidate.error as ConfigError).message).toContain('at most 4096 are allowed (maxBytes)');
    }
  });

  it('names its source without the query string or credentials, and sends the given headers', async () => {
    const rec = recorder();
    const provider = httpProvider(`http://user:pw@127.0.0.1:${new URL(base).port}/config?token=secret`, {
      headers: { authorization: 'Bearer abc' },
      onEvent: rec.onEvent,
    });
    expect(provider.source).toBe(`${base}/config`);
    await provider.refresh();
    expect(rec.texts()).toHaveLength(1);
    expect(state.requests.at(-1)?.headers.authorization).toBe('Bearer abc');
    // Credentials in the URL become a Basic authorization header (fetch refuses them in the URL).
    await httpProvider(`http://user:p%40ss@127.0.0.1:${new URL(base).port}/config`, { onEvent: rec.onEvent }).refresh();
    expect(state.requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    expect(() => httpProvider('file:///etc/passwd', { onEvent: () => {} })).toThrow('httpProvider needs an http: or https: URL, got file:');
  });

  it('aborts a request in flight on stop() and delivers nothing', async () => {
    const rec = recorder();
    const provider = httpProvider(`${base}/slow`, { timeoutMs: 60_000, onEvent: rec.onEvent });
    provider.start();
    await waitFor('the request to arrive', () => state.requests.at(-1)?.url === '/slow');
    provider.stop();
    await sleep(100);
    expect(rec.events).toEqual([]);
  });

  it('never keeps a process alive after stop(): a process running every provider exits by itself', async () => {
    // The script runs as its own process, bundled to CommonJS by esbuild: Node 20 cannot run .ts.
    const out = await mkdtemp(join(tmpdir(), 'seatbelt-stop-exits-'));
    try {
      const script = join(out, 'stop-exits.cjs');
      await build({
        entryPoints: [fileURLToPath(new URL('./fixtures/stop-exits.script.ts', import.meta.url))],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        outfile: script,
        logLevel: 'warning',
      });
      const path = join(out, 'config.json');
      await writeFile(path, configText(jobs(1)));
      const child = spawn(process.execPath, [script, path, `${base}/config`, `${base}/slow`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let stoppedAt = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stoppedAt === 0 && stdout.includes('stopped')) stoppedAt = Date.now();
      });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.on('exit', (exitCode) => {
          clearTimeout(kill);
          resolve(exitCode);
        });
      });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout.trim()).toBe('stopped after file,function,http');
      expect(Date.now() - stoppedAt).toBeLessThan(2000);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('functionProvider', () => {
  it('delivers a returned object as a value and a string as text, every interval', async () => {
    let n = 0;
    const rec = recorder();
    started(
      functionProvider(
        function generate() {
          n++;
          return n % 2 === 1 ? { jobs: jobs(n) } : configText(jobs(n));
        },
        { intervalMs: 50, onEvent: rec.onEvent },
      ),
    );
    await waitFor('two candidates', () => rec.candidates().length >= 2);
    expect(rec.candidates()[0]).toEqual({ kind: 'value', source: 'function generate', value: { jobs: jobs(1) } });
    expect(rec.candidates()[1]).toEqual({ kind: 'text', source: 'function generate', text: configText(jobs(2)) });
  });

  it('reports a throw, a rejection and a timeout as unavailable, and aborts the timed-out call', async () => {
    const rec = recorder();
    await functionProvider(() => {
      throw new Error('generator down');
    }, { source: 'generator', onEvent: rec.onEvent }).refresh();
    await functionProvider(() => Promise.reject(new Error('db timeout')), { source: 'generator', onEvent: rec.onEvent }).refresh();
    let signal: AbortSignal | undefined;
    await functionProvider(
      (s) => {
        signal = s;
        return new Promise(() => {});
      },
      { source: 'generator', timeoutMs: 50, onEvent: rec.onEvent },
    ).refresh();
    expect(rec.events).toMatchObject([
      { type: 'unavailable', source: 'generator', reason: 'generator down' },
      { type: 'unavailable', source: 'generator', reason: 'db timeout' },
      { type: 'unavailable', source: 'generator', reason: 'no answer within 50 ms' },
    ]);
    expect(signal?.aborted).toBe(true);
  });

  it('coalesces refreshes asked for during a read into one more read after it', async () => {
    let calls = 0;
    let release: (() => void) | undefined;
    const rec = recorder();
    const provider = functionProvider(
      () => {
        calls++;
        return new Promise((resolve) => (release = () => resolve({ jobs: [] })));
      },
      { onEvent: rec.onEvent },
    );
    const first = provider.refresh();
    await waitFor('the first call', () => calls === 1);
    const more = [provider.refresh(), provider.refresh(), provider.refresh()];
    release?.();
    await first;
    await waitFor('the follow-up call', () => calls === 2);
    release?.();
    await Promise.all(more);
    expect(calls).toBe(2);
    expect(rec.candidates()).toHaveLength(2);
  });

  it('aborts the call in flight on stop() and delivers nothing', async () => {
    const rec = recorder();
    let signal: AbortSignal | undefined;
    const provider = functionProvider(
      (s) => {
        signal = s;
        return new Promise(() => {});
      },
      { onEvent: rec.onEvent },
    );
    provider.start();
    await waitFor('the call', () => signal !== undefined);
    provider.stop();
    expect(signal?.aborted).toBe(true);
    await sleep(50);
    expect(rec.events).toEqual([]);
  });

  it('feeds a fail-open guard: a generator that is down past the grace period starts one episode', async () => {
    const alerts: GuardAlert[] = [];
    let up = true;
    const guard = new ConfigGuard({ policy: 'fail-open', unavailableGraceMs: 100, onAlert: (alert) => alerts.push(alert) });
    started(
      functionProvider(
        () => {
          if (!up) throw new Error('down');
          return { jobs: jobs(2) };
        },
        { intervalMs: 20, onEvent: (event) => guard.handle(event) },
      ),
    );
    await waitFor('the first config', () => guard.mode === 'configured');
    up = false;
    await waitFor('failing open', () => guard.mode === 'fail-open');
    await sleep(100);
    expect(alerts.filter((a) => a.alert === 'fail_open')).toHaveLength(2); // one at start-up (no config yet), one now
    expect(guard.decision('http_requests', 1001)).toBe('forward');
    expect(guard.decision('http_requests', 5)).toBe('forward-unconfigured');
    up = true;
    await waitFor('configured again', () => guard.mode === 'configured');
    expect(guard.stats().failOpen).toMatchObject({ active: false, episodes: 2 });
  });
});
