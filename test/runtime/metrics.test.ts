import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import { createRuntimeMetrics, serveMetrics } from '../../src/runtime/metrics.js';
import type { Supervisor } from '../../src/runtime/supervisor.js';
import { CMD_CRASH, EMPTY } from './fixtures/commands.js';

const OBEDIENT = new URL('./fixtures/obedient.actor.ts', import.meta.url);
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('runtime metrics', () => {
  it('serves Prometheus text with restarts by cause and per-actor gauges', async () => {
    const sup: Supervisor = createSupervisor(
      { id: 'root', type: 'supervisor', backoff: { minMs: 1, maxMs: 2, jitter: 0 }, children: [{ id: 'a', type: 'worker', module: OBEDIENT }] },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    cleanup.push(() => sup.stop());
    await sup.start();
    const server = await serveMetrics(createRuntimeMetrics(sup), 0);
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const restarted = new Promise((r) => sup.once('restart', r));
    await sup.ref('a').send(EMPTY, CMD_CRASH);
    await restarted;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'seatbelt_actor_restarts_total', 'actor="a",cause="error"')).toBe(1);
    expect(sample(text, 'seatbelt_actor_up', 'actor="a"')).toBe(1);
    // The restarted thread has run (booted, answered stats), but not for seconds.
    const cpu = sample(text, 'seatbelt_actor_cpu_seconds', 'actor="a"');
    expect(cpu).toBeGreaterThan(0);
    expect(cpu).toBeLessThan(30);
    expect(text).toMatch(/^# TYPE seatbelt_main_event_loop_lag_seconds gauge$/m);
    expect((await fetch(`${url}/other`)).status).toBe(404);
  });
});
