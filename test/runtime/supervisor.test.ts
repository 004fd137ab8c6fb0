/** Supervision with real workers: strategies, intensity, restart types, stall and out of memory. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';
import type { RestartEvent, Supervisor } from '../../src/runtime/supervisor.js';
import { CMD_CRASH, CMD_EXIT, CMD_OOM, CMD_STALL, EMPTY } from './fixtures/commands.js';

const OBEDIENT = new URL('./fixtures/obedient.actor.ts', import.meta.url);
const quiet = { level: 'silent' as const };
const running: Supervisor[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

function tree(strategy: string, extra: Record<string, unknown> = {}, children = ['a', 'b', 'c']): Supervisor {
  const sup = createSupervisor(
    {
      id: 'root',
      type: 'supervisor',
      strategy,
      intensity: 5,
      periodMs: 10_000,
      backoff: { minMs: 1, maxMs: 5, jitter: 0 },
      ...extra,
      children: children.map((id) => ({ id, type: 'worker', module: OBEDIENT, shutdownMs: 500 })),
    },
    { onRootFailure: 'emit', log: quiet },
  );
  running.push(sup);
  return sup;
}

function nextRestarts(sup: Supervisor, count: number, timeoutMs = 10_000): Promise<RestartEvent[]> {
  const events: RestartEvent[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`saw ${events.length} of ${count} restarts: ${JSON.stringify(events)}`)), timeoutMs);
    sup.on('restart', (e) => {
      events.push(e);
      if (events.length === count) {
        clearTimeout(timer);
        resolve(events);
      }
    });
  });
}

describe('restart strategies', () => {
  const cases: [string, string, string[]][] = [
    ['one_for_one', 'a', ['a']],
    ['one_for_one', 'b', ['b']],
    ['one_for_one', 'c', ['c']],
    ['one_for_all', 'a', ['a', 'b', 'c']],
    ['one_for_all', 'b', ['a', 'b', 'c']],
    ['one_for_all', 'c', ['a', 'b', 'c']],
    ['rest_for_one', 'a', ['a', 'b', 'c']],
    ['rest_for_one', 'b', ['b', 'c']],
    ['rest_for_one', 'c', ['c']],
  ];
  it.each(cases)('%s: when %s crashes, %j restart', async (strategy, crash, expected) => {
    const sup = tree(strategy);
    await sup.start();
    const restarts = nextRestarts(sup, expected.length);
    await sup.ref(crash).send(EMPTY, CMD_CRASH);
    const events = await restarts;
    expect(events.map((e) => e.child)).toEqual(expected);
    expect(events.find((e) => e.child === crash)!.cause).toBe('error');
    // Give any wrong extra restart a moment to show up.
    await new Promise((r) => setTimeout(r, 200));
    const stats = await sup.stats();
    expect(stats.map((s) => [s.id, s.restartCount])).toEqual(['a', 'b', 'c'].map((id) => [id, expected.includes(id) ? 1 : 0]));
  });
});

describe('restart intensity', () => {
  it('restarts N crashes within the period and escalates on N+1', async () => {
    const sup = tree('one_for_one', { intensity: 3 }, ['a']);
    await sup.start();
    const escalated = new Promise<string>((resolve) => sup.on('escalate', (e) => resolve(e.error.message)));
    for (let i = 1; i <= 3; i++) {
      const restart = nextRestarts(sup, 1);
      await sup.ref('a').send(EMPTY, CMD_CRASH);
      expect((await restart)[0]!.restartCount).toBe(i);
    }
    await sup.ref('a').send(EMPTY, CMD_CRASH);
    expect(await escalated).toMatch(/supervisor "root" gave up: 4 restarts within 10000 ms exceed its intensity of 3; last failure in child "a": a crashed on command/);
    expect(sup.running).toBe(false);
    expect(sup.restartCounts()).toEqual({ a: { error: 3 } });
  });
});

describe('restart types', () => {
  const cases: [string, number, boolean][] = [
    ['permanent', CMD_EXIT, true],
    ['permanent', CMD_CRASH, true],
    ['transient', CMD_EXIT, false],
    ['transient', CMD_CRASH, true],
    ['temporary', CMD_EXIT, false],
    ['temporary', CMD_CRASH, false],
  ];
  it.each(cases)('%s child, command %i: restarted=%s', async (restart, command, restarted) => {
    const sup = createSupervisor(
      { id: 'root', type: 'supervisor', backoff: { minMs: 1, maxMs: 5, jitter: 0 }, children: [{ id: 'a', type: 'worker', module: OBEDIENT, restart }] },
      { onRootFailure: 'emit', log: quiet },
    );
    running.push(sup);
    await sup.start();
    const events: RestartEvent[] = [];
    sup.on('restart', (e) => events.push(e));
    await sup.ref('a').send(EMPTY, command);
    await new Promise((r) => setTimeout(r, 600));
    expect(events.length).toBe(restarted ? 1 : 0);
    expect((await sup.stats()).length).toBe(restarted ? 1 : 0);
  });
});

describe('failures beyond errors', () => {
  it('restarts an actor whose event loop is blocked, with cause stall, within the timeout + 1 s', async () => {
    const sup = createSupervisor(
      { id: 'root', type: 'supervisor', children: [{ id: 'a', type: 'worker', module: OBEDIENT, heartbeatTimeoutMs: 500 }] },
      { onRootFailure: 'emit', log: quiet },
    );
    running.push(sup);
    await sup.start();
    const stalled = new Promise<void>((resolve) => sup.on('stall', () => resolve()));
    const restart = nextRestarts(sup, 1);
    const sent = performance.now();
    await sup.ref('a').send(EMPTY, CMD_STALL);
    await stalled;
    const [event] = await restart;
    expect(event!.cause).toBe('stall');
    expect(performance.now() - sent).toBeLessThan(500 + 1000 + 1000); // + boot of the successor
  });

  it('restarts an actor that allocates without bound, with cause oom', async () => {
    const sup = createSupervisor(
      { id: 'root', type: 'supervisor', children: [{ id: 'a', type: 'worker', module: OBEDIENT, resourceLimits: { maxOldGenerationSizeMb: 32 } }] },
      { onRootFailure: 'emit', log: quiet },
    );
    running.push(sup);
    await sup.start();
    const restart = nextRestarts(sup, 1, 30_000);
    await sup.ref('a').send(EMPTY, CMD_OOM);
    expect((await restart)[0]!.cause).toBe('oom');
  });
});
