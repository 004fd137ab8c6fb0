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
