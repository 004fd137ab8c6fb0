import type { JobConfig } from '../../../src/actors/job.js';

/** A minimal valid job: an id, a dataset, zones, field names and a destination. */
export function job(id: string, zones: number[] = [1], extra: Partial<JobConfig> = {}): JobConfig {
  return {
    id,
    dataset: 'http_requests',
    zones,
    output_options: { field_names: ['ClientIP', 'EdgeResponseStatus'] },
    destination: { type: 'stdout' },
    ...extra,
  };
}

/** `count` jobs j0..j{count-1}, job i on zone 1000 + i. */
export function jobs(count: number, from = 0): JobConfig[] {
  return Array.from({ length: count }, (_, i) => job(`j${from + i}`, [1000 + from + i]));
}

export function configText(list: JobConfig[], generation?: number): string {
  return JSON.stringify(generation === undefined ? { jobs: list } : { generation, jobs: list });
}

/** Resolves once `check` returns true, polling every 10 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
