/**
 * The shared memory of a supervision tree, created once by the root on the main thread and kept
 * for the tree's life: per actor a heartbeat, a ring from the main thread (for `ref(id).send`
 * from embedders), and one ring per sender that names it in `sendsTo`. A restarted actor gets
 * the same buffers, so it re-attaches to its mailbox and reads what its predecessor left.
 */

import { createRing } from '../native/ring.js';
import { createHeartbeat } from './heartbeat.js';
import { specError } from './errors.js';

export interface ActorWiring {
  readonly heartbeat: SharedArrayBuffer;
  /** Ring from the main thread into this actor. */
  readonly external: SharedArrayBuffer;
  /** Rings into this actor, by sender id. */
  readonly inbound: ReadonlyMap<string, SharedArrayBuffer>;
  /** Rings out of this actor, by target id. */
  readonly outbound: ReadonlyMap<string, SharedArrayBuffer>;
}

export interface WiringInput {
  id: string;
  sendsTo: readonly string[];
  mailboxBytes: number;
}

/** Builds every ring of the tree; `sendsTo` naming an unknown actor is a spec error. */
export function buildTopology(actors: readonly WiringInput[]): Map<string, ActorWiring> {
  const byId = new Map(actors.map((a) => [a.id, a]));
  const inbound = new Map<string, Map<string, SharedArrayBuffer>>(actors.map((a) => [a.id, new Map()]));
  const outbound = new Map<string, Map<string, SharedArrayBuffer>>(actors.map((a) => [a.id, new Map()]));
  for (const actor of actors) {
    actor.sendsTo.forEach((target, i) => {
      const receiver = byId.get(target);
      if (receiver === undefined) throw specError(`${actor.id}.sendsTo[${i}]`, `the id of an actor in the tree (${[...byId.keys()].join(', ')})`, target);
      const ring = createRing({ capacity: receiver.mailboxBytes });
      inbound.get(target)!.set(actor.id, ring);
      outbound.get(actor.id)!.set(target, ring);
    });
  }
  return new Map(
    actors.map((a) => [
      a.id,
      {
        heartbeat: createHeartbeat(),
        external: createRing({ capacity: a.mailboxBytes }),
        inbound: inbound.get(a.id)!,
        outbound: outbound.get(a.id)!,
      },
    ]),
  );
}

/**
 * The order to drain actors in: every sender before the actors it sends to, so each drains after
 * everything upstream has stopped and delivered. Actors in a cycle keep their spec order.
 */
export function drainOrder(actors: readonly WiringInput[]): string[] {
  const indegree = new Map(actors.map((a) => [a.id, 0]));
  for (const a of actors) for (const t of a.sendsTo) indegree.set(t, (indegree.get(t) ?? 0) + 1);
  const byId = new Map(actors.map((a) => [a.id, a]));
  const ready = actors.filter((a) => indegree.get(a.id) === 0).map((a) => a.id);
  const order: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const t of byId.get(id)!.sendsTo) {
      const left = indegree.get(t)! - 1;
      indegree.set(t, left);
      if (left === 0) ready.push(t);
    }
  }
  const placed = new Set(order);
  return [...order, ...actors.filter((a) => !placed.has(a.id)).map((a) => a.id)];
}
