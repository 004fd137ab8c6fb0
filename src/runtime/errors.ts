/**
 * Errors of the runtime layer. Each has a stable `code` that callers and tests match on; messages
 * name the values involved. Factories below keep the wording of each kind in one place.
 */

export type RuntimeErrorCode =
  | 'ERR_SPEC'
  | 'ERR_ESCALATION'
  | 'ERR_ACTOR_BOOT'
  | 'ERR_ACTOR_STOPPED'
  | 'ERR_CONTROL_TIMEOUT'
  | 'ERR_UNKNOWN_CHILD'
  | 'ERR_POOL_FULL';

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** An invalid supervisor or child spec; `path` locates the offending field (`children[2].restart`). */
export class SpecError extends RuntimeError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('ERR_SPEC', message);
    this.name = 'SpecError';
    this.path = path;
  }
}

// Spec values come from config files and callers; a pathological one must not turn an error
// message into megabytes.
const MAX_SHOWN_CHARS = 60;

/** A short, unambiguous rendering of any value for an error message: strings quoted, types named. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_SHOWN_CHARS
        ? `${JSON.stringify(value.slice(0, MAX_SHOWN_CHARS))}… (${value.length} characters)`
        : JSON.stringify(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return 'a function';
    case 'object':
      break;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor;
    return typeof ctor?.name === 'string' && ctor.name !== '' ? `an instance of ${ctor.name}` : 'an object';
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // Cycles and bigints cannot be shown as JSON; the path in the message still locates the value.
  }
  if (json === undefined) return 'an object';
  return json.length > MAX_SHOWN_CHARS ? `${json.slice(0, MAX_SHOWN_CHARS)}… (an object)` : json;
}

/**
 * `supervisor spec: children[2].restart must be one of permanent | transient | temporary, got "always"`.
 * An empty path means the spec itself.
 */
export function specError(path: string, expected: string, got: unknown): SpecError {
  const subject = path === '' ? 'supervisor spec' : `supervisor spec: ${path}`;
  return new SpecError(path, `${subject} must be ${expected}, got ${describeValue(got)}`);
}

/** `supervisor spec: children[1].restrat is not a known key of a worker spec (did you mean "restart"?); …` */
export function unknownKeyError(path: string, key: string, known: readonly string[], kind: string): SpecError {
  // Keys come from config files: a pathological one is shown quoted and cut short.
  const shownKey = /^[A-Za-z0-9_$]{1,64}$/.test(key) ? key : describeValue(key);
  const at = path === '' ? shownKey : `${path}.${shownKey}`;
  const near = closestKey(key, known);
  const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
  return new SpecError(at, `supervisor spec: ${at} is not a known key of a ${kind} spec${hint}; known keys: ${known.join(', ')}`);
}

/** The known key sharing the longest prefix (3 characters at least, any case) with a misspelt one. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestLength = 2;
  for (const candidate of known) {
    let n = 0;
    while (n < key.length && n < candidate.length && key[n]?.toLowerCase() === candidate[n]?.toLowerCase()) n++;
    if (n > bestLength) [best, bestLength] = [candidate, n];
  }
  return best;
}

export function nestingError(path: string, depth: number, maxDepth: number): SpecError {
  return new SpecError(path, `supervisor spec: ${path} nests supervisors ${depth} deep; at most ${maxDepth} are allowed`);
}

export interface EscalationDetails {
  readonly supervisorId: string;
  /** The child whose failure took the supervisor past its intensity. */
  readonly childId: string;
  /** Restarts counted within the period, the one refused included. */
  readonly restarts: number;
  readonly intensity: number;
  readonly periodMs: number;
  /** The child's failure, kept as `cause` so the root's exit message can show the whole chain. */
  readonly cause?: unknown;
}

export function escalationError(details: EscalationDetails): RuntimeError {
  const { supervisorId, childId, restarts, intensity, periodMs, cause } = details;
  const reason = cause instanceof Error ? `: ${cause.message}` : cause === undefined ? '' : `: ${describeValue(cause)}`;
  return new RuntimeError(
    'ERR_ESCALATION',
    `supervisor "${supervisorId}" gave up: ${restarts} restarts within ${periodMs} ms exceed its intensity of ` +
      `${intensity}; last failure in child "${childId}"${reason}`,
    cause === undefined ? undefined : { cause },
  );
}

// A supervisor may hold 1024 children; a message naming the first few is enough to spot a typo.
const MAX_SHOWN_IDS = 8;

export function unknownChildError(childId: string, knownIds: readonly string[]): RuntimeError {
  const shown = knownIds.slice(0, MAX_SHOWN_IDS).map((id) => `"${id}"`).join(', ');
  const more = knownIds.length > MAX_SHOWN_IDS ? `, … (${knownIds.length} in all)` : '';
  const known = knownIds.length === 0 ? 'it has none' : `it has ${shown}${more}`;
  return new RuntimeError('ERR_UNKNOWN_CHILD', `child "${childId}" is not a child of this supervisor; ${known}`);
}
