/** The control plane and nested supervision, with real workers. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import type { EscalateEvent, RestartEvent, Supervisor } from '../../src/runtime/supervisor.js';
import { CMD_CRASH, EMPTY } from './fixtures/commands.js';

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
