/**
 * Errors of Logpush. Each has a stable `code` that the actor and tests match on; messages name the
 * values involved, so a ledger entry or a log line says what was wrong without a debugger.
 */

import { describeValue } from '../../runtime/errors.js';

export type LogpushErrorCode =
  /** A job's filter, output options or upload limits are invalid; `path` locates the value. */
  | 'ERR_LOGPUSH_CONFIG'
  /** An event whose fields cannot be written in the job's format (a cycle, a date out of range). */
  | 'ERR_LOGPUSH_MALFORMED'
  /** A formatted line larger than the job's max_upload_bytes: it can never be uploaded. */
  | 'ERR_LOGPUSH_OVERSIZED'
  /** The destination refused the object for good (an HTTP 4xx other than 429); `status` says which. */
  | 'ERR_DESTINATION_REJECTED'
  /** The destination kept failing until the attempts ran out; retrying later may succeed. */
  | 'ERR_DESTINATION_UNAVAILABLE'
  /** A key or path that would leave the object store's directory, or a job id unsafe in a path. */
  | 'ERR_DESTINATION_PATH'
  /** put() after close(), or a put cut short by close(). */
  | 'ERR_DESTINATION_CLOSED';

export class LogpushError extends Error {
  readonly code: LogpushErrorCode;
  /** Where in the job config the bad value is (`filter.where.and[2].operator`), for config errors. */
  readonly path: string | undefined;
  /** The HTTP status of the last response, for destination errors that had one. */
  readonly status: number | undefined;
  /** Whether the same object may succeed if put again later (the caller keeps it buffered). */
  readonly retryable: boolean;

  constructor(
    code: LogpushErrorCode,
    message: string,
    details: { path?: string; status?: number; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LogpushError';
    this.code = code;
    this.path = details.path;
    this.status = details.status;
    this.retryable = details.retryable ?? false;
  }
}

/** Whether `error` is one of ours with the given code (or any of ours without one). */
export function isLogpushError(error: unknown, code?: LogpushErrorCode): error is LogpushError {
  return error instanceof LogpushError && (code === undefined || error.code === code);
}

/** `job config: filter.where.and[0].operator must be one of eq, !eq, …, got "like"`. */
export function configError(path: string, expected: string, got: unknown): LogpushError {
  return new LogpushError('ERR_LOGPUSH_CONFIG', `job config: ${path} must be ${expected}, got ${describeValue(got)}`, { path });
}

/** A config error whose message is not of the "must be X, got Y" kind. */
export function configProblem(path: string, message: string): LogpushError {
  return new LogpushError('ERR_LOGPUSH_CONFIG', `job config: ${path} ${message}`, { path });
}

export function malformedEventError(message: string, cause?: unknown): LogpushError {
  return new LogpushError('ERR_LOGPUSH_MALFORMED', message, { cause });
}

export function oversizedLineError(jobId: string, lineBytes: number, roomBytes: number, maxBytes: number): LogpushError {
  return new LogpushError(
    'ERR_LOGPUSH_OVERSIZED',
    `job "${jobId}": a line of ${lineBytes} bytes exceeds the ${roomBytes} bytes an object of max_upload_bytes ${maxBytes} has room for`,
  );
}

export function destinationPathError(message: string): LogpushError {
  return new LogpushError('ERR_DESTINATION_PATH', message);
}

export function destinationClosedError(what: string): LogpushError {
  return new LogpushError('ERR_DESTINATION_CLOSED', `${what}: the destination is closed`, { retryable: true });
}

/**
 * An object whose leading lines another destination staged (UploadObject.staged): this one would
 * store only its body, so it refuses it for good (counted destination_failed, never a silent loss).
 */
export function stagedElsewhereError(what: string): LogpushError {
  return new LogpushError('ERR_DESTINATION_UNAVAILABLE', `${what}: its leading lines were staged by another destination`, { retryable: false });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
