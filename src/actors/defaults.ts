/**
 * The pipeline `npm start` and the benchmark run when given nothing: a synthetic edge of Z zones
 * of which J have a push job, every job to an object-store directory.
 */

import type { JobConfig } from './job.js';

export interface DefaultJobsOptions {
  zones: number;
  jobs: number;
  directory: string;
  compression?: 'gzip' | 'none';
  fieldNames?: string[];
}

export const DEFAULT_FIELD_NAMES = ['RayID', 'ZoneID', 'EdgeStartTimestamp', 'ClientIP', 'ClientRequestHost', 'ClientRequestURI', 'EdgeResponseStatus', 'EdgeResponseBytes', 'CacheCacheStatus'];

/** J jobs spread evenly over the Z zones (zone ranks 1, 1 + Z/J, ...), so busy and quiet zones both have jobs. */
export function defaultJobs(options: DefaultJobsOptions): JobConfig[] {
  const { zones, jobs, directory } = options;
  if (!(Number.isInteger(jobs) && jobs >= 1 && jobs <= zones)) throw new RangeError(`jobs must be an integer from 1 to the number of zones (${zones}), got ${jobs}`);
  const step = Math.floor(zones / jobs);
  return Array.from({ length: jobs }, (_, i) => ({
    id: `job-${i + 1}`,
    dataset: 'http_requests' as const,
    zones: [1 + i * step],
    output_options: { field_names: options.fieldNames ?? DEFAULT_FIELD_NAMES },
    compression: options.compression ?? 'gzip',
    max_upload_interval_seconds: 5,
    destination: { type: 'object-store' as const, directory },
  }));
}
