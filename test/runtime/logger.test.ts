import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/runtime/create-supervisor.js';

const CHATTY = new URL('./fixtures/chatty.actor.ts', import.meta.url);

describe('logging from many workers', () => {
  it('writes whole lines carrying the actor id and restart count, never interleaved mid-line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'seatbelt-log-')), 'run.log');
    const ids = ['alpha', 'bravo', 'charlie', 'delta'];
    const sup = createSupervisor(
      {
        id: 'root',
        type: 'supervisor',
        children: ids.map((id) => ({ id, type: 'worker', module: CHATTY, args: { lines: 2000, width: 3000 } })),
      },
      { onRootFailure: 'emit', log: { level: 'info', destination: file } },
    );
    await sup.start();
    await sup.stop();
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
    const chatter = lines.map((l) => JSON.parse(l) as { actor?: string; restart?: number; msg: string; filler?: string }).filter((l) => l.msg === 'chatter');
    expect(chatter.length).toBe(ids.length * 2000);
    for (const line of chatter) {
      expect(ids).toContain(line.actor);
      expect(line.restart).toBe(0);
      expect(line.filler!.startsWith(line.actor!)).toBe(true);
    }
  });
});

describe('pretty lines (for a terminal)', () => {
  it('turn a pino JSON line into time, level, actor, message and fields, one line each', async () => {
    const { prettyLine } = await import('../../src/runtime/logger.js');
    const line = prettyLine(JSON.stringify({ level: 50, time: Date.UTC(2026, 10, 25, 21, 3, 4, 567), pid: 1, actor: 'buftee', restart: 0, alert: 'stage_crashed', crashed: 12, msg: 'buftee restarted' }) + '\n');
    const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain).toBe('21:03:04.567 ERROR [buftee] buftee restarted alert=stage_crashed crashed=12\n');
    expect(prettyLine('not json')).toBe('not json\n');
  });
});
