/**
 * Supervisor and child specs as data, checked once, up front, as OTP's supervisor.erl checks its
 * child specs: the first problem found throws a SpecError naming the path and the value. Inside
 * the runtime, a NormalizedSupervisorSpec is trusted: every default is filled in and it is frozen.
 */

import { nestingError, specError, unknownKeyError } from './errors.js';

export const RESTART_TYPES = ['permanent', 'transient', 'temporary'] as const;
export type RestartType = (typeof RESTART_TYPES)[number];

export const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface BackoffOptions {
  readonly minMs: number;
  readonly maxMs: number;
  /** The delay varies by up to +/- this fraction, so siblings restarted together do not retry in lockstep. */
  readonly jitter: number;
}

export interface ResourceLimits {
  maxOldGenerationSizeMb?: number;
  maxYoungGenerationSizeMb?: number;
}

/** An actor: a worker thread running `module`. */
export interface ChildSpec {
  id: string;
  type: 'worker';
  /** A module path or URL exporting an actor. */
  module: string | URL;
  /** Structured-cloneable; every incarnation of the worker receives a copy. */
  args?: unknown;
  restart?: RestartType;
  shutdownMs?: number;
  heartbeatTimeoutMs?: number;
  resourceLimits?: ResourceLimits;
  /** Ids of the actors this one sends to: the runtime creates a ring for each. */
  sendsTo?: string[];
  /** Capacity of each ring into this actor, in bytes (a power of two). Default 1 MiB. */
  mailboxBytes?: number;
}

export interface SupervisorSpec {
  id: string;
  type: 'supervisor';
  strategy?: Strategy;
  intensity?: number;
  periodMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** A child that runs this long without crashing starts its backoff over. */
  stableMs?: number;
  restart?: RestartType;
  shutdownMs?: number;
  children: (ChildSpec | SupervisorSpec)[];
}

export interface NormalizedChildSpec {
  readonly id: string;
  readonly type: 'worker';
  readonly module: string | URL;
  readonly args: unknown;
  readonly restart: RestartType;
  readonly shutdownMs: number;
  readonly heartbeatTimeoutMs: number;
  /** `maxYoungGenerationSizeMb` is absent unless given: V8 sizes the young generation well by itself. */
  readonly resourceLimits: Readonly<ResourceLimits> & { readonly maxOldGenerationSizeMb: number };
  readonly sendsTo: readonly string[];
  readonly mailboxBytes: number;
}

export interface NormalizedSupervisorSpec {
  readonly id: string;
  readonly type: 'supervisor';
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly periodMs: number;
  readonly backoff: BackoffOptions;
  readonly stableMs: number;
  readonly restart: RestartType;
  readonly shutdownMs: number;
  readonly children: readonly NormalizedSpec[];
}

export type NormalizedSpec = NormalizedChildSpec | NormalizedSupervisorSpec;

export const SPEC_LIMITS = Object.freeze({
  maxDepth: 16,
  maxChildren: 1024,
  // The restart list holds intensity + 1 timestamps per supervisor; this keeps it small.
  maxIntensity: 10_000,
  // setTimeout fires after 1 ms when given more than 2^31 - 1 ms: a longer duration would
  // silently become no wait at all.
  maxDurationMs: 2_147_483_647,
  // Heartbeats are bumped from the worker's event loop; below ~100 ms a GC pause or one large
  // batch would read as a stall and restart a healthy worker.
  minHeartbeatTimeoutMs: 100,
});

export const CHILD_DEFAULTS = Object.freeze({
  restart: 'permanent' as RestartType,
  shutdownMs: 5000,
  heartbeatTimeoutMs: 5000,
  maxOldGenerationSizeMb: 512,
  mailboxBytes: 1 << 20,
});

export const SUPERVISOR_DEFAULTS = Object.freeze({
  strategy: 'one_for_one' as Strategy,
  intensity: 3,
  periodMs: 5000,
  backoff: Object.freeze({ minMs: 10, maxMs: 2000, jitter: 0.2 }),
  stableMs: 10_000,
  restart: 'permanent' as RestartType,
});

