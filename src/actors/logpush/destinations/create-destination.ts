/**
 * Opens the destination a job's config names (job.ts's Destination: its config) as a Destination
 * (destination.ts: the opened one). Options not in the job config (clocks, sleep, retry policy,
 * fsync) are passed per kind, so tests and the actor set them without touching configs.
 */

import type { JobConfig } from '../../job.js';
import { configError } from '../errors.js';
import type { Destination } from './destination.js';
import { HttpDestination, type HttpDestinationOptions } from './http.js';
import { ObjectStoreDestination, type ObjectStoreOptions } from './object-store.js';
import { StdoutDestination, type StdoutOptions } from './stdout.js';

export interface DestinationOptions {
  readonly objectStore?: Omit<ObjectStoreOptions, 'directory'>;
  readonly http?: Omit<HttpDestinationOptions, 'url' | 'headers' | 'timeoutMs'>;
  readonly stdout?: StdoutOptions;
}

export function createDestination(config: JobConfig['destination'], options: DestinationOptions = {}, path = 'destination'): Destination {
  const type: unknown = (config as { type?: unknown } | null)?.type;
  switch (type) {
    case 'object-store': {
      const { directory } = config as Extract<JobConfig['destination'], { type: 'object-store' }>;
      return new ObjectStoreDestination({ ...options.objectStore, directory });
    }
    case 'http': {
      const { url, headers, timeoutMs } = config as Extract<JobConfig['destination'], { type: 'http' }>;
      return new HttpDestination({ ...options.http, url, headers, timeoutMs }, path);
    }
    case 'stdout':
      return new StdoutDestination(options.stdout);
    default:
      throw configError(`${path}.type`, 'one of object-store, http, stdout', type);
  }
}
