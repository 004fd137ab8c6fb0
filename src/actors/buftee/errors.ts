/**
 * Errors of Buftee's core: misuse and invalid options. Data-path refusals (a full buffer, a
 * refused new buffer) are return values, never exceptions. Each error has a stable `code`;
 * messages name the values involved.
 */

import { describeValue } from '../../runtime/errors.js';

export type BufteeErrorCode =
  | 'ERR_BUFTEE_OPTIONS'
  | 'ERR_BUFTEE_NAME'
  | 'ERR_BUFTEE_CONSUMER'
  | 'ERR_BUFTEE_PREFIX'
  | 'ERR_BUFTEE_OFFSET'
  | 'ERR_BUFTEE_COUNT';

export class BufteeError extends Error {
  readonly code: BufteeErrorCode;
  constructor(code: BufteeErrorCode, message: string) {
    super(message);
    this.name = 'BufteeError';
    this.code = code;
  }
}

/** `buftee options: limits.maxBuffers must be a positive integer, got -1`. */
export function optionsError(path: string, expected: string, got: unknown): BufteeError {
  return new BufteeError('ERR_BUFTEE_OPTIONS', `buftee options: ${path} must be ${expected}, got ${describeValue(got)}`);
}

export function nameError(what: string, got: unknown): BufteeError {
  return new BufteeError(
    'ERR_BUFTEE_NAME',
    `${what} must be 1-64 of [A-Za-z0-9_-] starting with a letter or digit, got ${describeValue(got)}`,
  );
}

export function notSubscribedError(job: string, consumer: string): BufteeError {
  return new BufteeError('ERR_BUFTEE_CONSUMER', `consumer "${consumer}" is not subscribed to job "${job}"`);
}

export function tooManyConsumersError(job: string, max: number): BufteeError {
  return new BufteeError('ERR_BUFTEE_CONSUMER', `job "${job}" already has ${max} consumers, the most a buffer may have`);
}

export function tooManySubscribedJobsError(job: string, max: number): BufteeError {
  return new BufteeError(
    'ERR_BUFTEE_CONSUMER',
    `cannot subscribe to job "${job}": ${max} jobs already have consumers, as many as maxBuffers`,
  );
}

export function prefixMismatchError(job: string, prefix: string, given: string): BufteeError {
  return new BufteeError('ERR_BUFTEE_PREFIX', `buffer of job "${job}" belongs to prefix "${prefix}", not "${given}"`);
}

export function offsetError(job: string, consumer: string, offset: unknown, nextOffset: number): BufteeError {
  return new BufteeError(
    'ERR_BUFTEE_OFFSET',
    `consumer "${consumer}" acked offset ${describeValue(offset)} of job "${job}", whose next offset is ${nextOffset}` +
      ` (an ack names an offset below it)`,
  );
}

export function countError(what: string, got: unknown): BufteeError {
  return new BufteeError('ERR_BUFTEE_COUNT', `${what} must be a non-negative safe integer, got ${describeValue(got)}`);
}
