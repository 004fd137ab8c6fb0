/**
 * Which jobs want an event, by its dataset and zone: the question Logfwdr asks for every event, so
 * each answer is one Map lookup per dataset and per zone and allocates nothing. Built once per
 * accepted config and never changed: a new config makes a new table.
 *
 * Only enabled jobs are routed. Job lists are frozen and shared: every zone served by the same jobs
 * (most zones have one job) holds the same array, so a table of ten million zones holds a few
 * thousand distinct lists, not ten million.
 */

import type { Dataset } from '../job.js';
import type { ParsedConfig } from './config-schema.js';

/** What the table needs of a job; a ParsedJob is one. Job ids are unique, as are a job's zones. */
export interface RoutedJob {
  readonly id: string;
  readonly dataset: Dataset;
  readonly zones: readonly number[];
  readonly enabled?: boolean;
}

const NO_JOBS: readonly string[] = Object.freeze([]);

export class RoutingTable {
  static readonly EMPTY: RoutingTable = new RoutingTable(new Map(), [], 0);

  /** Ids of the routed (enabled) jobs, in config order. */
  readonly jobIds: readonly string[];
  /** Configured (dataset, zone) pairs. */
  readonly size: number;
  /** (dataset, zone, job) triples: the sum of every enabled job's zones. */
  readonly routeCount: number;
  readonly #byDataset: ReadonlyMap<string, ReadonlyMap<number, readonly string[]>>;
  readonly #jobs: ReadonlySet<string>;

  private constructor(byDataset: ReadonlyMap<string, ReadonlyMap<number, readonly string[]>>, jobIds: string[], routeCount: number) {
    this.#byDataset = byDataset;
    this.jobIds = Object.freeze(jobIds);
    this.#jobs = new Set(jobIds);
    let size = 0;
    for (const zones of byDataset.values()) size += zones.size;
    this.size = size;
    this.routeCount = routeCount;
    Object.freeze(this);
  }

  static fromConfig(config: ParsedConfig): RoutingTable {
    return RoutingTable.fromJobs(config.jobs);
  }

  static fromJobs(jobs: Iterable<RoutedJob>): RoutingTable {
    const byDataset = new Map<string, Map<number, readonly string[]>>();
    const jobIds: string[] = [];
    // Zones whose list grew past one job: their lists are mutable until the interning pass below.
    const grown: [Map<number, readonly string[]>, number][] = [];
    let routeCount = 0;
    for (const job of jobs) {
      if (job.enabled === false) continue;
      jobIds.push(job.id);
      let zones = byDataset.get(job.dataset);
      if (zones === undefined) byDataset.set(job.dataset, (zones = new Map()));
      const single = Object.freeze([job.id]);
      for (const zone of job.zones) {
        const existing = zones.get(zone);
        if (existing === undefined) {
          zones.set(zone, single);
        } else if (Object.isFrozen(existing)) {
          zones.set(zone, [...existing, job.id]);
          grown.push([zones, zone]);
        } else {
          (existing as string[]).push(job.id);
        }
      }
      routeCount += job.zones.length;
    }
    const shared = new Map<string, readonly string[]>();
    for (const [zones, zone] of grown) {
      const list = zones.get(zone) as string[];
      // Job ids match NAME_PATTERN, so a newline cannot occur inside one.
      const key = list.join('\n');
      let frozen = shared.get(key);
      if (frozen === undefined) shared.set(key, (frozen = Object.freeze(list)));
      zones.set(zone, frozen);
    }
    return new RoutingTable(byDataset, jobIds, routeCount);
  }

  isConfigured(dataset: Dataset, zone: number): boolean {
    return this.#byDataset.get(dataset)?.has(zone) === true;
  }

  /** The ids of the jobs that want events of `dataset` from `zone`, in config order; a frozen array, never copied. */
  jobsFor(dataset: Dataset, zone: number): readonly string[] {
    return this.#byDataset.get(dataset)?.get(zone) ?? NO_JOBS;
  }

  hasJob(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  /** The configured zones of `dataset`, in the order they were first configured. */
  zones(dataset: Dataset): IterableIterator<number> {
    return (this.#byDataset.get(dataset) ?? EMPTY_ZONES).keys();
  }

  zoneCount(dataset: Dataset): number {
    return this.#byDataset.get(dataset)?.size ?? 0;
  }
}

const EMPTY_ZONES: ReadonlyMap<number, readonly string[]> = new Map();
