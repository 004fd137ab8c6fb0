import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import type { JobConfig } from '../../../src/actors/job.js';
import { CompiledJob, type OfferOutcome } from '../../../src/actors/logpush/compiled-job.js';
import { compressObject, type UploadObject } from '../../../src/actors/logpush/upload-object.js';

const baseJob: JobConfig = {
  id: 'errors-to-r2',
  dataset: 'http_requests',
  zones: [1],
  filter: { where: { and: [{ key: 'EdgeResponseStatus', operator: 'geq', value: 500 }] } },
  output_options: { field_names: ['RayID', 'EdgeResponseStatus', 'EdgeStartTimestamp'], timestamp_format: 'unix', sample_rate: 2 },
  max_upload_records: 3,
  destination: { type: 'stdout' },
};

function compile(job: Partial<JobConfig> = {}): { compiled: CompiledJob; objects: UploadObject[] } {
  const objects: UploadObject[] = [];
  const compiled = new CompiledJob({ ...baseJob, ...job }, { onObject: (o) => objects.push(o) });
  return { compiled, objects };
}

describe('CompiledJob', () => {
  it('filters, then samples, then formats and batches', async () => {
    const { compiled, objects } = compile();
    const outcomes: OfferOutcome[] = [];
    for (let i = 0; i < 12; i++) {
      const status = i % 2 === 0 ? 502 : 200;
      outcomes.push(compiled.offer({ RayID: `r${i}`, EdgeResponseStatus: status, EdgeStartTimestamp: 1e18 + i * 1e9 }, 1e18 + i * 1e9, i, 0));
    }
    // Six events pass the filter (even i); sample_rate 2 keeps the first of each pair of those.
    expect(outcomes).toEqual(['added', 'filtered', 'sampled', 'filtered', 'added', 'filtered', 'sampled', 'filtered', 'added', 'filtered', 'sampled', 'filtered']);
    expect(objects).toHaveLength(1);
    const [object] = objects;
    expect(object!.records).toBe(3);
    expect([object!.firstLedgerId, object!.lastLedgerId]).toEqual([0, 8]);
    expect(compiled.compression).toBe('gzip');
    const gz = await compressObject(object!, compiled.compression);
    expect(gunzipSync(gz.body).toString()).toBe(
      '{"RayID":"r0","EdgeResponseStatus":502,"EdgeStartTimestamp":1000000000}\n' +
        '{"RayID":"r4","EdgeResponseStatus":502,"EdgeStartTimestamp":1000000004}\n' +
        '{"RayID":"r8","EdgeResponseStatus":502,"EdgeStartTimestamp":1000000008}\n',
    );
  });

  it('refuses malformed and oversized events with a reason, and goes on', () => {
    const { compiled, objects } = compile({ filter: undefined, output_options: { field_names: ['RayID'] }, max_upload_bytes: 40 });
    expect(compiled.offer('not an object', 0, 0, 0)).toBe('malformed');
    expect(compiled.lastProblem?.code).toBe('ERR_LOGPUSH_MALFORMED');
    const cyclic: Record<string, unknown> = {};
    cyclic.RayID = cyclic;
    expect(compiled.offer(cyclic, 0, 1, 0)).toBe('malformed');
    expect(compiled.offer({ RayID: 'x'.repeat(40) }, 0, 2, 0)).toBe('oversized');
    expect(compiled.lastProblem).toMatchObject({ code: 'ERR_LOGPUSH_OVERSIZED', message: expect.stringContaining('max_upload_bytes 40') });
    expect(compiled.offer({ RayID: 'ok' }, 0, 3, 0)).toBe('added');
    expect(compiled.flush()).toBe(true);
    expect(objects.map((o) => Buffer.from(o.body).toString())).toEqual(['{"RayID":"ok"}\n']);
  });

  it('seals on the interval through tick and deadline', () => {
    const { compiled, objects } = compile({ filter: undefined, output_options: { field_names: ['RayID'] }, max_upload_interval_seconds: 2 });
    compiled.offer({ RayID: 'a' }, 0, 0, 1000);
    expect(compiled.deadline).toBe(3000);
    expect(compiled.tick(2999)).toBe(false);
    expect(compiled.tick(3000)).toBe(true);
    expect(objects).toHaveLength(1);
    expect(compiled.nextSeq).toBe(1);
  });

  it('refuses an invalid job config, naming the path', () => {
    expect(() => compile({ id: '../x' })).toThrow(expect.objectContaining({ path: 'id' }));
    expect(() => compile({ compression: 'zstd' as 'gzip' })).toThrow(expect.objectContaining({ path: 'compression' }));
    expect(() => compile({ max_upload_bytes: 0 })).toThrow(expect.objectContaining({ path: 'job.max_upload_bytes' }));
    expect(() => compile({ output_options: { field_names: ['a-b'] } })).toThrow(expect.objectContaining({ path: 'output_options.field_names[0]' }));
    expect(() => compile({ filter: { where: { or: [] } } })).toThrow(expect.objectContaining({ path: 'filter.where.or' }));
  });
});
