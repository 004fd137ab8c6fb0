import { describe, expect, it } from 'vitest';
import { PassThrough, Writable } from 'node:stream';
import { StdoutDestination } from '../../../../src/actors/logpush/destinations/stdout.js';
import { uploadObject } from '../fixtures/upload-objects.js';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

describe('StdoutDestination', () => {
  it('writes the lines of each object, gunzipped, one object after the other', async () => {
    const { stream, text } = collect();
    const d = new StdoutDestination({ stream });
    await Promise.all([d.put(uploadObject(['{"a":1}', '{"a":2}'], { gzip: true })), d.put(uploadObject(['{"b":1}']))]);
    expect(text()).toBe('{"a":1}\n{"a":2}\n{"b":1}\n');
  });

  it('resolves only once the stream has taken the bytes', async () => {
    let done: (() => void) | undefined;
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        done = callback;
      },
    });
    const d = new StdoutDestination({ stream });
    let settled = false;
    const put = d.put(uploadObject(['x'])).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    done!();
    await put;
    expect(settled).toBe(true);
  });

  it('rejects, retryable, when the stream fails (EPIPE), without an unhandled error', async () => {
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const d = new StdoutDestination({ stream });
    await expect(d.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_UNAVAILABLE', retryable: true, message: expect.stringContaining('EPIPE') });
  });

  it('refuses puts after close, and ends the stream only when asked', async () => {
    const kept = collect();
    const d = new StdoutDestination({ stream: kept.stream });
    await d.close();
    expect(kept.stream.writableEnded).toBe(false);
    await expect(d.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_CLOSED' });
    const owned = collect();
    await new StdoutDestination({ stream: owned.stream, end: true }).close();
    expect(owned.stream.writableEnded).toBe(true);
  });

  it('refuses for good an object whose leading lines another destination staged (it would write only the rest)', async () => {
    const { stream, text } = collect();
    const d = new StdoutDestination({ stream });
    await expect(d.put({ ...uploadObject(['b']), staged: { append: () => {}, discard: () => {} } })).rejects.toMatchObject({ retryable: false, message: expect.stringContaining('staged') });
    expect(text()).toBe('');
  });

  it('writes to process.stdout by default', async () => {
    const d = new StdoutDestination();
    const original = process.stdout.write.bind(process.stdout);
    const written: string[] = [];
    process.stdout.write = ((chunk: Uint8Array | string, ...rest: unknown[]) => {
      written.push(Buffer.from(chunk).toString());
      const callback = rest.find((r) => typeof r === 'function') as ((error?: Error | null) => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
    try {
      await d.put(uploadObject(['to stdout']));
    } finally {
      process.stdout.write = original;
    }
    expect(written).toEqual(['to stdout\n']);
  });
});