const WORKER_KEYS = ['id', 'type', 'module', 'args', 'restart', 'shutdownMs', 'heartbeatTimeoutMs', 'resourceLimits', 'sendsTo', 'mailboxBytes'];
const SUPERVISOR_KEYS = ['id', 'type', 'strategy', 'intensity', 'periodMs', 'backoff', 'stableMs', 'restart', 'shutdownMs', 'children'];
const BACKOFF_KEYS = ['minMs', 'maxMs', 'jitter'];
const RESOURCE_LIMIT_KEYS = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb'];
// Ids become metric labels, log fields and paths like root/logfwdr: no spaces, quotes or slashes.
const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks a whole supervision tree and returns it with defaults filled in, frozen. */
export function validateSupervisorSpec(input: unknown): NormalizedSupervisorSpec {
  const fields = objectAt(input, '', 'a supervisor spec object');
  const type = ownAt(fields, 'type');
  if (type !== 'supervisor') throw specError('type', '"supervisor" (the root of a tree is a supervisor)', type);
  return supervisor(fields, '', 1);
}

type Fields = Readonly<Record<string, unknown>>;

function supervisor(fields: Fields, path: string, depth: number): NormalizedSupervisorSpec {
  checkKeys(fields, path, SUPERVISOR_KEYS, 'supervisor');
  // The supervisor's own fields are checked before its children, so errors come in reading order.
  const settings = {
    id: idAt(fields, path),
    type: 'supervisor' as const,
    strategy: oneOf(fields, path, 'strategy', STRATEGIES, SUPERVISOR_DEFAULTS.strategy),
    intensity: numberAt(fields, path, 'intensity', SUPERVISOR_DEFAULTS.intensity, INTENSITY),
    periodMs: numberAt(fields, path, 'periodMs', SUPERVISOR_DEFAULTS.periodMs, POSITIVE_DURATION),
    backoff: backoffAt(fields, path),
    stableMs: numberAt(fields, path, 'stableMs', SUPERVISOR_DEFAULTS.stableMs, DURATION),
    restart: oneOf(fields, path, 'restart', RESTART_TYPES, SUPERVISOR_DEFAULTS.restart),
  };
  const given = ownAt(fields, 'shutdownMs') === undefined ? undefined : numberAt(fields, path, 'shutdownMs', 0, DURATION);
  const children = childrenAt(fields, path, depth);
  // Children stop one by one in reverse start order, so by default a supervisor is allowed the sum
  // of their allowances: a shorter one would kill its last children before their turn.
  const sum = children.reduce((total, child) => total + child.shutdownMs, 0);
  const shutdownMs = given ?? Math.min(MAX_MS, Math.max(CHILD_DEFAULTS.shutdownMs, sum));
  return Object.freeze({ ...settings, shutdownMs, children });
}

function childrenAt(fields: Fields, path: string, depth: number): readonly NormalizedSpec[] {
  const at = join(path, 'children');
  const list = ownAt(fields, 'children');
  if (!Array.isArray(list) || list.length > SPEC_LIMITS.maxChildren) {
    throw specError(at, `an array of at most ${SPEC_LIMITS.maxChildren} child specs`, list);
  }
  const seen = new Map<string, number>();
  return Object.freeze(
    list.map((item: unknown, index): NormalizedSpec => {
      const childPath = `${at}[${index}]`;
      const child = childAt(objectAt(item, childPath, 'a child spec object'), childPath, depth);
      const first = seen.get(child.id);
      if (first !== undefined) {
        throw specError(`${childPath}.id`, `unique among its siblings (${at}[${first}] has the same id)`, child.id);
      }
      seen.set(child.id, index);
      return child;
    }),
  );
}

function childAt(fields: Fields, path: string, depth: number): NormalizedSpec {
  const type = ownAt(fields, 'type');
  if (type === 'worker') return worker(fields, path);
  if (type !== 'supervisor') throw specError(join(path, 'type'), 'one of worker | supervisor', type);
  // Checked before descending, so a spec that contains itself fails here instead of overflowing the stack.
  if (depth + 1 > SPEC_LIMITS.maxDepth) throw nestingError(path, depth + 1, SPEC_LIMITS.maxDepth);
  return supervisor(fields, path, depth + 1);
}

