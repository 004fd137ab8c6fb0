/**
 * A supervisor on the main thread, with Erlang/OTP semantics: it starts its children in order,
 * restarts them by its strategy when they fail, gives up past its restart intensity (stopping its
 * children in reverse order and failing to its parent), and drains them in start order on stop.
 * The decisions themselves are pure functions (restart-strategy.ts, restart-intensity.ts,
 * backoff.ts); this file only wires them to workers.
 */

import { EventEmitter } from 'node:events';
import { ActorProcess, type ActorExit, type ExitCause, type KillAt } from './actor-process.js';
import { ActorRef } from './actor-ref.js';
import type { ActorStats } from './control.js';
import { backoffDelay } from './backoff.js';
import type { NormalizedChildSpec, NormalizedSupervisorSpec } from './child-spec.js';
import { RuntimeError, escalationError, unknownChildError } from './errors.js';
import type { IdleOptions } from '../native/idle-strategy.js';
import type { Logger } from './logger.js';
import { addRestart } from './restart-intensity.js';
import { childrenToRestart, shouldRestart } from './restart-strategy.js';
import type { ActorWiring } from './topology.js';
import type { LevelWithSilent } from 'pino';

export interface RestartEvent {
  supervisor: string;
  child: string;
  cause: ExitCause | 'escalation';
  /** Restarts of this child so far, this one included. */
  restartCount: number;
  delayMs: number;
  /** Records the failed incarnation had read and not released (read again by its successor). */
  redelivered: number;
  error?: Error;
}

export interface EscalateEvent {
  supervisor: string;
  child: string;
  error: RuntimeError;
}

export interface StallEvent {
  supervisor: string;
  child: string;
}

export interface SupervisorEvents {
  restart: [RestartEvent];
  escalate: [EscalateEvent];
  stall: [StallEvent];
}

/** What the whole tree shares: its wiring, logging, and what the root does when it fails. */
export interface TreeContext {
  wiring: ReadonlyMap<string, ActorWiring>;
  log: Logger;
  logOptions: { level: LevelWithSilent; destination: number | string };
  idle: IdleOptions;
  readBatch: number;
  bootTimeoutMs: number;
  /** Forwards every event of every supervisor in the tree to the root's listeners. */
  root: Supervisor | null;
  /** Actor ids, senders before receivers (topology.ts drainOrder). */
  drainOrder: readonly string[];
}

interface Child {
  spec: NormalizedChildSpec | NormalizedSupervisorSpec;
  actor: ActorProcess | null;
  supervisor: Supervisor | null;
  /** Set while this supervisor itself stops the child, so its exit is not a failure. */
  stopping: boolean;
  restarts: number;
  consecutive: number;
  startedAt: number;
  redelivered: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly id: string;
  private readonly children: Child[];
  private restartTimes: number[] = [];
  private state: 'idle' | 'running' | 'stopping' | 'failed' | 'stopped' = 'idle';
  private queue: Promise<void> = Promise.resolve();
  private readonly restartsByCause = new Map<string, Map<string, number>>();
  /** Set by the parent: called when this supervisor gives up. */
  onFailure: ((error: RuntimeError) => void) | null = null;

  constructor(
    readonly spec: NormalizedSupervisorSpec,
    private readonly tree: TreeContext,
  ) {
    super();
    this.id = spec.id;
    // Counted at the root, for every supervisor in the tree: bounded by ids x causes.
    if (tree.root === null) {
      this.on('restart', (e) => {
        const causes = this.restartsByCause.get(e.child) ?? new Map<string, number>();
        causes.set(e.cause, (causes.get(e.cause) ?? 0) + 1);
        this.restartsByCause.set(e.child, causes);
      });
    }
    this.children = spec.children.map((c) => ({ spec: c, actor: null, supervisor: null, stopping: false, restarts: 0, consecutive: 0, startedAt: 0, redelivered: 0 }));
  }

  private get root(): Supervisor {
    return this.tree.root ?? this;
  }

