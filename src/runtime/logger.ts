/**
 * Structured logging with pino. Every line carries the actor id and its restart count.
 *
 * Lines from different workers never interleave mid-line: each thread writes each line with one
 * synchronous write(2) on the shared file descriptor (pino.destination with `sync: true`), and a
 * write of a line to a pipe or an O_APPEND file is not split by writes from other threads.
 * (Going through a worker's `process.stderr` would post chunks to the main thread instead.)
 */

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** File descriptor to write to (default 2, stderr), or a file path opened for append. */
  destination?: number | string;
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
  return pino({ level: options.level ?? 'info', base: { pid: process.pid, ...bindings } }, destinationFor(options.destination ?? 2));
}