function worker(fields: Fields, path: string): NormalizedChildSpec {
  checkKeys(fields, path, WORKER_KEYS, 'worker');
  return Object.freeze({
    id: idAt(fields, path),
    type: 'worker',
    module: moduleAt(fields, path),
    args: argsAt(fields, path),
    restart: oneOf(fields, path, 'restart', RESTART_TYPES, CHILD_DEFAULTS.restart),
    shutdownMs: numberAt(fields, path, 'shutdownMs', CHILD_DEFAULTS.shutdownMs, DURATION),
    heartbeatTimeoutMs: numberAt(fields, path, 'heartbeatTimeoutMs', CHILD_DEFAULTS.heartbeatTimeoutMs, HEARTBEAT),
    resourceLimits: resourceLimitsAt(fields, path),
    sendsTo: sendsToAt(fields, path),
    mailboxBytes: mailboxBytesAt(fields, path),
  });
}

function sendsToAt(fields: Fields, path: string): readonly string[] {
  const at = join(path, 'sendsTo');
  const input = ownAt(fields, 'sendsTo');
  if (input === undefined) return Object.freeze([]);
  if (!Array.isArray(input) || input.length > SPEC_LIMITS.maxChildren) throw specError(at, `an array of at most ${SPEC_LIMITS.maxChildren} actor ids`, input);
  const seen = new Map<string, number>();
  // An indexed loop, not forEach: forEach skips the holes of a sparse array, which would let
  // undefined through as an id.
  for (let i = 0; i < input.length; i++) {
    const id: unknown = input[i];
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw specError(`${at}[${i}]`, 'an actor id', id);
    const first = seen.get(id);
    if (first !== undefined) throw specError(`${at}[${i}]`, `named once (${at}[${first}] names it too)`, id);
    seen.set(id, i);
  }
  return Object.freeze([...(input as string[])]);
}

function mailboxBytesAt(fields: Fields, path: string): number {
  const input = ownAt(fields, 'mailboxBytes');
  if (input === undefined) return CHILD_DEFAULTS.mailboxBytes;
  if (typeof input !== 'number' || !Number.isInteger(input) || input < 1024 || input > 1 << 30 || (input & (input - 1)) !== 0) {
    throw specError(join(path, 'mailboxBytes'), 'a power of two from 1024 to 1073741824', input);
  }
  return input;
}

function idAt(fields: Fields, path: string): string {
  const id = ownAt(fields, 'id');
  if (typeof id === 'string' && ID_PATTERN.test(id)) return id;
  throw specError(join(path, 'id'), 'a string of 1 to 64 characters from A-Z a-z 0-9 _ . -', id);
}

function moduleAt(fields: Fields, path: string): string | URL {
  const module = ownAt(fields, 'module');
  // A copy, so a caller mutating its URL later cannot change what a restart loads.
  if (module instanceof URL) return new URL(module.href);
  if (typeof module === 'string' && module !== '') return module;
  throw specError(join(path, 'module'), 'a non-empty module path or a URL', module);
}

function argsAt(fields: Fields, path: string): unknown {
  const args = ownAt(fields, 'args');
  if (args === undefined) return undefined;
  // Every start posts args to a new worker: cloning now turns what would be a DataCloneError at
  // the first restart into a start-up error, and the copy cannot change between incarnations.
  try {
    return structuredClone(args);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw specError(join(path, 'args'), `structured-cloneable (${reason})`, args);
  }
}

