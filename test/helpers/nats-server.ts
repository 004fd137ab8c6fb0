/**
 * Real nats-server processes for tests and benches: one JetStream server, or an n-node JetStream
 * cluster, on loopback ports picked at random, each with its own store directory.
 *
 * Every process started here is stopped by stopAll(), killed (SIGKILL) when this Node process
 * exits, and also watched by a tiny `sh` watchdog that SIGKILLs it if this Node process dies
 * without running its exit hooks (SIGKILL, OOM, a test worker torn down by a signal): a failed or
 * aborted test never leaves a nats-server behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export interface NatsServer {
  /** Client URL, e.g. `nats://127.0.0.1:41234`. */
  readonly url: string;
  /** Client port on 127.0.0.1; the same across restart(). */
  readonly port: number;
  /** JetStream store directory (`-sd`); the same across restart(). */
  readonly storeDir: string;
  /** SIGTERM, wait for exit, SIGKILL after 5 s. No-op when not running. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (a crash: nothing is flushed). No-op when not running. */
  kill(): Promise<void>;
  /** Stops the server if it runs, then starts it again on the same port and store dir and waits until ready. */
  restart(): Promise<void>;
  /** The last 64 KiB of the server's stdout and stderr, across restarts. */
  log(): string;
}

export interface NatsCluster {
  readonly nodes: NatsServer[];
  /** Client URLs, one per node, in node order. */
  readonly urls: string[];
  /** Stops every node (those already killed are skipped). */
  stop(): Promise<void>;
}

const LOG_LIMIT = 64 * 1024;
const SINGLE_READY_MS = 10_000;
const CLUSTER_READY_MS = 30_000;
const STOP_GRACE_MS = 5_000;

const running = new Set<Server>();
/** Temporary directories this module created; removed by stopAll() and on exit. */
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of running) s.killSync();
    for (const d of ownedDirs) removeDir(d);
  });
}

function removeDir(d: string): void {
  try {
    rmSync(d, { recursive: true, force: true });
  } catch {
    // best effort (the 'exit' hook must not throw)
  }
}

let binary: string | undefined;
/** `$NATS_SERVER_BIN`, else nats-server on PATH, else Debian's /usr/sbin/nats-server. */
function natsServerBinary(): string {
  if (binary) return binary;
  const fromEnv = process.env.NATS_SERVER_BIN;
  const candidates = fromEnv
    ? [fromEnv]
    : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'nats-server')), '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return (binary = c);
    } catch {
      // next
    }
  }
  throw new Error(`nats-server not found (looked for ${candidates.join(', ')}); install it (apt-get install nats-server) or set NATS_SERVER_BIN`);
}

/** A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1_000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function withConnection<T>(servers: string | string[], fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers, reconnect: false, timeout: 2_000 });
  try {
    return await fn(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** The JetStream API of the server(s) answers an account-info request. */
async function jetStreamAnswers(servers: string | string[]): Promise<void> {
  await withConnection(servers, async (nc) => {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    await jsm.getAccountInfo();
  });
}

class Server implements NatsServer {
  readonly url: string;
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logText = '';
  /** Output of the current start, up to 64 KiB: tells our server listening from a stranger on the port. */
  private startupText = '';
  private starts = 0;

  constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly args: string[],
    /** 'js': ready when the JetStream API answers through this server; 'tcp': when its client port accepts. */
    public readiness: 'js' | 'tcp',
    private readonly readyTimeoutMs: number,
    /** A temporary dir of ours holding the store: the watchdog removes it if this process dies. */
    private readonly ownedDir?: string,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  log(): string {
    return this.logText;
  }

  private append(chunk: string): void {
    if (this.startupText.length < LOG_LIMIT) this.startupText += chunk;
    this.logText += chunk;
    if (this.logText.length > LOG_LIMIT) this.logText = this.logText.slice(-LOG_LIMIT);
  }

