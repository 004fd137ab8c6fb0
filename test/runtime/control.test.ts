/** The control plane and nested supervision, with real workers. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import type { EscalateEvent, RestartEvent, Supervisor } from '../../src/runtime/supervisor.js';
import { CMD_CRASH, CMD_SPIN, CMD_STALL, EMPTY } from './fixtures/commands.js';

const TUNABLE = new URL('./fixtures/tunable.actor.ts', import.meta.url);
const OBEDIENT = new URL('./fixtures/obedient.actor.ts', import.meta.url);
const running: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

describe('control plane', () => {
  it('reconfigures an actor and reports its stats; a bad reconfigure is an error, not a crash', async () => {
    const sup = createSupervisor(
      { id: 'root', type: 'supervisor', children: [{ id: 't', type: 'worker', module: TUNABLE, args: { rate: 1 } }] },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    running.push(sup);
    await sup.start();
    for (let i = 0; i < 5; i++) await sup.ref('t').send(new Uint8Array(8));
    await sup.drain();
    const actor = sup.find('t')!;
    await actor.control.reconfigure({ rate: 7 });
    const stats = await actor.control.stats();
    expect(stats.actor).toEqual({ rate: 7, batches: 5 });
    expect(stats.handledBatches).toBe(5);
    await expect(actor.control.reconfigure({ rate: 'fast' })).rejects.toThrow(/rate must be a number, got string/);
    expect((await actor.control.stats()).actor).toEqual({ rate: 7, batches: 5 });
  });

  it('rejects calls to a dead actor instead of waiting forever', async () => {
    const sup = createSupervisor(
      { id: 'root', type: 'supervisor', children: [{ id: 't', type: 'worker', module: TUNABLE, args: { rate: 1 }, restart: 'temporary' }] },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    running.push(sup);
    await sup.start();
    const actor = sup.find('t')!;
    await actor.kill();
    await expect(actor.control.stats(5000)).rejects.toMatchObject({ code: 'ERR_ACTOR_STOPPED' });
  });
});

describe('kill', () => {
  it("a kill at the next turn of a worker whose loop never turns falls back to terminating it after the grace", async () => {
    const sup = createSupervisor(
      // The watchdog would take 60 s to call this stall: the kill's own grace must end it.
      { id: 'root', type: 'supervisor', children: [{ id: 'o', type: 'worker', module: OBEDIENT, args: {}, restart: 'temporary', heartbeatTimeoutMs: 60_000 }] },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    running.push(sup);
    await sup.start();
    const actor = sup.find('o')!;
    await sup.ref('o').send(EMPTY, CMD_STALL);
    // Its heartbeat stops once the handler blocks the loop.
    await new Promise((r) => setTimeout(r, 300));
    const beats = actor.heartbeat.beats;
    await new Promise((r) => setTimeout(r, 200));
    expect(actor.heartbeat.beats).toBe(beats);
    const exit = await actor.kill('exit', 'turn', 500);
    expect(exit.cause).toBe('exit');
    expect(actor.isRunning).toBe(false);
  });
});

describe('nested supervisors', () => {
  it('a child supervisor past its intensity fails to its parent, which restarts it', async () => {
    const sup = createSupervisor(
      {
        id: 'root',
        type: 'supervisor',
        intensity: 5,
        backoff: { minMs: 1, maxMs: 2, jitter: 0 },
        children: [
          { id: 'steady', type: 'worker', module: TUNABLE, args: { rate: 1 } },
          {
            id: 'inner',
            type: 'supervisor',
            intensity: 0,
            backoff: { minMs: 1, maxMs: 2, jitter: 0 },
            children: [{ id: 'fragile', type: 'worker', module: OBEDIENT }],
          },
        ],
      },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    running.push(sup);
    await sup.start();
    const escalated = new Promise<EscalateEvent>((resolve) => sup.on('escalate', resolve));
    const restarted = new Promise<RestartEvent>((resolve) => sup.on('restart', (e) => e.child === 'inner' && resolve(e)));
    await sup.ref('fragile').send(EMPTY, CMD_CRASH);
    expect((await escalated).supervisor).toBe('inner');
    const restart = await restarted;
    expect(restart.supervisor).toBe('root');
    expect(restart.cause).toBe('escalation');
    await new Promise((r) => setTimeout(r, 200));
    // The restarted inner supervisor runs a fresh fragile; the sibling never stopped.
    const stats = await sup.stats();
    expect(stats.map((s) => [s.id, s.restartCount]).sort()).toEqual([
      ['fragile', 0],
      ['steady', 0],
    ]);
    expect(sup.running).toBe(true);
  });
});

describe('stats().cpuSeconds', () => {
  it("counts the actor's own thread's CPU time: up by what it spun, never more than the time that passed", async () => {
    const sup = createSupervisor(
      { id: 'root', type: 'supervisor', children: [{ id: 'o', type: 'worker', module: OBEDIENT, args: {} }] },
      { onRootFailure: 'emit', log: { level: 'silent' } },
    );
    running.push(sup);
    await sup.start();
    const actor = sup.find('o')!;
    const before = await actor.control.stats(5000);
    expect(typeof before.cpuSeconds).toBe('number');
    const started = performance.now();
    await sup.ref('o').send(EMPTY, CMD_SPIN);
    // The main thread spins meanwhile too: a process-wide figure would count both threads.
    const until = performance.now() + 300;
    while (performance.now() < until);
    // Until the spin was handled (a stats call may be answered before the worker reads its mailbox).
    let after = await actor.control.stats(5000);
    while (after.handledBatches < before.handledBatches + 1) after = await actor.control.stats(5000);
    const wallSeconds = (performance.now() - started) / 1000;
    const spent = after.cpuSeconds! - before.cpuSeconds!;
    expect(spent).toBeGreaterThan(0.05);
    expect(spent).toBeLessThanOrEqual(wallSeconds + 0.02);
  });
});
