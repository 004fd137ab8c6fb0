/**
 * The fail-open drill with Buftee on NATS JetStream (`seatbelt drill fail-open --nats URL`), at
 * the scale of drills.test.ts: configured jobs lose nothing, the subjects stay under the cap, and
 * the seatbelts engage the same way as with the embedded Buftee.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrillSummary } from '../../src/drill/types.js';
import { natsUrl } from '../helpers/nats-server.js';

const BIN = fileURLToPath(new URL('../../bin/seatbelt.js', import.meta.url));
const SCALE = { zones: 4000, jobs: 100, steadySeconds: 4, blankSeconds: 5, durationSeconds: 14, maxBuffers: 1000, ratePerSecond: 20_000 };

let nats: Awaited<ReturnType<typeof natsUrl>>;
beforeAll(async () => {
  nats = await natsUrl();
});
afterAll(async () => {
  await nats?.stop();
});

describe('seatbelt drill fail-open --nats', () => {
  it('configured jobs lose nothing and the subjects stay under the cap', async () => {
    const args = [
      BIN, 'drill', 'fail-open', '--json', '--nats', nats.url,
      '--zones', String(SCALE.zones), '--jobs', String(SCALE.jobs), '--steady-seconds', String(SCALE.steadySeconds),
      '--blank-seconds', String(SCALE.blankSeconds), '--duration', String(SCALE.durationSeconds),
      '--max-buffers', String(SCALE.maxBuffers), '--rate', String(SCALE.ratePerSecond),
    ];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.once('exit', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as DrillSummary;
    const context = JSON.stringify({ code, stderr: stderr.slice(-3000), summary: { ...summary, seconds: undefined } });
    expect(code, context).toBe(0);
    expect(summary.configuredIngested, context).toBeGreaterThan(10_000);
    expect(summary.configuredLost, context).toBe(0);
    expect(summary.configuredDelivered).toBe(summary.configuredIngested);
    // Subjects (JetStream's buffers) under the cap, every second.
    expect(summary.maxBuffers, context).toBeLessThanOrEqual(SCALE.maxBuffers);
    expect(Math.max(...summary.seconds.map((s) => s.buffers))).toBeLessThanOrEqual(SCALE.maxBuffers);
    expect(summary.ledgerBalanced).toBe(true);
    expect(summary.restarts).toBe(0);
    // The same seatbelts: the episode, the trip, refusals or shedding counted with their reasons.
    expect(summary.alerts.fail_open).toBeGreaterThanOrEqual(1);
    expect(summary.alerts.buftee_pressure, context).toBeGreaterThanOrEqual(1);
    expect((summary.droppedByReason.shed ?? 0) + (summary.droppedByReason.buffer_limit ?? 0)).toBeGreaterThan(0);
    expect(summary.seconds.filter((s) => s.phase === 'after').at(-1)?.mode).toBe('configured');
  });
});
