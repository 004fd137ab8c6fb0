/**
 * What the config guard says to its caller: its policies and modes, its decisions per event, the
 * reasons it refuses a config, its alerts (stable names, logged as error lines with an `alert`
 * field), its events and its stats.
 */

import type { ParsedConfig } from './config-schema.js';
import type { RoutingTable } from './routing-table.js';

export const FAILURE_POLICIES = ['last-known-good', 'fail-open', 'fail-closed'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

/** Why a candidate was refused: a closed set, each with its own counter. */
export const REFUSAL_REASONS = ['schema', 'blank', 'too_large', 'mass_removal', 'stale'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Stable alert names: the caller logs each alert as an error line with an `alert` field. */
export const ALERT_NAMES = ['config_refused', 'config_unavailable', 'fail_open', 'fail_closed'] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export type Decision = 'forward' | 'forward-unconfigured' | 'drop-unconfigured';

/** How decisions are made right now: by the table, or failing open or closed for want of a config. */
export type GuardMode = 'configured' | 'fail-open' | 'fail-closed';

export interface GuardAlert {
  readonly alert: AlertName;
  readonly message: string;
  readonly source?: string;
  readonly reason?: RefusalReason;
  /** The guard's generation when the alert was raised. */
  readonly generation: number;
  readonly at: number;
}

export interface AcceptedConfig {
  readonly config: ParsedConfig;
  readonly table: RoutingTable;
  /** The guard's own count of accepted configs, 1 for the first: increases by one on each. */
  readonly generation: number;
  readonly source: string;
  readonly acceptedAt: number;
  /** sha256 of the normalized config: a candidate with the same one is `unchanged`. */
  readonly fingerprint: string;
  /** Accepted with `force`, past the blank, stale and removal checks. */
  readonly forced: boolean;
}

export type OfferResult =
  | { readonly outcome: 'accepted'; readonly accepted: AcceptedConfig; readonly addedJobs: number; readonly removedJobs: number }
  | { readonly outcome: 'unchanged'; readonly generation: number }
  | { readonly outcome: 'refused'; readonly reason: RefusalReason; readonly message: string; readonly error?: unknown };

export type GuardEvent =
  | { readonly type: 'accepted'; readonly accepted: AcceptedConfig; readonly addedJobs: number; readonly removedJobs: number }
  | { readonly type: 'refused'; readonly source: string; readonly reason: RefusalReason; readonly message: string }
  | { readonly type: 'mode_changed'; readonly mode: GuardMode; readonly previous: GuardMode; readonly at: number; readonly previousForMs: number }
  | { readonly type: 'provider_restored'; readonly source: string; readonly unavailableForMs: number };

export interface GuardStats {
  readonly policy: FailurePolicy;
  readonly mode: GuardMode;
  readonly generation: number;
  readonly jobs: number;
  readonly source: string | undefined;
  readonly acceptedAt: number | undefined;
  readonly providerAvailable: boolean;
  readonly accepted: number;
  readonly forced: number;
  readonly unchanged: number;
  readonly unavailable: number;
  readonly refused: Readonly<Record<RefusalReason, number>>;
  readonly consecutiveRefusals: number;
  readonly failOpen: {
    readonly active: boolean;
    readonly episodes: number;
    readonly startedAt: number | undefined;
    readonly endedAt: number | undefined;
  };
}
