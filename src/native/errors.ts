/**
 * Errors of the shared-memory layer. Each has a stable `code`; messages name the values involved.
 */

export type NativeErrorCode =
  | 'ERR_RING_CAPACITY'
  | 'ERR_RING_RECORD_TOO_LARGE'
  | 'ERR_RING_FOREIGN_BUFFER'
  | 'ERR_RING_LAYOUT_VERSION'
  | 'ERR_RING_KIND'
  | 'ERR_RING_STATE'
  | 'ERR_RING_RECORD_TYPE';

export class RingError extends Error {
  readonly code: NativeErrorCode;
  constructor(code: NativeErrorCode, message: string) {
    super(message);
    this.name = 'RingError';
    this.code = code;
  }
}

/** A RangeError with a stable code, for sizes a ring can never hold. */
export class RingRangeError extends RangeError {
  readonly code: NativeErrorCode;
  constructor(code: NativeErrorCode, message: string) {
    super(message);
    this.name = 'RingRangeError';
    this.code = code;
  }
}

export function capacityError(capacity: number, min: number, max: number): RingRangeError {
  return new RingRangeError(
    'ERR_RING_CAPACITY',
    `ring capacity must be a power of two between ${min} and ${max} bytes, got ${capacity}`,
  );
}

export function recordTooLargeError(length: number, maxPayload: number): RingRangeError {
  return new RingRangeError(
    'ERR_RING_RECORD_TOO_LARGE',
    `record of ${length} bytes exceeds the ring's maximum payload of ${maxPayload} bytes`,
  );
}

export function recordTypeError(type: number): RingRangeError {
  return new RingRangeError(
    'ERR_RING_RECORD_TYPE',
    `record type must be an integer from 1 to 2147483647, got ${type}`,
  );
}

export function foreignBufferError(reason: string): RingError {
  return new RingError('ERR_RING_FOREIGN_BUFFER', `not a Seatbelt ring: ${reason}`);
}

export function stateError(message: string): RingError {
  return new RingError('ERR_RING_STATE', message);
}
