/**
 * createSupervisor: the embedding API's entry to the runtime. Validates the tree spec up front,
 * builds the tree's shared memory, and decides what the root's failure does to the process.
 */

import type { LevelWithSilent } from 'pino';
import type { IdleOptions } from '../native/idle-strategy.js';
import { validateSupervisorSpec, type NormalizedChildSpec, type NormalizedSupervisorSpec } from './child-spec.js';
import { specError } from './errors.js';
import { createLogger } from './logger.js';
import { Supervisor } from './supervisor.js';
import { buildTopology, drainOrder } from './topology.js';

export interface CreateSupervisorOptions {
  /**
   * What the root's failure does: `exit` (default) logs the escalation chain and ends the process
   * with exit code 1; `emit` only emits `escalate`, for embedders that handle it themselves.
   */
  onRootFailure?: 'exit' | 'emit';
  log?: { level?: LevelWithSilent; destination?: number | string; pretty?: boolean };
  idle?: IdleOptions;
  /** Most batches an actor handles before releasing them to their senders. Default 64. */
  readBatch?: number;
  /** How long an actor may take to load and init. Default 10 s. */
  bootTimeoutMs?: number;
}

function actorsOf(spec: NormalizedSupervisorSpec): NormalizedChildSpec[] {
  return spec.children.flatMap((c) => (c.type === 'supervisor' ? actorsOf(c) : [c]));
}

export function createSupervisor(spec: unknown, options: CreateSupervisorOptions = {}): Supervisor {
  const normalized = validateSupervisorSpec(spec);
  const actors = actorsOf(normalized);
  // Actors are wired and found by id across the whole tree, so ids must be unique tree-wide.
  const seen = new Set<string>();
  for (const a of actors) {
    if (seen.has(a.id)) throw specError(`${a.id}`, 'an actor id unique in the whole tree', a.id);
    seen.add(a.id);
  }
  const inputs = actors.map((a) => ({ id: a.id, sendsTo: a.sendsTo, mailboxBytes: a.mailboxBytes }));
  const wiring = buildTopology(inputs);
  const logOptions = { level: options.log?.level ?? 'info', destination: options.log?.destination ?? 2, pretty: options.log?.pretty === true };
  const log = createLogger({ supervisor: normalized.id }, logOptions);
  const root = new Supervisor(normalized, {
    wiring,
    log,
    logOptions,
    idle: options.idle ?? {},
    readBatch: options.readBatch ?? 64,
    bootTimeoutMs: options.bootTimeoutMs ?? 10_000,
    root: null,
    drainOrder: drainOrder(inputs),
  });
  root.onFailure = (error) => {
    if ((options.onRootFailure ?? 'exit') !== 'exit') return;
    const chain: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e.message);
    const message = `seatbelt: root supervisor "${normalized.id}" failed: ${chain.join(' <- caused by: ')}`;
    log.fatal({ err: error }, message);
    process.stderr.write(`${message}\n`, () => process.exit(1));
  };
  return root;
}
