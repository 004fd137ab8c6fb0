/**
 * Prometheus metrics for a supervision tree (prom-client), and the HTTP endpoint that serves them.
 * Names follow `seatbelt_<subsystem>_<what>_<unit>`; labels are actor ids (validated by the spec,
 * bounded by the tree's size) and the closed set of exit causes: no label can explode.
 *
 * Values are gathered when scraped (collect callbacks), so nothing runs on the data path.
 */

import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Supervisor } from './supervisor.js';

export interface MetricsOptions {
  /** Stats older than this are served again rather than asking every actor per scrape. */
  statsTimeoutMs?: number;
}

export function createRuntimeMetrics(supervisor: Supervisor, registry: Registry = new Registry(), options: MetricsOptions = {}): Registry {
  const statsTimeoutMs = options.statsTimeoutMs ?? 500;
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();

  const restarts = new Counter({ name: 'seatbelt_actor_restarts_total', help: 'Actor restarts, by actor and cause.', labelNames: ['actor', 'cause'], registers: [registry] });
  supervisor.on('restart', (e) => restarts.inc({ actor: e.child, cause: e.cause }));

  // One stats() round trip per scrape: prom-client collects every metric of a scrape at once, so
  // the gauges below share the call in flight.
  let pending: Promise<Awaited<ReturnType<Supervisor['stats']>>> | null = null;
  const statsOnce = (): Promise<Awaited<ReturnType<Supervisor['stats']>>> => {
    if (pending === null) {
      const call = supervisor.stats(statsTimeoutMs);
      pending = call;
      void call.then(
        () => (pending = null),
        () => (pending = null),
      );
    }
    return pending;
  };
  const perActor = (name: string, help: string, value: (s: Awaited<ReturnType<Supervisor['stats']>>[number]) => number | null): Gauge =>
    new Gauge({
      name,
      help,
      labelNames: ['actor'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await statsOnce()) {
          const v = value(s);
          if (v !== null) this.set({ actor: s.id }, v);
        }
      },
    });
  perActor('seatbelt_actor_mailbox_bytes', "Bytes waiting in an actor's mailbox rings.", (s) => s.mailboxBytes);
  perActor('seatbelt_actor_handled_batches', 'Batches handled by the current incarnation of an actor.', (s) => s.handledBatches);
  perActor('seatbelt_actor_event_loop_utilization', "Event-loop utilization of an actor's thread since it started (0-1).", (s) => s.eventLoopUtilization);
  perActor('seatbelt_actor_event_loop_delay_p99_seconds', "An actor thread's event-loop delay, p99 since the last stats() call.", (s) => s.eventLoopDelayP99Ms / 1000);
  perActor('seatbelt_actor_heap_used_bytes', "V8 heap used by an actor's thread.", (s) => s.heapUsedBytes);
  perActor('seatbelt_actor_cpu_seconds', "CPU time of an actor's current thread since it started (Linux; absent elsewhere).", (s) => s.cpuSeconds);
  const up = new Gauge({
    name: 'seatbelt_actor_up',
    help: '1 when the actor answered stats() in time, else 0.',
    labelNames: ['actor'],
    registers: [registry],
    async collect() {
      const answered = new Set((await statsOnce()).map((s) => s.id));
      for (const id of supervisor.actorIds()) this.set({ actor: id }, answered.has(id) ? 1 : 0);
    },
  });
  void up;

  new Gauge({
    name: 'seatbelt_main_event_loop_lag_seconds',
    help: 'Main thread event-loop delay, p99 over the last scrape interval.',
    registers: [registry],
    collect() {
      this.set(lag.percentile(99) / 1e9);
      lag.reset();
    },
  });
  return registry;
}

/** Serves `registry` at GET /metrics on `host:port` (default loopback only). */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
