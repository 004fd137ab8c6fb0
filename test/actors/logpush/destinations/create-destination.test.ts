import { describe, expect, it } from 'vitest';
import { createDestination } from '../../../../src/actors/logpush/destinations/create-destination.js';
import { HttpDestination } from '../../../../src/actors/logpush/destinations/http.js';
import { ObjectStoreDestination } from '../../../../src/actors/logpush/destinations/object-store.js';
import { StdoutDestination } from '../../../../src/actors/logpush/destinations/stdout.js';
import type { JobConfig } from '../../../../src/actors/job.js';

describe('createDestination', () => {
  it('opens the kind of destination the config names', async () => {
    const store = createDestination({ type: 'object-store', directory: '/tmp/seatbelt-never-written' });
    const http = createDestination({ type: 'http', url: 'https://logs.example.com/in', timeoutMs: 5000 }, { http: { retry: { maxAttempts: 2 } } });
    const stdout = createDestination({ type: 'stdout' });
    expect(store).toBeInstanceOf(ObjectStoreDestination);
    expect(http).toBeInstanceOf(HttpDestination);
    expect((http as HttpDestination).retry.maxAttempts).toBe(2);
    expect((http as HttpDestination).timeoutMs).toBe(5000);
    expect(stdout).toBeInstanceOf(StdoutDestination);
    await Promise.all([store.close(), http.close(), stdout.close()]);
  });

  it('refuses an unknown kind, naming the path', () => {
    expect(() => createDestination({ type: 's3' } as unknown as JobConfig['destination'])).toThrow(
      expect.objectContaining({ code: 'ERR_LOGPUSH_CONFIG', path: 'destination.type' }),
    );
  });
});
