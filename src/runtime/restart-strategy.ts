/**
 * What a supervisor restarts when a child exits. As in OTP's supervisor.erl, the strategies are
 * the clauses of one restart step, here one switch; the supervisor stops the returned children in
 * reverse order and starts them again in start order.
 */

import type { RestartType, Strategy } from './child-spec.js';
import { RuntimeError, describeValue, unknownChildError } from './errors.js';

/**
 * The ids to stop and restart after `failedId` failed, in start order: one_for_one the failed
 * child alone, one_for_all every child, rest_for_one the failed child and those started after it
 * (they may depend on it). `childIds` are the supervisor's live children in start order.
 */
export function childrenToRestart(strategy: Strategy, childIds: readonly string[], failedId: string): string[] {
  const index = childIds.indexOf(failedId);
  // A failure reported for a child the supervisor does not hold is a bookkeeping bug in the
  // caller; restarting nothing would hide it.
  if (index < 0) throw unknownChildError(failedId, childIds);
  switch (strategy) {
    case 'one_for_one':
      return [failedId];
    case 'one_for_all':
      return [...childIds];
    case 'rest_for_one':
      return childIds.slice(index);
    default:
      throw unknownVariant('strategy', strategy);
  }
}

/**
 * Whether a child that exited is restarted: permanent always, transient only after a failure
 * (an error, a non-zero exit, a stalled heartbeat, out of memory), temporary never.
 */
export function shouldRestart(restart: RestartType, normalExit: boolean): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return !normalExit;
    case 'temporary':
      return false;
    default:
      throw unknownVariant('restart type', restart);
  }
}

// Values reach here typed, from a validated spec; a new variant added without a clause must fail
// loudly instead of falling through to a silent choice.
function unknownVariant(what: string, value: never): RuntimeError {
  return new RuntimeError('ERR_SPEC', `unknown ${what} ${describeValue(value)}`);
}
