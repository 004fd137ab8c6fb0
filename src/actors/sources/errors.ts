/**
 * Errors of the sources. Each has a stable `code`; messages name the values involved.
 *
 * Only misuse throws (options out of range, a writer begun for another dataset, a template the
 * codec cannot patch). Bad input from the network never throws: it becomes a ledger reason
 * (`malformed`, `oversized`, `unconfigured`) returned next to the events that were good.
 */

import { describeValue } from '../../runtime/errors.js';

export type SourceErrorCode =
  /** An option out of range or of the wrong type. */
  | 'ERR_SOURCE_OPTIONS'
  /** A template event whose patched fields cannot be found, exactly once, in its encoded bytes. */
  | 'ERR_SOURCE_TEMPLATE'
  /** A call out of order, or with a writer that does not fit (other dataset, other structures). */
  | 'ERR_SOURCE_STATE';

export class SourceError extends Error {
  readonly code: SourceErrorCode;
  constructor(code: SourceErrorCode, message: string) {
    super(message);
    this.name = 'SourceError';
    this.code = code;
  }
}

/** `edge generator: zones must be an integer from 1 to 4294967295, got 0`. */
export function optionError(subject: string, path: string, expected: string, got: unknown): SourceError {
  return new SourceError('ERR_SOURCE_OPTIONS', `${subject}: ${path} must be ${expected}, got ${describeValue(got)}`);
}

export function templateError(message: string): SourceError {
  return new SourceError('ERR_SOURCE_TEMPLATE', message);
}

export function stateError(message: string): SourceError {
  return new SourceError('ERR_SOURCE_STATE', message);
}
