/**
 * The nats-server test helper against the real nats-server: one JetStream server (publish, a
 * durable pull consumer, restart keeping file-stored messages), a three-node cluster with an R3
 * stream surviving a SIGKILLed node, natsUrl(), stopAll(), and no server outliving its Node
 * process (exit hook and watchdog).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from 'esbuild';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient } from '@nats-io/jetstream';
import { freePort, natsUrl, startNats, startNatsCluster, stopAll } from './nats-server.js';

/** Each test well under vitest's 120 s default: a hang fails here, fast. */
const T = { timeout: 40_000 };
const connections: NatsConnection[] = [];
const tmpDirs: string[] = [];

async function client(servers: string | string[]): Promise<NatsConnection> {
  const nc = await connect({ servers, timeout: 5_000, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  connections.push(nc);
  return nc;
}

afterEach(async () => {
  await Promise.all(connections.splice(0).map((nc) => nc.close().catch(() => undefined)));
  await stopAll();
});
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.setTimeout(1_000, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${timeoutMs} ms: ${e instanceof Error ? e.message : String(e)}`);
      await sleep(200);
    }
  }
}

/**
 * Fetches up to `max` messages from a durable pull consumer, acks them and appends their payloads
 * to `into` (skipping ones already there), so progress survives a fetch that fails half-way.
 */
async function fetchInto(into: string[], nc: NatsConnection, stream: string, durable: string, max: number, expires = 2_000): Promise<string[]> {
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const batch = await consumer.fetch({ max_messages: max, expires });
  for await (const m of batch) {
    if (!into.includes(m.string())) into.push(m.string());
    await m.ackAck();
  }
  return into;
}

async function publish(js: JetStreamClient, subject: string, body: string, msgID: string): Promise<number> {
  const ack = await js.publish(subject, new TextEncoder().encode(body), { msgID, timeout: 1_000 });
  return ack.seq;
}

describe('startNats', T, () => {
  it('starts one JetStream server: a stream takes a message and a durable pull consumer fetches it', async () => {
    const server = await startNats();
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(existsSync(server.storeDir)).toBe(true);
    expect(server.log()).toContain('Server is ready');
    expect(server.log()).toContain('Starting JetStream');

    const nc = await client(server.url);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'single', subjects: ['sb.single.>'], num_replicas: 1 });
    await jsm.consumers.add('single', { durable_name: 'reader', ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    expect(await publish(js, 'sb.single.a', 'hello', 'm1')).toBe(1);
    // Same msgID: deduplicated, still one message.
    const dup = await js.publish('sb.single.a', new TextEncoder().encode('hello'), { msgID: 'm1' });
    expect(dup.duplicate).toBe(true);
    expect(await publish(js, 'sb.single.b', 'world', 'm2')).toBe(2);

    expect(await fetchInto([], nc, 'single', 'reader', 10, 1_000)).toEqual(['hello', 'world']);
    const info = await jsm.consumers.info('single', 'reader');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('restart() (running, and after stop()) keeps the port, the store dir and file-stored messages', async () => {
    const server = await startNats();
    const { port, storeDir, url } = server;
    let nc = await client(url);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'kept', subjects: ['sb.kept.>'], num_replicas: 1, storage: StorageType.File });
    await jsm.consumers.add('kept', { durable_name: 'reader', ack_policy: AckPolicy.Explicit });
    await publish(jetstream(nc), 'sb.kept.x', 'before-restart', 'k1');
    await nc.close();

    await server.restart();
    expect([server.port, server.storeDir, server.url]).toEqual([port, storeDir, url]);
    nc = await client(url);
    await publish(jetstream(nc), 'sb.kept.x', 'after-restart', 'k2');
    await nc.close();

    // The faults tests' pattern: stop, (outage), restart.
    await server.stop();
    expect(await accepts(port)).toBe(false);
    await server.restart();
    expect(server.log()).toContain('--- restart #2 ---');

    nc = await client(url);
    const info = await (await jetstreamManager(nc)).streams.info('kept');
    expect(info.state.messages).toBe(2);
    expect(await fetchInto([], nc, 'kept', 'reader', 10, 1_000)).toEqual(['before-restart', 'after-restart']);
  });

  it('kill() is a SIGKILL: the port closes at once and stop()/kill() afterwards are no-ops', async () => {
    const server = await startNats();
    await server.kill();
    expect(await accepts(server.port)).toBe(false);
    expect(server.log()).toMatch(/exited \(SIGKILL\)/);
    await server.kill();
    await server.stop();
  });

  it('fails fast with the server log when the port is taken', async () => {
    const port = await freePort();
    const sockets = new Set<Socket>();
    const blocker: NetServer = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      await expect(startNats({ port })).rejects.toThrow(/exited before it was ready[\s\S]*address already in use/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('uses a given store dir and does not remove it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-nats-given-'));
    tmpDirs.push(dir);
    const server = await startNats({ storeDir: dir });
    expect(server.storeDir).toBe(dir);
    await stopAll();
    expect(existsSync(join(dir, 'jetstream'))).toBe(true);
  });
});

describe('startNatsCluster', T, () => {
  it('forms a 3-node JetStream cluster: an R3 stream keeps taking messages and loses none when a node is SIGKILLed', async () => {
    const cluster = await startNatsCluster(3);
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.urls).toEqual(cluster.nodes.map((n) => n.url));
    expect(new Set(cluster.nodes.map((n) => n.storeDir)).size).toBe(3);

    // Connect through the two nodes that survive, so the test measures the stream, not the client's reconnect.
    const nc = await client(cluster.urls.slice(1));
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const created = await jsm.streams.add({ name: 'r3', subjects: ['sb.r3.>'], num_replicas: 3 });
    expect(created.config.num_replicas).toBe(3);
    expect(created.cluster?.replicas ?? []).toHaveLength(2);
    await jsm.consumers.add('r3', { durable_name: 'reader', ack_policy: AckPolicy.Explicit });

    const js = jetstream(nc);
    const acked: string[] = [];
    for (let i = 0; i < 50; i++) {
      await publish(js, `sb.r3.${i}`, `m${i}`, `m${i}`);
      acked.push(`m${i}`);
    }

    // Worst case on purpose: make node-0 the stream leader (a step-down elects a random peer),
    // so killing it forces an election before publishing resumes.
    for (let i = 0; i < 12; i++) {
      const leader = await eventually('stream leader known', 10_000, async () => {
        const l = (await jsm.streams.info('r3')).cluster?.leader;
        if (!l) throw new Error('no stream leader');
        return l;
      });
      if (leader === 'node-0') break;
      await nc.request('$JS.API.STREAM.LEADER.STEPDOWN.r3', undefined, { timeout: 5_000 });
      await sleep(200);
    }

    await cluster.nodes[0]!.kill();
    expect(await accepts(cluster.nodes[0]!.port)).toBe(false);

    // The stream leader was (all but surely) node-0: publishing resumes after an election. Raft
    // followers of nats-server wait 4-9 s (random) without heartbeats before campaigning;
    // measured 5-8 s here.
    const killed = Date.now();
    for (let i = 50; i < 60; i++) {
      await eventually(`publish m${i} after node-0 was killed`, 12_000, () => publish(js, `sb.r3.${i}`, `m${i}`, `m${i}`));
      acked.push(`m${i}`);
    }
    expect(Date.now() - killed).toBeLessThan(15_000);

    const got: string[] = [];
    await eventually('fetch everything acknowledged', 15_000, async () => {
      await fetchInto(got, nc, 'r3', 'reader', acked.length - got.length, 2_000);
      if (got.length < acked.length) throw new Error(`${got.length}/${acked.length} fetched`);
    });
    expect(got).toEqual(acked);
    const info = await jsm.streams.info('r3');
    expect(info.state.messages).toBe(acked.length);

    await cluster.stop();
    for (const node of cluster.nodes) expect(await accepts(node.port)).toBe(false);
  });
});

describe('natsUrl', T, () => {
  it('starts a private server when SEATBELT_NATS_URL is unset, and uses the variable when set', async () => {
    const saved = process.env.SEATBELT_NATS_URL;
    try {
      delete process.env.SEATBELT_NATS_URL;
      const own = await natsUrl();
      const port = Number(new URL(own.url).port);
      expect(await accepts(port)).toBe(true);
      await own.stop();
      expect(await accepts(port)).toBe(false);

      process.env.SEATBELT_NATS_URL = 'nats://127.0.0.1:1';
      const given = await natsUrl();
      expect(given.url).toBe('nats://127.0.0.1:1');
      await given.stop();
    } finally {
      if (saved === undefined) delete process.env.SEATBELT_NATS_URL;
      else process.env.SEATBELT_NATS_URL = saved;
    }
  });
});

describe('no server outlives its Node process', T, () => {
  it('stopAll() stops every running server and removes the store dirs it created', async () => {
    const a = await startNats();
    const b = await startNats();
    await stopAll();
    expect(await accepts(a.port)).toBe(false);
    expect(await accepts(b.port)).toBe(false);
    expect(existsSync(a.storeDir)).toBe(false);
  });

  it('a process that exits, or is SIGKILLed, without stopping its servers takes them and their store dirs along', async () => {
    // The helper bundled to plain JS, run in a child Node process.
    const dir = mkdtempSync(join(tmpdir(), 'sb-nats-orphan-'));
    tmpDirs.push(dir);
    const helper = join(dir, 'helper.mjs');
    await build({
      entryPoints: [new URL('./nats-server.ts', import.meta.url).pathname],
      bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: helper, logLevel: 'error',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const script = (how: 'exit' | 'hang'): string => `
      import { startNats } from ${JSON.stringify(helper)};
      const s = await startNats();
      console.log(JSON.stringify({ port: s.port, storeDir: s.storeDir }));
      ${how === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}`;

    for (const how of ['exit', 'hang'] as const) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script(how)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.setEncoding('utf8').on('data', (c: string) => {
          out += c;
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting: ${out}`)));
      });
      const { port, storeDir } = JSON.parse(line) as { port: number; storeDir: string };
      if (how === 'hang') {
        expect(await accepts(port)).toBe(true);
        child.kill('SIGKILL'); // no exit hook runs: the watchdog must do it
      }
      await eventually(`nats-server of a child that did "${how}" is gone`, 5_000, async () => {
        if (await accepts(port)) throw new Error(`port ${port} still accepts`);
      });
      await eventually(`store dir of a child that did "${how}" is removed`, 2_000, async () => {
        if (existsSync(storeDir)) throw new Error(`${storeDir} still exists`);
      });
    }
  });
});