  /** Starts every child in order; a child that fails to boot fails the start (no retry loop). */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new RuntimeError('ERR_ACTOR_STOPPED', `supervisor ${this.id} was already started`);
    this.state = 'running';
    for (const child of this.children) {
      try {
        await this.startChild(child);
      } catch (error) {
        this.state = 'failed';
        await this.stopChildren(this.children.slice(0, this.children.indexOf(child)).reverse());
        throw error;
      }
    }
  }

  private async startChild(child: Child): Promise<void> {
    child.stopping = false;
    child.startedAt = performance.now();
    const spec = child.spec;
    if (spec.type === 'supervisor') {
      const sup = new Supervisor(spec, { ...this.tree, root: this.root });
      sup.onFailure = (error) => this.enqueue(() => this.childFailed(child, 'escalation', error, 0));
      child.supervisor = sup;
      await sup.start();
      return;
    }
    const wiring = this.tree.wiring.get(spec.id)!;
    const actor = new ActorProcess({
      data: {
        id: spec.id,
        module: spec.module,
        args: spec.args,
        restartCount: child.restarts,
        heartbeat: wiring.heartbeat,
        heartbeatIntervalMs: Math.max(10, Math.floor(spec.heartbeatTimeoutMs / 5)),
        inbound: [wiring.external, ...wiring.inbound.values()],
        outbound: Object.fromEntries(wiring.outbound),
        idle: this.tree.idle,
        readBatch: this.tree.readBatch,
        log: this.tree.logOptions,
      },
      heartbeatTimeoutMs: spec.heartbeatTimeoutMs,
      bootTimeoutMs: this.tree.bootTimeoutMs,
      resourceLimits: spec.resourceLimits,
    });
    child.actor = actor;
    actor.once('exit', (exit) => {
      if (child.actor !== actor || child.stopping) return;
      this.enqueue(() => this.childFailed(child, exit.cause, exit.error, exit.unreleased, exit));
    });
    await actor.booted();
  }

  /** Serializes failure handling: one restart decision at a time, in order of arrival. */
  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((error: unknown) => {
      this.tree.log.error({ err: error, supervisor: this.id }, 'supervisor failed while handling a child failure');
    });
  }

  private async childFailed(child: Child, cause: ExitCause | 'escalation', error: Error | undefined, unreleased: number, exit?: ActorExit): Promise<void> {
    if (this.state !== 'running') return;
    const spec = child.spec;
    if (cause === 'stall') this.root.emit('stall', { supervisor: this.id, child: spec.id });
    const normal = cause === 'normal';
    this.tree.log[normal ? 'info' : 'warn'](
      { supervisor: this.id, child: spec.id, cause, code: exit?.code, err: error },
      normal ? 'child exited normally' : 'child failed',
    );
    if (!shouldRestart(spec.restart, normal)) {
      child.actor = null;
      child.supervisor = null;
      return;
    }
    const now = performance.now();
    const intensity = addRestart(this.restartTimes, now, this.spec.intensity, this.spec.periodMs);
    this.restartTimes = intensity.restarts;
    if (intensity.exceeded) {
      await this.giveUp(escalationError({
        supervisorId: this.id,
        childId: spec.id,
        restarts: intensity.restarts.length,
        intensity: this.spec.intensity,
        periodMs: this.spec.periodMs,
        cause: error ?? new Error(`child exited (${cause})`),
      }), spec.id);
      return;
    }
    // A child that ran for `stableMs` starts its backoff over.
    child.consecutive = now - child.startedAt >= this.spec.stableMs ? 1 : child.consecutive + 1;
    const delayMs = backoffDelay(child.consecutive - 1, this.spec.backoff, Math.random);
    const ids = this.children.filter((c) => c.actor !== null || c.supervisor !== null || c === child).map((c) => c.spec.id);
    const restartIds = new Set(childrenToRestart(this.spec.strategy, ids, spec.id));
    const toRestart = this.children.filter((c) => restartIds.has(c.spec.id));
    await this.stopChildren(toRestart.filter((c) => c !== child).reverse());
    await sleep(delayMs);
    if (this.state !== 'running') return;
    for (const c of toRestart) {
      c.restarts++;
      c.redelivered = c === child ? unreleased : (c.actor?.heartbeat.redelivered ?? 0);
      const event: RestartEvent = {
        supervisor: this.id,
        child: c.spec.id,
        cause: c === child ? cause : 'escalation',
        restartCount: c.restarts,
        delayMs,
        redelivered: c.redelivered,
        ...(c === child && error !== undefined ? { error } : {}),
      };
      try {
        await this.startChild(c);
      } catch (bootError) {
        this.root.emit('restart', event);
        this.enqueue(() => this.childFailed(c, 'boot', bootError as Error, 0));
        return;
      }
      this.root.emit('restart', event);
    }
  }

  private async giveUp(error: RuntimeError, childId: string): Promise<void> {
    this.state = 'failed';
    this.tree.log.error({ supervisor: this.id, child: childId, err: error }, error.message);
    await this.stopChildren([...this.children].reverse());
    this.root.emit('escalate', { supervisor: this.id, child: childId, error });
    this.onFailure?.(error);
  }

  /** Stops children (in the order given), each within its shutdownMs. */
  private async stopChildren(children: Child[]): Promise<void> {
    for (const child of children) {
      child.stopping = true;
      if (child.actor !== null) {
        if (child.actor.isRunning) child.redelivered = (await child.actor.stop(child.spec.shutdownMs)).unreleased;
      } else if (child.supervisor !== null) {
        await child.supervisor.stop();
      }
    }
  }

  /** Drains every actor in start order (upstream first), then stops children in reverse order. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    await this.queue;
    if (wasRunning) await this.drain();
    await this.stopChildren([...this.children].reverse());
    this.state = 'stopped';
  }

  /**
   * Handles everything in flight: actor by actor, senders before receivers, each stops taking
   * input, empties its mailbox and flushes.
   */
  async drain(): Promise<void> {
    for (const id of this.tree.drainOrder) {
      const actor = this.find(id);
      if (actor === null || !actor.isRunning) continue;
      const shutdownMs = this.childSpec(id)?.shutdownMs ?? 5000;
      await actor.control.drain(shutdownMs).catch((error: unknown) => {
        this.tree.log.warn({ supervisor: this.id, child: id, err: error }, 'drain did not complete');
      });
    }
  }

  private childSpec(id: string): NormalizedChildSpec | null {
    for (const child of this.children) {
      if (child.spec.id === id && child.spec.type === 'worker') return child.spec;
      const inner = child.supervisor?.childSpec(id);
      if (inner) return inner;
    }
    return null;
  }

  /** Restarts so far, by actor (or nested supervisor) id and cause. */
  restartCounts(): Record<string, Record<string, number>> {
    return Object.fromEntries([...this.restartsByCause].map(([id, causes]) => [id, Object.fromEntries(causes)]));
  }

  /** The actor process with this id, anywhere below this supervisor. */
  find(id: string): ActorProcess | null {
    for (const child of this.children) {
      if (child.spec.id === id && child.actor !== null) return child.actor;
      const inner = child.supervisor?.find(id);
      if (inner) return inner;
    }
    return null;
  }

  /** Ids of the actors below this supervisor, in start order. */
  actorIds(): string[] {
    return this.children.flatMap((c) => (c.spec.type === 'supervisor' ? (c.supervisor?.actorIds() ?? []) : [c.spec.id]));
  }

  /** Kills an actor's worker, as a crash would (the cut drill, tests); `at` as ActorProcess.kill. */
  async kill(id: string, at: KillAt = 'turn'): Promise<void> {
    const actor = this.find(id);
    if (actor === null) throw unknownChildError(id, this.actorIds());
    await actor.kill('exit', at);
  }

  /** A main-thread ref into the actor's mailbox. */
  ref(id: string): ActorRef {
    const wiring = this.tree.wiring.get(id);
    if (wiring === undefined) throw unknownChildError(id, [...this.tree.wiring.keys()]);
    return new ActorRef(id, wiring.external);
  }

  /** Each running actor's stats; an actor that does not answer in time is left out. */
  async stats(timeoutMs = 1000): Promise<ActorStats[]> {
    const actors = this.actorIds().flatMap((id) => this.find(id) ?? []);
    const results = await Promise.allSettled(actors.map((a) => a.control.stats(timeoutMs)));
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  get running(): boolean {
    return this.state === 'running';
  }
}
