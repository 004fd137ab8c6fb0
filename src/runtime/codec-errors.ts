/**
 * Errors of the batch codec. Each has a stable `code`; messages name the values involved, so a
 * ledger entry or a log line says what was wrong without a debugger.
 */

export type CodecErrorCode =
  /** A batch or a payload is not what the layout or msgpack says it must be. */
  | 'ERR_CODEC_MALFORMED'
  /** Structures that differ between encoder and decoder, or an invalid structures list. */
  | 'ERR_CODEC_STRUCTURES'
  /** A batch would outgrow its writer's maxBytes, or one event can never fit in any batch. */
  | 'ERR_CODEC_TOO_LARGE'
  /** A value, routing key or dataset that cannot be encoded without loss. */
  | 'ERR_CODEC_ENCODE'
  /** An event index outside the batch. */
  | 'ERR_CODEC_INDEX'
  /** A writer or reader used out of order (add before begin, add after finish). */
  | 'ERR_CODEC_STATE'
  /** Options out of range. */
  | 'ERR_CODEC_OPTIONS';

export class CodecError extends Error {
  readonly code: CodecErrorCode;
  constructor(code: CodecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
    this.code = code;
  }
}

/** Whether `error` is one of ours with the given code (or any of ours without one). */
export function isCodecError(error: unknown, code?: CodecErrorCode): error is CodecError {
  return error instanceof CodecError && (code === undefined || error.code === code);
}

export function malformedError(message: string, cause?: unknown): CodecError {
  return new CodecError('ERR_CODEC_MALFORMED', message, cause === undefined ? undefined : { cause });
}

export function structuresError(message: string): CodecError {
  return new CodecError('ERR_CODEC_STRUCTURES', message);
}

export function structuresMismatchError(
  batch: { version: number; fingerprint: number },
  codec: { version: number; fingerprint: number },
): CodecError {
  return structuresError(
    `batch was encoded with structures version ${batch.version} (fingerprint ${hex32(batch.fingerprint)}) ` +
      `but this codec has version ${codec.version} (fingerprint ${hex32(codec.fingerprint)}); ` +
      'every thread must be spawned with the same structures list',
  );
}

export function tooLargeError(message: string): CodecError {
  return new CodecError('ERR_CODEC_TOO_LARGE', message);
}

export function encodeError(message: string, cause?: unknown): CodecError {
  return new CodecError('ERR_CODEC_ENCODE', message, cause === undefined ? undefined : { cause });
}

export function indexError(index: number, count: number): CodecError {
  return new CodecError('ERR_CODEC_INDEX', `event index ${index} is outside the batch's ${count} events`);
}

export function keyIndexError(index: number, keyCount: number): CodecError {
  return new CodecError('ERR_CODEC_INDEX', `key index ${index} is outside the batch's ${keyCount} keys`);
}

export function stateError(message: string): CodecError {
  return new CodecError('ERR_CODEC_STATE', message);
}

export function optionsError(message: string): CodecError {
  return new CodecError('ERR_CODEC_OPTIONS', message);
}

/** `0x0badf00d`: how fingerprints and magic numbers appear in messages. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
