/**
 * The NATS backend's options and names: finite defaults, names from outside checked before they
 * reach a subject (no `.`, `*`, `>`: no subject widening), JetStream's refusals classified into the
 * embedded Buftee's reasons, and the pipeline config's `buftee.backend`, `buftee.nats` and `role`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '../../../../src/actors/buftee/nats/nats-buftee.actor.js';
import { jobStream, jobSubject, NATS_DEFAULTS, resolveNatsOptions, surplusSubject } from '../../../../src/actors/buftee/nats/options.js';
import { parsePipelineConfig, pipelineOptionsOf } from '../../../../src/actors/pipeline-config.js';

const job = { id: 'a', dataset: 'http_requests', zones: [1], output_options: { field_names: ['RayID'] }, destination: { type: 'object-store', directory: '/tmp/x' } };

describe('NATS options and names', () => {
  it('every limit has a finite default, and bad values are refused naming the option', () => {
    const o = resolveNatsOptions({ servers: ['nats://127.0.0.1:4222'] });
    for (const [key, value] of Object.entries(NATS_DEFAULTS)) if (typeof value === 'number') expect(Number.isFinite(o[key as keyof typeof o]), key).toBe(true);
    expect(o.consumer).toBe('logpush');
    expect(() => resolveNatsOptions({ servers: [] })).toThrow(/buftee\.nats\.servers/);
    expect(() => resolveNatsOptions({ servers: ['nats://h:1'], prefix: 'a.b' })).toThrow(/buftee\.nats\.prefix/);
    expect(() => resolveNatsOptions({ servers: ['nats://h:1'], consumers: ['x'], consumer: 'y' })).toThrow(/not one of consumers/);
    expect(() => resolveNatsOptions({ servers: ['nats://h:1'], replicas: 2 })).toThrow(/replicas/);
    expect(() => resolveNatsOptions({ servers: ['nats://h:1'], maxAckPending: 0 })).toThrow(/maxAckPending/);
  });

  it('subjects are <prefix>.<dataset>.<job>; a name that could widen a subject is refused (property)', () => {
    expect(jobSubject('seatbelt', 'http_requests', 'job-1')).toBe('seatbelt.http_requests.job-1');
    expect(jobStream('seatbelt', 'http_requests')).toBe('SEATBELT_http_requests');
    expect(surplusSubject('seatbelt', 77)).toBe('seatbelt._surplus.zone-77');
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (name) => {
        let subject: string | null = null;
        try {
          subject = jobSubject('p', 'http_requests', name);
        } catch {
          return;
        }
        // Accepted: exactly three tokens, none a wildcard, no white space.
        expect(subject.split('.')).toHaveLength(3);
        expect(subject).not.toMatch(/[*>\s]/);
      }),
      { numRuns: 2000 },
    );
    for (const bad of ['a.b', '*', '>', 'a b', '', '../x', 'x'.repeat(65)]) expect(() => jobSubject('p', 'http_requests', bad), bad).toThrow();
  });

  it('JetStream refusals map to the embedded Buftee\'s reasons', () => {
    expect(classify({ code: 10077, message: 'maximum messages per subject exceeded' })).toBe('subject_full');
    expect(classify(new Error('maximum bytes exceeded'))).toBe('stream_full');
    expect(classify(new Error('maximum messages exceeded'))).toBe('stream_full');
    expect(classify({ name: 'NoRespondersError', message: 'no responders' })).toBe('unavailable');
    expect(classify(new Error('TIMEOUT'))).toBe('unavailable');
    expect(classify(new Error('JetStream system temporarily unavailable'))).toBe('unavailable');
    expect(classify(new Error('jetstream is not enabled'))).toBe('unavailable');
    expect(classify(new Error('stream not found'))).toBe('unavailable');
    expect(classify(new Error('invalid subject'))).toBe('other');
  });

  it('the pipeline config switches the backend; roles need it; a push process has no sources', () => {
    const nats = { servers: ['nats://127.0.0.1:4222'] };
    const parsed = parsePipelineConfig({ jobs: [job], role: 'edge', buftee: { backend: 'nats', nats, limits: { maxBuffers: 500 } } }, 'f.yaml');
    const options = pipelineOptionsOf(parsed, '/etc/f.yaml');
    expect(options).toMatchObject({ backend: 'nats', role: 'edge', nats, buftee: { limits: { maxBuffers: 500 } } });
    expect(options.buftee).not.toHaveProperty('backend');
    expect(pipelineOptionsOf(parsePipelineConfig({ jobs: [job] }, 'f.yaml'), 'f.yaml')).toMatchObject({ backend: 'embedded', role: 'all' });
    expect(() => parsePipelineConfig({ jobs: [job], role: 'push' }, 'f.yaml')).toThrow(/f\.yaml: role must be role all unless buftee\.backend is nats/);
    expect(() => parsePipelineConfig({ jobs: [job], buftee: { backend: 'nats' } }, 'f.yaml')).toThrow(/buftee\.nats is required: the NATS servers when buftee\.backend is nats/);
    expect(() => parsePipelineConfig({ jobs: [job], role: 'push', buftee: { backend: 'nats', nats }, sources: { generator: {} } }, 'f.yaml')).toThrow(/sources must be no sources in a push process/);
    expect(() => parsePipelineConfig({ jobs: [job], buftee: { backend: 'nats', nats: { servers: ['nats://h:1'], prefix: 'a.>' } } }, 'f.yaml')).toThrow(/buftee\.nats\.prefix/);
    expect(() => parsePipelineConfig({ jobs: [job], buftee: { backend: 'nats', nats: { ...nats, fetchBatchh: 3 } } }, 'f.yaml')).toThrow(/buftee\.nats\.fetchBatchh is not a known key/);
  });
});
