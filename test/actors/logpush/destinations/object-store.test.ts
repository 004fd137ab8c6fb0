import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { ObjectStoreDestination, STALE_STAGED_MS, objectKey } from '../../../../src/actors/logpush/destinations/object-store.js';
import { StoreJanitor, janitorStats, janitorTotals, reportJanitorRemovals } from '../../../../src/actors/logpush/destinations/store-janitor.js';
import { createPipeline } from '../../../../src/actors/pipeline.js';
import { NOV_14_10H_NS, uploadObject } from '../fixtures/upload-objects.js';

let root: string;
let outside: string;

beforeEach(async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'seatbelt-object-store-'));
  root = path.join(base, 'store');
  outside = path.join(base, 'outside');
  await mkdir(outside);
});

afterEach(async () => {
  await rm(path.dirname(root), { recursive: true, force: true });
});

/** Every file under `dir`, relative, with / between segments. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

describe('objectKey', () => {
  it('is <job>/<YYYYMMDD>/<start>_<end>_<seq>.log.gz, in UTC', () => {
    expect(objectKey(uploadObject(['a'], { gzip: true, seq: 7 }))).toBe('job-1/20241114/20241114T100000Z_20241114T100500Z_7.log.gz');
    expect(objectKey(uploadObject(['a'], { seq: 8 }))).toBe('job-1/20241114/20241114T100000Z_20241114T100500Z_8.log');
    // The day comes from the start: an object across midnight stays in its first day's folder.
    const late = NOV_14_10H_NS + 14 * 3600e9 - 1e9;
    expect(objectKey(uploadObject(['a'], { firstTimestamp: late, lastTimestamp: late + 2e9 }))).toBe(
      'job-1/20241114/20241114T235959Z_20241115T000001Z_0.log',
    );
  });

  it('names an object without event timestamps by the clock', () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 5);
    expect(objectKey(uploadObject(['a'], { firstTimestamp: Number.NaN, lastTimestamp: Number.NaN }), now)).toBe(
      'job-1/20250102/20250102T030405Z_20250102T030405Z_0.log',
    );
  });

  it('refuses a job id that is not a safe name', () => {
    for (const jobId of ['../evil', '..', '.', 'a/b', 'a\\b', '', '-x', 'x'.repeat(65), 'job\0']) {
      expect(() => objectKey(uploadObject(['a'], { jobId }))).toThrow(expect.objectContaining({ code: 'ERR_DESTINATION_PATH' }));
    }
  });
});

describe('ObjectStoreDestination', () => {
  it('writes each object under its key, creating the folders', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    await store.put(uploadObject(['{"a":1}', '{"a":2}'], { gzip: true, seq: 0 }));
    const key = await store.write(uploadObject(['{"a":3}'], { seq: 1 }));
    expect(key).toBe('job-1/20241114/20241114T100000Z_20241114T100500Z_1.log');
    expect(await listFiles(root)).toEqual([
      'job-1/20241114/20241114T100000Z_20241114T100500Z_0.log.gz',
      'job-1/20241114/20241114T100000Z_20241114T100500Z_1.log',
    ]);
    const gz = await readFile(path.join(root, 'job-1/20241114/20241114T100000Z_20241114T100500Z_0.log.gz'));
    expect(gunzipSync(gz).toString()).toBe('{"a":1}\n{"a":2}\n');
    expect((await readFile(path.join(root, key))).toString()).toBe('{"a":3}\n');
  });

  it("writes to a temporary name in the job's folder first, then gives the file its name", async () => {
    const jobFolder = path.join(root, 'job-1');
    const folder = path.join(jobFolder, '20241114');
    await mkdir(folder, { recursive: true });
    const seen: string[] = [];
    const watchers: FSWatcher[] = [];
    try {
      // The temporary file is made, written and removed in the job's folder; the object appears in the date's.
      watchers.push(watch(jobFolder, (_event, name) => name !== null && seen.push(`job:${name}`)));
      watchers.push(watch(folder, (_event, name) => name !== null && seen.push(`date:${name}`)));
      const store = new ObjectStoreDestination({ directory: root });
      const key = await store.write(uploadObject(['x'], { gzip: true }));
      // inotify delivers asynchronously: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const final = path.basename(key);
      expect(seen.some((e) => /^job:\.job-1\..*\.tmp$/.test(e))).toBe(true);
      expect(seen).toContain(`date:${final}`);
      // Nothing temporary ever among the objects, and none left behind.
      expect(seen.filter((e) => e.startsWith('date:') && e !== `date:${final}`)).toEqual([]);
      expect(await readdir(folder)).toEqual([final]);
      expect(await readdir(jobFolder)).toEqual(['20241114']);
    } finally {
      for (const w of watchers) w.close();
    }
  });

  it('never shows a reader a partial object', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    // Incompressible, so the file is megabytes and its write takes many steps.
    const lines = Array.from({ length: 64 }, () => randomBytes(48 * 1024).toString('base64'));
    const expected = `${lines.join('\n')}\n`;
    for (let seq = 0; seq < 3; seq++) {
      const object = uploadObject(lines, { gzip: true, seq });
      const file = path.join(root, objectKey(object));
      let done = false;
      const seen: string[] = [];
      const put = store.put(object).finally(() => (done = true));
      while (!done) {
        try {
          seen.push(gunzipSync(await readFile(file)).toString() === expected ? 'whole' : 'different');
        } catch (error) {
          // ENOENT: not there yet; anything else (a truncated gzip) is what must never happen.
          seen.push((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : `partial: ${String(error)}`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      await put;
      expect(seen.filter((s) => s !== 'absent' && s !== 'whole')).toEqual([]);
      expect(gunzipSync(await readFile(file)).toString()).toBe(expected);
    }
  });

  it('never replaces an existing object: a repeated key gets a suffix', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    const first = await store.write(uploadObject(['first']));
    const second = await store.write(uploadObject(['second']));
    const third = await store.write(uploadObject(['third']));
    expect([first, second, third]).toEqual([
      'job-1/20241114/20241114T100000Z_20241114T100500Z_0.log',
      'job-1/20241114/20241114T100000Z_20241114T100500Z_0-1.log',
      'job-1/20241114/20241114T100000Z_20241114T100500Z_0-2.log',
    ]);
    expect((await readFile(path.join(root, first))).toString()).toBe('first\n');
    expect((await readFile(path.join(root, third))).toString()).toBe('third\n');
  });

  it('refuses a job id that would leave the directory, touching nothing', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    for (const jobId of ['../outside', '..', '../../etc']) {
      await expect(store.put(uploadObject(['x'], { jobId }))).rejects.toMatchObject({ code: 'ERR_DESTINATION_PATH' });
    }
    expect(await listFiles(outside)).toEqual([]);
    await expect(readdir(root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a folder that a symlink takes outside the directory', async () => {
    await mkdir(root, { recursive: true });
    await symlink(outside, path.join(root, 'job-1'));
    const store = new ObjectStoreDestination({ directory: root });
    await expect(store.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_PATH', message: expect.stringContaining('symlink') });
    expect(await listFiles(outside)).toEqual([]);
  });

  it('reports file system failures as retryable, leaving no temporary file', async () => {
    await mkdir(path.join(root, 'job-1'), { recursive: true });
    // A file where the date folder should be: mkdir fails.
    await writeFile(path.join(root, 'job-1', '20241114'), 'in the way');
    const store = new ObjectStoreDestination({ directory: root });
    await expect(store.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_UNAVAILABLE', retryable: true });
    expect(await listFiles(root)).toEqual(['job-1/20241114']);
  });

  it('refuses puts after close', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    await store.close();
    await expect(store.put(uploadObject(['x']))).rejects.toMatchObject({ code: 'ERR_DESTINATION_CLOSED' });
  });

  it('keeps gzip bytes as given', async () => {
    const store = new ObjectStoreDestination({ directory: root, fsync: false });
    const body = gzipSync('a\n');
    const key = await store.write({ ...uploadObject(['a']), compression: 'gzip', body });
    expect(Buffer.compare(await readFile(path.join(root, key)), body)).toBe(0);
  });
});

describe('ObjectStoreDestination staging', () => {
  const lines = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `{"n":${from + i},"pad":"${'p'.repeat((from + i) % 37)}"}`);
  const chunk = (ls: string[]): Buffer => Buffer.from(ls.map((l) => `${l}\n`).join(''));
  /** The temporary files under the store. */
  const temps = async (): Promise<string[]> => (await listFiles(root)).filter((f) => f.endsWith('.tmp'));

  it("writes an open object's chunks to a temporary file in its job's folder, then the body after them under the key", async () => {
    const store = new ObjectStoreDestination({ directory: root });
    const part = store.openStaging('job-1', 'none');
    let released = 0;
    const all = lines(0, 300);
    for (let i = 0; i < 250; i += 50) part.append(chunk(all.slice(i, i + 50)), () => released++);
    // Written while the object is still open: a dot-file in the job's folder, not yet an object.
    await vi.waitFor(async () => expect(released).toBe(5));
    const [temp] = await temps();
    expect(temp).toMatch(/^job-1\/\.job-1\..*\.tmp$/);
    expect((await readFile(path.join(root, temp!))).toString()).toBe(chunk(all.slice(0, 250)).toString());
    const key = await store.write({ ...uploadObject(all), body: chunk(all.slice(250)), staged: part });
    expect(key).toBe('job-1/20241114/20241114T100000Z_20241114T100500Z_0.log');
    expect((await readFile(path.join(root, key))).toString()).toBe(chunk(all).toString());
    expect(await temps()).toEqual([]);
  });

  it('leaves nothing behind once its puts resolve, and no descriptor once closed: staged and whole objects, synced folders', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    /** Descriptors of this process open on anything inside the store: files or folders. */
    const openInside = async (): Promise<number> => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target === root || target.startsWith(root + path.sep)) n++;
      }
      return n;
    };
    const puts = Array.from({ length: 60 }, (_, i) => {
      const jobId = `job-${i % 30}`;
      if (i % 2 === 1) return store.write({ ...uploadObject(lines(i, 3)), jobId, seq: i });
      const part = store.openStaging(jobId, 'none');
      part.append(chunk(lines(i, 2)), () => undefined);
      return store.write({ ...uploadObject(lines(i, 3)), jobId, seq: i, body: chunk(lines(i + 2, 1)), staged: part });
    });
    const keys = await Promise.all(puts);
    // Resolved: every object under its key, whole, and no temporary name left.
    for (const [i, key] of keys.entries()) expect((await readFile(path.join(root, key))).toString()).toBe(chunk(lines(i, 3)).toString());
    expect(await temps()).toEqual([]);
    await store.close();
    expect(await openInside()).toBe(0);
  });

  it('holds no file descriptor between chunks: 200 open objects, none open once their chunks are written', async () => {
    const store = new ObjectStoreDestination({ directory: root, fsync: false });
    /** Descriptors of this process open on a staged file of the store. */
    const openStaged = async (): Promise<number> => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target.startsWith(root) && target.endsWith('.tmp')) n++;
      }
      return n;
    };
    let released = 0;
    const parts = Array.from({ length: 200 }, (_, i) => {
      const part = store.openStaging(`job-${i}`, 'none');
      part.append(chunk(lines(i, 5)), () => released++);
      part.append(chunk(lines(i + 5, 5)), () => released++);
      return part;
    });
    await vi.waitFor(() => expect(released).toBe(400));
    await vi.waitFor(async () => expect(await openStaged()).toBe(0));
    expect(await temps()).toHaveLength(200);
    const keys = await Promise.all(parts.map((part, i) => store.write({ ...uploadObject(lines(i, 12)), jobId: `job-${i}`, body: chunk(lines(i + 10, 2)), staged: part })));
    for (const [i, key] of keys.entries()) expect((await readFile(path.join(root, key))).toString()).toBe(chunk(lines(i, 12)).toString());
    expect(await openStaged()).toBe(0);
    expect(await temps()).toEqual([]);
  });

  it('gzips each chunk as a member of its own: the object gunzips to all its lines', async () => {
    const store = new ObjectStoreDestination({ directory: root, fsync: false });
    const part = store.openStaging('job-1', 'gzip');
    const all = lines(0, 400);
    let released = 0;
    for (let i = 0; i < 300; i += 100) part.append(chunk(all.slice(i, i + 100)), () => released++);
    const key = await store.write({ ...uploadObject(all), compression: 'gzip', body: gzipSync(chunk(all.slice(300))), staged: part });
    expect(released).toBe(3);
    expect(key.endsWith('.log.gz')).toBe(true);
    expect(gunzipSync(await readFile(path.join(root, key))).toString()).toBe(chunk(all).toString());
  });

  it('keeps chunks it could not write and writes them with the put once the disk lets it, in place', async () => {
    // A file where the job's folder should be: opening the temporary file fails.
    await mkdir(root, { recursive: true });
    await writeFile(path.join(root, 'job-1'), 'in the way');
    const store = new ObjectStoreDestination({ directory: root });
    const part = store.openStaging('job-1', 'none');
    const all = lines(0, 120);
    let released = 0;
    part.append(chunk(all.slice(0, 40)), () => released++);
    part.append(chunk(all.slice(40, 80)), () => released++);
    const object = { ...uploadObject(all), body: chunk(all.slice(80)), staged: part };
    await expect(store.write(object)).rejects.toMatchObject({ code: 'ERR_DESTINATION_UNAVAILABLE', retryable: true });
    // Held, not lost: the lines' buffers are still in use.
    expect(released).toBe(0);
    await rm(path.join(root, 'job-1'));
    const key = await store.write(object);
    expect((await readFile(path.join(root, key))).toString()).toBe(chunk(all).toString());
    expect(released).toBe(2);
    expect(await listFiles(root)).toEqual([key]);
  });

  it('a retry after the object was stored does not store it again', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    const part = store.openStaging('job-1', 'none');
    part.append(chunk(lines(0, 10)), () => {});
    const object = { ...uploadObject(lines(0, 20)), body: chunk(lines(10, 10)), staged: part };
    const key = await store.write(object);
    expect(await store.write(object)).toBe(key);
    expect(await listFiles(root)).toEqual([key]);
  });

  it('discard removes the temporary file and releases what it held', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    const part = store.openStaging('job-1', 'none');
    let released = 0;
    part.append(chunk(lines(0, 50)), () => released++);
    await vi.waitFor(async () => expect(await temps()).toHaveLength(1));
    part.discard();
    await vi.waitFor(async () => expect(await temps()).toEqual([]));
    expect(released).toBe(1);
    await expect(store.write({ ...uploadObject(lines(0, 60)), body: chunk(lines(50, 10)), staged: part })).rejects.toMatchObject({ retryable: false });
  });

  it('a staged file removed under it fails the put for good (its lines are gone), not retried forever', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    const part = store.openStaging('job-1', 'none');
    part.append(chunk(lines(0, 10)), () => {});
    await vi.waitFor(async () => expect(await temps()).toHaveLength(1));
    await rm(path.join(root, (await temps())[0]!));
    const object = { ...uploadObject(lines(0, 20)), body: chunk(lines(10, 10)), staged: part };
    await expect(store.write(object)).rejects.toMatchObject({ code: 'ERR_DESTINATION_UNAVAILABLE', retryable: false, message: expect.stringContaining('removed') });
    await expect(store.write(object)).rejects.toMatchObject({ retryable: false });
    expect(await listFiles(root)).toEqual([]);
  });

  it('a staged put that is tried again touches its file, so no janitor takes it for a dead writer\'s', async () => {
    const store = new ObjectStoreDestination({ directory: root });
    const part = store.openStaging('job-1', 'none');
    const all = lines(0, 60);
    part.append(chunk(all.slice(0, 40)), () => {});
    await vi.waitFor(async () => expect(await temps()).toHaveLength(1));
    const temp = path.join(root, (await temps())[0]!);
    // A file where the date folder should be: the put fails, and fails again.
    await writeFile(path.join(root, 'job-1', '20241114'), 'in the way');
    const object = { ...uploadObject(all), body: chunk(all.slice(40)), staged: part };
    await expect(store.write(object)).rejects.toMatchObject({ retryable: true });
    const old = (Date.now() - STALE_STAGED_MS - 60_000) / 1000;
    await utimes(temp, old, old);
    await expect(store.write(object)).rejects.toMatchObject({ retryable: true });
    expect((await stat(temp)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    await rm(path.join(root, 'job-1', '20241114'));
    const key = await store.write(object);
    expect((await readFile(path.join(root, key))).toString()).toBe(chunk(all).toString());
  });
  it("refuses a part another store staged, and a job id that is not a safe name, touching nothing outside", async () => {
    const other = new ObjectStoreDestination({ directory: outside });
    const store = new ObjectStoreDestination({ directory: root });
    const foreign = other.openStaging('job-1', 'none');
    await expect(store.write({ ...uploadObject(['a']), staged: foreign })).rejects.toMatchObject({ retryable: false });
    const unsafe = store.openStaging('../escape', 'none');
    let released = 0;
    unsafe.append(chunk(['x']), () => released++);
    expect(released).toBe(1);
    await expect(store.write({ ...uploadObject(['a']), staged: unsafe })).rejects.toMatchObject({ code: 'ERR_DESTINATION_PATH' });
    expect(await listFiles(path.dirname(root))).toEqual([]);
  });

  describe('janitor', () => {
    const old = (): number => (Date.now() - STALE_STAGED_MS - 60_000) / 1000;
    const litter = async (file: string, stale = true): Promise<void> => {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, 'x');
      if (stale) await utimes(file, old(), old());
    };

    it("removes other writers' stale temporary files from every job's folder, of jobs it never writes too, and nothing else", async () => {
      const reports: [string, number][] = [];
      reportJanitorRemovals((directory, removed) => reports.push([directory, removed]));
      const totalsBefore = janitorTotals().removed;
      const store = new ObjectStoreDestination({ directory: root, sweepIntervalMs: 1000 });
      // This thread's own file, stale by its time: never removed (the thread may still be writing it).
      const ours = store.openStaging('job-1', 'none');
      ours.append(chunk(['a']), () => {});
      await vi.waitFor(async () => expect(await temps()).toHaveLength(1));
      const oursName = (await temps())[0]!;
      await utimes(path.join(root, oursName), old(), old());
      const removed = ['job-1/.job-1.1234-abcd-7-1.tmp', 'job-1/.job-1.1234-abcd-7-2.tmp', 'job-9/.job-9.1234-abcd-7-1.tmp'];
      // Another job's name, not a temporary name, fresh, and an object (in a date folder).
      const kept = ['job-1/.job-2.1234-abcd-7-1.tmp', 'job-1/keep.tmp', 'job-9/20241114/20241114T100000Z_20241114T100500Z_0.log'];
      for (const file of [...removed, ...kept]) await litter(path.join(root, file));
      await litter(path.join(root, 'job-1/.job-1.fresh-1.tmp'), false);
      // A job folder that is a symlink out of the store is not followed.
      await litter(path.join(outside, '.job-link.1234-abcd-7-1.tmp'));
      await symlink(outside, path.join(root, 'job-link'));
      await vi.waitFor(async () => expect(await listFiles(root)).toEqual([...kept, 'job-1/.job-1.fresh-1.tmp', oursName].sort()), { timeout: 5000 });
      expect(await listFiles(outside)).toEqual(['.job-link.1234-abcd-7-1.tmp']);
      // One walk removed all three, and said so (Logpush logs it); the thread's totals count them.
      expect(reports).toEqual([[root, 3]]);
      expect(janitorStats(root)).toMatchObject({ removed: 3 });
      expect(janitorTotals().removed - totalsBefore).toBe(3);
      reportJanitorRemovals(null);
      await store.close();
    });

    it('walks once per thread and store however many destinations use it, again every interval while used, and stops with the last close', async () => {
      const stores = Array.from({ length: 20 }, () => new ObjectStoreDestination({ directory: root, sweepIntervalMs: 1000 }));
      await stores[0]!.write(uploadObject(['x']));
      for (const store of stores.slice(1)) store.openStaging('job-1', 'none');
      expect(janitorStats(root)?.passes).toBe(1);
      // Litter made after the first walk goes at a later one.
      await litter(path.join(root, 'job-1/.job-1.1234-abcd-7-1.tmp'));
      await vi.waitFor(async () => expect(await temps()).toEqual([]), { timeout: 5000 });
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const passes = janitorStats(root)!.passes;
      // One walk a second for the thread, not one per destination.
      expect(passes).toBeGreaterThanOrEqual(3);
      expect(passes).toBeLessThanOrEqual(2 + Math.ceil((performance.now() - started) / 1000));
      expect(janitorStats(root)!.removed).toBe(1);
      for (const store of stores) await store.close();
      const closedAt = janitorStats(root)!.passes;
      await litter(path.join(root, 'job-1/.job-1.1234-abcd-7-2.tmp'));
      await new Promise((resolve) => setTimeout(resolve, 2200));
      expect(janitorStats(root)!.passes).toBe(closedAt);
      expect(await temps()).toEqual(['job-1/.job-1.1234-abcd-7-2.tmp']);
      // Used again: it walks again at once (the last walk was more than an interval ago).
      const again = new ObjectStoreDestination({ directory: root, sweepIntervalMs: 1000 });
      again.openStaging('job-1', 'none');
      await vi.waitFor(async () => expect(await temps()).toEqual([]));
      await again.close();
    });

    it('waits a hundred times as long as its last walk took before the next, when that is longer than the interval', async () => {
      // A clock that moves 25 ms a reading: each walk reads it as taking 25 ms.
      let t = 0;
      const janitor = new StoreJanitor(root, { intervalMs: 1000, now: Date.now, ours: 'nobody-', monotonicNow: () => (t += 25) });
      janitor.acquire();
      await vi.waitFor(() => expect(janitor.passes).toBe(1));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(janitor.gapMs).toBe(2500);
      // The interval alone would have walked again by now.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(janitor.passes).toBe(1);
      await vi.waitFor(() => expect(janitor.passes).toBe(2), { timeout: 3000 });
      janitor.release();
    });

    it('released while it walks, it does not walk again', async () => {
      let t = 0;
      const janitor = new StoreJanitor(root, { intervalMs: 1000, now: Date.now, ours: 'nobody-', monotonicNow: () => (t += 1) });
      janitor.acquire();
      // The walk began at acquire and is under way (reading the folder) as its only user lets go.
      janitor.release();
      await new Promise((resolve) => setTimeout(resolve, 2200));
      expect(janitor.passes).toBe(1);
    });

    it('refuses a sweep interval outside 1 s to 24 h, in a destination and in createPipeline before anything starts', () => {
      for (const sweepIntervalMs of [0, 999, 1.5, 86_400_001, Number.NaN]) {
        expect(() => new ObjectStoreDestination({ directory: root, sweepIntervalMs })).toThrow(/sweepIntervalMs must be an integer number of ms from 1000/);
        expect(() =>
          createPipeline({ config: { jobs: [] }, destinations: { objectStore: { sweepIntervalMs } }, supervisor: { onRootFailure: 'emit', log: { level: 'silent' } }, log: { level: 'silent' } }),
        ).toThrow(/destinations\.objectStore\.sweepIntervalMs must be/);
      }
      expect(() => new ObjectStoreDestination({ directory: root, sweepIntervalMs: 1000 })).not.toThrow();
    });
  });
});
