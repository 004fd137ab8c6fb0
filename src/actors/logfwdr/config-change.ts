/**
 * How much one config changes the routing of the last: the jobs and the (dataset, zone, job) routes
 * it adds and removes. The guard refuses a change that removes too much in one step, the shape of
 * a generator bug that drops most customers (the incident's blank config was the extreme case).
 */

import { DATASETS } from '../job.js';
import type { RoutingTable } from './routing-table.js';

// A refusal names a few removed jobs: enough to recognize the pattern.
const MAX_SHOWN_IDS = 5;

export interface JobDelta {
  readonly addedJobs: number;
  readonly removedJobs: number;
}

export function jobDelta(previous: RoutingTable, next: RoutingTable): JobDelta {
  return {
    addedJobs: next.jobIds.filter((id) => !previous.hasJob(id)).length,
    removedJobs: previous.jobIds.filter((id) => !next.hasJob(id)).length,
  };
}

/**
 * Why `next` removes more than `maxFraction` of `previous`, by jobs or by the routes of the jobs it
 * keeps (a job stripped of most of its zones), or undefined when it does not.
 */
export function excessiveRemoval(previous: RoutingTable, next: RoutingTable, maxFraction: number): string | undefined {
  const removedJobs = previous.jobIds.filter((id) => !next.hasJob(id));
  if (removedJobs.length > maxFraction * previous.jobIds.length) {
    const shown = removedJobs.slice(0, MAX_SHOWN_IDS).map((id) => `"${id}"`).join(', ');
    const more = removedJobs.length > MAX_SHOWN_IDS ? ', …' : '';
    return `${removedOf(removedJobs.length, previous.jobIds.length, 'enabled jobs', maxFraction)} (${shown}${more})`;
  }
  let removedRoutes = 0;
  for (const dataset of DATASETS) {
    for (const zone of previous.zones(dataset)) {
      const kept = next.jobsFor(dataset, zone);
      for (const id of previous.jobsFor(dataset, zone)) if (!kept.includes(id)) removedRoutes++;
    }
  }
  if (removedRoutes > maxFraction * previous.routeCount) {
    return removedOf(removedRoutes, previous.routeCount, '(dataset, zone, job) routes', maxFraction);
  }
  return undefined;
}

function removedOf(removed: number, of: number, what: string, maxFraction: number): string {
  const percent = Math.round((removed / of) * 1000) / 10;
  return `removes ${removed} of ${of} ${what} (${percent}%) in one step, more than maxRemovedFraction ${maxFraction} allows; an operator may force it`;
}
