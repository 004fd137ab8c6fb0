/**
 * defineActor: what an actor module exports (as the named export `actor`). The module runs inside
 * a worker thread started by a supervisor; the runtime wires its mailbox and its refs.
 *
 * ```ts
 * export const actor = defineActor({
 *   init: (ctx) => ({ seen: 0 }),
 *   handle: (batch, ctx, state) => { state.seen++; ctx.ref('next').trySend(batch); },
 * });
 * ```
 */

import type { ActorRef } from './actor-ref.js';
import type { Logger } from './logger.js';

export interface ActorContext<Args = unknown> {
  readonly id: string;
  readonly args: Args;
  /** How many times this actor was restarted before this incarnation. */
  readonly restartCount: number;
  /** Records the predecessor read and did not release: the first ones handled may be repeats. */
  readonly redelivered: number;
  readonly log: Logger;
  /** The ref to an actor this one sends to (its `sendsTo` in the spec). */
  ref(target: string): ActorRef;
  /** Ends this actor normally (exit code 0): transient actors are then not restarted. */
  exit(): void;
  /** Aborted when the actor is asked to drain or stop: a `run` loop ends when it fires. */
  readonly signal: AbortSignal;
}

export interface ActorDefinition<Args = unknown, State = unknown> {
  /** Builds the actor's state; a throw here is a boot failure. */
  init?(ctx: ActorContext<Args>): State | Promise<State>;
  /**
   * Handles one batch from the mailbox. `batch` is a view into shared memory, valid until the
   * returned promise settles (the record is released after that): copy out what must outlive it.
   */
  handle?(batch: Uint8Array, ctx: ActorContext<Args>, state: State, type: number): void | Promise<void>;
  /** For actors that produce without a mailbox (sources): runs until `ctx.signal` aborts. */
  run?(ctx: ActorContext<Args>, state: State): Promise<void>;
  /** Called when the mailbox is empty after a drain request: flush what is buffered. */
  flush?(ctx: ActorContext<Args>, state: State): void | Promise<void>;
  stop?(ctx: ActorContext<Args>, state: State): void | Promise<void>;
  stats?(ctx: ActorContext<Args>, state: State): Record<string, unknown>;
  reconfigure?(partial: unknown, ctx: ActorContext<Args>, state: State): void | Promise<void>;
}

export const ACTOR_BRAND = Symbol.for('seatbelt.actor');

export type DefinedActor<Args = unknown, State = unknown> = ActorDefinition<Args, State> & { readonly [ACTOR_BRAND]: true };

export function defineActor<Args = unknown, State = unknown>(definition: ActorDefinition<Args, State>): DefinedActor<Args, State> {
  if (definition.handle === undefined && definition.run === undefined) {
    throw new TypeError('an actor needs a handle (for its mailbox) or a run (a source), or both');
  }
  return Object.freeze({ ...definition, [ACTOR_BRAND]: true as const });
}

export function isDefinedActor(value: unknown): value is DefinedActor {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ACTOR_BRAND] === true;
}