function backoffAt(fields: Fields, path: string): BackoffOptions {
  const at = join(path, 'backoff');
  const input = ownAt(fields, 'backoff');
  const defaults = SUPERVISOR_DEFAULTS.backoff;
  if (input === undefined) return defaults;
  const backoff = objectAt(input, at, 'an object with minMs, maxMs and jitter');
  checkKeys(backoff, at, BACKOFF_KEYS, 'backoff');
  const minMs = numberAt(backoff, at, 'minMs', defaults.minMs, DURATION);
  const atLeastMin = range(`a number of ms >= backoff.minMs (${minMs}) and <= ${MAX_MS}`, minMs, MAX_MS);
  // A minMs above the default maxMs raises that default with it, rather than failing on a key the
  // user never wrote.
  const maxMs = numberAt(backoff, at, 'maxMs', Math.max(defaults.maxMs, minMs), atLeastMin);
  const jitter = numberAt(backoff, at, 'jitter', defaults.jitter, FRACTION);
  return Object.freeze({ minMs, maxMs, jitter });
}

function resourceLimitsAt(fields: Fields, path: string): NormalizedChildSpec['resourceLimits'] {
  const at = join(path, 'resourceLimits');
  const input = ownAt(fields, 'resourceLimits');
  const limits = input === undefined ? {} : objectAt(input, at, 'an object of worker resource limits');
  checkKeys(limits, at, RESOURCE_LIMIT_KEYS, 'resourceLimits');
  const maxOldGenerationSizeMb = numberAt(limits, at, 'maxOldGenerationSizeMb', CHILD_DEFAULTS.maxOldGenerationSizeMb, MEGABYTES);
  if (ownAt(limits, 'maxYoungGenerationSizeMb') === undefined) return Object.freeze({ maxOldGenerationSizeMb });
  const maxYoungGenerationSizeMb = numberAt(limits, at, 'maxYoungGenerationSizeMb', 0, MEGABYTES);
  return Object.freeze({ maxOldGenerationSizeMb, maxYoungGenerationSizeMb });
}

interface Rule {
  readonly expected: string;
  /** Called with finite numbers only. */
  readonly accepts: (n: number) => boolean;
}

function range(expected: string, min: number, max: number, minExclusive = false, integer = false): Rule {
  const accepts = (n: number): boolean => (minExclusive ? n > min : n >= min) && n <= max && (!integer || Number.isInteger(n));
  return { expected, accepts };
}

const MAX_MS = SPEC_LIMITS.maxDurationMs;
const DURATION = range(`a number of ms >= 0 and <= ${MAX_MS}`, 0, MAX_MS);
const POSITIVE_DURATION = range(`a number of ms > 0 and <= ${MAX_MS}`, 0, MAX_MS, true);
const MIN_HEARTBEAT = SPEC_LIMITS.minHeartbeatTimeoutMs;
const HEARTBEAT = range(`a number of ms >= ${MIN_HEARTBEAT} and <= ${MAX_MS}`, MIN_HEARTBEAT, MAX_MS);
const INTENSITY = range(`an integer >= 0 and <= ${SPEC_LIMITS.maxIntensity}`, 0, SPEC_LIMITS.maxIntensity, false, true);
const FRACTION = range('a number >= 0 and <= 1', 0, 1);
const MEGABYTES = range('a finite number of MB > 0', 0, Number.MAX_VALUE, true);

/** An absent key, or one set to undefined, takes the default. */
function numberAt(fields: Fields, path: string, key: string, fallback: number, rule: Rule): number {
  const value = ownAt(fields, key);
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && rule.accepts(value)) return value;
  throw specError(join(path, key), rule.expected, value);
}

function oneOf<T extends string>(fields: Fields, path: string, key: string, allowed: readonly T[], fallback: T): T {
  const value = ownAt(fields, key);
  if (value === undefined) return fallback;
  if (allowed.includes(value as T)) return value as T;
  throw specError(join(path, key), `one of ${allowed.join(' | ')}`, value);
}

function objectAt(value: unknown, path: string, expected: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw specError(path, expected, value);
  return value as Fields;
}

// Own properties only: an inherited key would be read yet escape the unknown-key check.
function ownAt(fields: Fields, key: string): unknown {
  return Object.hasOwn(fields, key) ? fields[key] : undefined;
}

function checkKeys(fields: Fields, path: string, known: readonly string[], kind: string): void {
  const unknown = Object.keys(fields).find((key) => !known.includes(key));
  if (unknown !== undefined) throw unknownKeyError(path, unknown, known, kind);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}