  /** Spawns the process and waits until it is ready; on failure kills it and throws with the log. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`nats-server on port ${this.port} is already running`);
    installExitHook();
    mkdirSync(this.storeDir, { recursive: true });
    if (this.starts++ > 0) this.append(`\n--- restart #${this.starts - 1} ---\n`);
    this.startupText = '';
    const bin = natsServerBinary();
    const child = spawn(bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(this);
    child.stdout?.setEncoding('utf8').on('data', (c: string) => this.append(c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => this.append(c));
    let spawnError: Error | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        spawnError = e;
        this.append(`spawn ${bin}: ${e.message}\n`);
        this.forget(child);
        resolve();
      });
      child.once('exit', (code, signal) => {
        this.append(`--- nats-server exited (${signal ?? `code ${code}`}) ---\n`);
        this.forget(child);
        resolve();
      });
    });
    if (child.pid !== undefined) this.watchdog = startWatchdog(child.pid, this.ownedDir);

    const deadline = Date.now() + this.readyTimeoutMs;
    let last = 'not started';
    for (;;) {
      if (this.child !== child) {
        throw new Error(`nats-server (${this.args.join(' ')}) exited before it was ready${spawnError ? `: ${spawnError.message}` : ''}\n${this.logText}`);
      }
      if (!this.startupText.includes(`Listening for client connections on 127.0.0.1:${this.port}`)) {
        last = 'nats-server has not logged "Listening for client connections" yet';
      } else if (await tcpAccepts(this.port)) {
        if (this.readiness === 'tcp') break;
        try {
          await jetStreamAnswers(this.url);
          break;
        } catch (e) {
          last = `JetStream API: ${errText(e)}`;
        }
      } else {
        last = `port ${this.port} does not accept connections`;
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`nats-server on port ${this.port} not ready within ${this.readyTimeoutMs} ms (${last})\n${this.logText}`);
      }
      await sleep(100);
    }
    if (this.child !== child) throw new Error(`nats-server on port ${this.port} exited during start-up\n${this.logText}`);
  }

  private forget(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    running.delete(this);
    this.watchdog?.kill('SIGKILL');
    this.watchdog = undefined;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** For the process 'exit' hook: no waiting possible. */
  killSync(): void {
    this.child?.kill('SIGKILL');
    this.watchdog?.kill('SIGKILL');
  }
}

/**
 * `sh` that blocks reading a pipe from this process; when this process dies (even by SIGKILL,
 * when no exit hook runs) the pipe closes, and it SIGKILLs the server and removes our temporary
 * store dir. Killed by us as soon as the server exits, so it never outlives it.
 */
function startWatchdog(pid: number, dir: string | undefined): ChildProcess | undefined {
  try {
    const w = spawn('/bin/sh', ['-c', 'read _ ; kill -9 "$0" 2>/dev/null; [ -z "$1" ] || rm -rf -- "$1"', String(pid), dir ?? ''], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    w.on('error', () => undefined);
    w.stdin?.on('error', () => undefined);
    w.unref();
    return w;
  } catch {
    return undefined;
  }
}

function ownedTempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  ownedDirs.add(d);
  return d;
}

/** One nats-server with JetStream on 127.0.0.1; resolves when its JetStream API answers (up to 10 s). */
export async function startNats(opts: { port?: number; storeDir?: string } = {}): Promise<NatsServer> {
  // A picked port can be taken between close and bind: pick again (only when we picked it).
  const attempts = opts.port === undefined ? 3 : 1;
  for (let i = 1; ; i++) {
    const port = opts.port ?? (await freePort());
    const storeDir = opts.storeDir ?? ownedTempDir('sb-nats-');
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];
    const server = new Server(port, storeDir, args, 'js', SINGLE_READY_MS, opts.storeDir === undefined ? storeDir : undefined);
    try {
      await server.start();
      return server;
    } catch (e) {
      if (opts.storeDir === undefined) {
        ownedDirs.delete(storeDir);
        removeDir(storeDir);
      }
      const inUse = /address already in use/i.test(server.log());
      if (!inUse || i >= attempts) throw e;
    }
  }
}

