import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/seatbelt.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('seatbelt CLI', () => {
  it('prints usage and its version', () => {
    expect(run('help').stdout).toContain('usage: seatbelt <command>');
    expect(run('version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('refuses an unknown command or benchmark with exit code 2', () => {
    const unknown = run('launch');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch"');
    const bench = run('bench', 'warp');
    expect(bench.status).toBe(2);
    expect(bench.stderr).toContain('unknown benchmark "warp"');
  });
});

describe('seatbelt run', () => {
  it('runs the pipeline, and Ctrl-C (sent twice within a second) drains and stops with nothing in flight (exit 0)', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const data = mkdtempSync(join(tmpdir(), 'seatbelt-run-'));
    try {
      const child = spawn(process.execPath, [BIN, 'run', '--data', data, '--jobs', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      while (!/\n\s+2s\s+in \d+\/s/.test(out)) await new Promise((r) => setTimeout(r, 100));
      // Twice within a second, as `timeout` and supervisors signalling the process and its group
      // do: one request to drain, not a drain cut short by the second.
      child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      // The whole output in the message: a failed drain says what was left where.
      expect({ code, out }).toMatchObject({ code: 0, out: expect.stringMatching(/summary: .* in flight 0, ledger balanced/) });
      expect(readdirSync(data).length).toBeGreaterThan(0);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
