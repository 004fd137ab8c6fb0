/**
 * Structured logging with pino. Every line carries the actor id and its restart count.
 *
 * Lines from different workers never interleave mid-line: each thread writes each line with one
 * synchronous write(2) on the shared file descriptor (pino.destination with `sync: true`), and a
 * write of a line to a pipe or an O_APPEND file is not split by writes from other threads.
 * (Going through a worker's `process.stderr` would post chunks to the main thread instead.)
 *
 * `pretty` (for a terminal) turns each JSON line into `HH:MM:SS.mmm LEVEL [actor] message
 * key=value ...`, still one write per line; files and pipes get JSON.
 */

import { writeSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** File descriptor to write to (default 2, stderr), or a file path opened for append. */
  destination?: number | string;
  /** Human-readable lines (for a terminal) instead of JSON. Default false. */
  pretty?: boolean;
}

const destinations = new Map<number | string, pino.DestinationStream>();

function destinationFor(target: number | string): pino.DestinationStream {
  let stream = destinations.get(target);
  if (stream === undefined) {
    stream = typeof target === 'number' ? pino.destination({ fd: target, sync: true }) : pino.destination({ dest: target, sync: true, append: true, mkdir: true });
    destinations.set(target, stream);
  }
  return stream;
}

export function createLogger(bindings: Record<string, unknown>, options: LoggerOptions = {}): Logger {
  const base = { pid: process.pid, ...bindings };
  if (options.pretty === true && typeof (options.destination ?? 2) === 'number') {
    const fd = (options.destination ?? 2) as number;
    return pino({ level: options.level ?? 'info', base }, { write: (line: string) => void writeSync(fd, prettyLine(line)) });
  }
  return pino({ level: options.level ?? 'info', base }, destinationFor(options.destination ?? 2));
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

/** One pino JSON line as `HH:MM:SS.mmm LEVEL [actor] message key=value ...` in colour. */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const { level, time, msg, pid, actor, restart, supervisor, component, ...rest } = record;
  void pid;
  void restart;
  const n = Number(level);
  const when = new Date(Number(time)).toISOString().slice(11, 23);
  const who = actor ?? supervisor ?? component;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const name = LEVEL_NAMES[n] ?? String(level);
  return `\x1b[90m${when}\x1b[0m \x1b[${LEVEL_COLORS[n] ?? '0'}m${name}\x1b[0m ${who === undefined ? '' : `[${String(who)}] `}${String(msg ?? '')}${fields ? ` \x1b[90m${fields}\x1b[0m` : ''}\n`;
}