/**
 * n nats-servers on loopback forming a JetStream cluster (`sbtest`, servers `node-0`…). Resolves
 * once a JetStream meta leader answers and an R3 (R{min(n,3)}) file stream can be created and
 * deleted (up to 30 s).
 */
export async function startNatsCluster(n = 3): Promise<NatsCluster> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`cluster size must be a positive integer, got ${n}`);
  const root = ownedTempDir('sb-nats-cluster-');
  const clientPorts: number[] = [];
  const clusterPorts: number[] = [];
  // Picked one at a time while the others are still unbound: make sure they are all distinct.
  const taken = new Set<number>();
  while (clientPorts.length < n || clusterPorts.length < n) {
    const p = await freePort();
    if (taken.has(p)) continue;
    taken.add(p);
    if (clientPorts.length < n) clientPorts.push(p);
    else clusterPorts.push(p);
  }
  const nodes = clientPorts.map((port, i) => {
    const routes = clusterPorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
    const storeDir = join(root, `node-${i}`);
    const args = [
      '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir,
      '-n', `node-${i}`,
      '--cluster_name', 'sbtest',
      '--cluster', `nats://127.0.0.1:${clusterPorts[i]}`,
      ...(routes.length > 0 ? ['--routes', routes.join(',')] : []),
    ];
    // Initial start: each node only until its client port accepts (a lone node has no meta
    // leader yet); restart() of one node later waits for the JetStream API through it.
    return new Server(port, storeDir, args, 'tcp', CLUSTER_READY_MS, root);
  });
  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((s) => s.url),
    stop: async () => {
      await Promise.all(nodes.map((s) => s.stop()));
    },
  };
  try {
    await Promise.all(nodes.map((s) => s.start()));
    // Later restarts of a node wait for JetStream, not just TCP.
    for (const s of nodes) s.readiness = 'js';
    await waitClusterReady(cluster.urls, Math.min(n, 3), nodes);
  } catch (e) {
    await Promise.all(nodes.map((s) => s.kill()));
    ownedDirs.delete(root);
    removeDir(root);
    throw e;
  }
  return cluster;
}

async function waitClusterReady(urls: string[], replicas: number, nodes: Server[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_MS;
  let last = '';
  let stage = '';
  const name = `sbtest_ready_${process.pid}`;
  for (;;) {
    const dead = nodes.find((s) => !s.isRunning);
    if (dead) throw new Error(`cluster node ${dead.url} exited during start-up\n${dead.log()}`);
    try {
      stage = 'connect';
      await withConnection(urls, async (nc) => {
        stage = 'jsm';
        const jsm = await jetstreamManager(nc, { timeout: 1_000 });
        stage = 'info';
        await jsm.getAccountInfo();
        stage = 'add';
        await jsm.streams.add({ name, subjects: [`sbtest.ready.${name}`], num_replicas: replicas });
        stage = 'delete';
        await jsm.streams.delete(name);
      });
      return;
    } catch (e) {
      last = `${stage}: ${errText(e)}`;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `nats cluster (${urls.join(', ')}) had no working JetStream R${replicas} within ${CLUSTER_READY_MS} ms (${last})\n` +
          nodes.map((s, i) => `--- node-${i} log (tail) ---\n${s.log().slice(-16 * 1024)}`).join('\n'),
      );
    }
    await sleep(250);
  }
}

/** Stops every server started by this module that still runs, and removes the temporary store dirs it created. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
  for (const d of ownedDirs) removeDir(d);
  ownedDirs.clear();
}

/**
 * A JetStream server for tests that just need one: `$SEATBELT_NATS_URL` when set (CI starts one;
 * stop() is then a no-op), else a private server from startNats() that stop() stops.
 */
export async function natsUrl(): Promise<{ url: string; stop(): Promise<void> }> {
  const fromEnv = process.env.SEATBELT_NATS_URL;
  if (fromEnv) return { url: fromEnv, stop: async () => undefined };
  const server = await startNats();
  return { url: server.url, stop: () => server.stop() };
}
