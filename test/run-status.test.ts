/**
 * `seatbelt run`'s status: on a TTY one block redrawn in place each second (cursor up, clear,
 * draw), with rates, buffers, drops by reason, restarts and alerts; a plain line otherwise.
 */
import { describe, expect, it } from 'vitest';
import { StatusDisplay } from '../src/run-command.js';
import { Ledger } from '../src/actors/ledger.js';
import type { Pipeline } from '../src/actors/pipeline.js';

function fakePipeline(ledger: Ledger, waits: Record<string, number>[] = [], bufteeRestarts: number[] = []): Pipeline {
  let tick = 0;
  return {
    ledger,
    mode: () => 'configured',
    stats: async () => ({
      ledger: ledger.snapshot(),
      totals: ledger.totals(),
      balanced: ledger.balanced(),
      lost: 0,
      stages: { logfwdr: { restarts: 2 }, buftee: { restarts: bufteeRestarts[Math.min(tick, bufteeRestarts.length - 1)] ?? 1, ...(waits.length > 0 ? { blockedMsByLimit: waits[Math.min(tick++, waits.length - 1)] } : {}) } },
      generation: 3,
      mode: 'configured',
      pressure: { level: 'soft', buffers: 1234, bytes: 5 * 2 ** 20, unconfiguredBuffers: 7, trips: 1, maxBuffers: 100_000, sequence: 9 },
      fallback: false,
      alerts: { buftee_pressure: 1 },
    }),
  } as unknown as Pipeline;
}

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('StatusDisplay', () => {
  it('on a TTY redraws one block in place, with rates, buffers, drops by reason, restarts and alerts', async () => {
    const ledger = Ledger.create({ maxJobs: 4 });
    const slot = ledger.slot('a');
    const out = stream(true);
    const display = new StatusDisplay(fakePipeline(ledger), out, performance.now());
    ledger.ingest(slot, 500);
    ledger.deliver(slot, 300);
    ledger.drop(slot, 'shed', 20);
    await display.tick();
    const first = out.text;
    expect(first).not.toContain('\x1b[');
    expect(first).toContain('config generation 3 (configured)');
    expect(first).toContain('pressure soft');
    expect(first).toMatch(/in 500\/s\s+out 300\/s\s+in flight 180\s+lost 20/);
    expect(first).toContain('buffers 1,234 (7 unconfigured, 5.0 MiB)   restarts 3');
    expect(first).toContain('drops/s shed=20');
    expect(first).toContain('alerts buftee_pressure=1');
    const lines = first.split('\n').length - 1;
    ledger.ingest(slot, 100);
    await display.tick();
    const second = out.text.slice(first.length);
    // Up over the block just drawn, clear, and draw it again: one block on the screen.
    expect(second.startsWith(`\x1b[${lines}A\x1b[J`)).toBe(true);
    expect(second).toMatch(/in 100\/s\s+out 0\/s/);
    expect(second).toContain('drops/s none');
    expect(second).toContain('buftee waited none');
  });

  it("says how long Buftee held its input each second, by the limit that was full", async () => {
    const ledger = Ledger.create({ maxJobs: 4 });
    // Buftee's counters at each tick: a job at its budget, then Buftee at its total too, then a
    // restarted Buftee counting from 0 again.
    const waits = [
      { maxBytesPerBuffer: 300.4, maxTotalBytes: 0 },
      { maxBytesPerBuffer: 300.4, maxTotalBytes: 40 },
      { maxBytesPerBuffer: 310, maxTotalBytes: 45 },
      { maxBytesPerBuffer: 25, maxTotalBytes: 0 },
    ];
    const out = stream(false);
    // The fourth tick's counters are a restarted Buftee's.
    const display = new StatusDisplay(fakePipeline(ledger, waits, [1, 1, 1, 2]), out, performance.now());
    for (let i = 0; i < 5; i++) await display.tick();
    const lines = out.text.split('\n').filter(Boolean).map((l) => l.slice(l.indexOf('buftee waited')));
    expect(lines).toEqual([
      'buftee waited maxBytesPerBuffer=300ms',
      'buftee waited maxTotalBytes=40ms',
      'buftee waited maxBytesPerBuffer=10ms maxTotalBytes=5ms',
      'buftee waited maxBytesPerBuffer=25ms',
      'buftee waited none',
    ]);
    const tty = stream(true);
    await new StatusDisplay(fakePipeline(ledger, waits), tty, performance.now()).tick();
    expect(tty.text).toContain('  buftee waited maxBytesPerBuffer=300ms\n');
  });

  it('not on a TTY: one plain line a second, no escape codes', async () => {
    const ledger = Ledger.create({ maxJobs: 4 });
    const slot = ledger.slot('a');
    const out = stream(false);
    const display = new StatusDisplay(fakePipeline(ledger), out, performance.now());
    ledger.ingest(slot, 50);
    await display.tick();
    await display.tick();
    expect(out.text.split('\n').filter(Boolean)).toHaveLength(2);
    expect(out.text).not.toContain('\x1b[');
    expect(out.text).toMatch(/in 50\/s\s+out 0\/s\s+in flight 50\s+buffers 1234 \(soft\)/);
  });
});
