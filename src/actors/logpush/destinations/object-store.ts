/**
 * An object-store directory: each upload object becomes one file under an R2/S3-style key,
 * `<job>/<YYYYMMDD>/<start>_<end>_<seq>.log.gz` (`.log` uncompressed), where start and end are the
 * object's earliest and latest event timestamps (20241114T100000Z), the date is start's UTC date,
 * and seq is the object's per-job sequence number. Keys sort by time within a day.
 *
 * No reader ever sees a partial object: the bytes go to a temporary name in the job's folder (a
 * dot-file, which listings by glob skip; never among the objects), are synced, and only then get
 * their final name in one atomic step. That step is link(), not rename(): rename would silently
 * replace an existing object when a key repeats (a job restarted with seq from 0 lands on the same
 * second), and losing an uploaded object is the one thing this stage must not do. On EEXIST the
 * key gets a suffix (`_<seq>-1.log.gz`, ...). On a file system without hard links it falls back to
 * checking the name then renaming, which is safe while one writer owns the job (Logpush shards
 * jobs to one actor).
 *
 * An open object's leading lines can be written before it is sealed (`openStaging`): they go, a
 * chunk at a time, to a temporary dot-file in the job's folder (`<job>/.<job>.<...>.tmp`); the put
 * writes the object's last lines after them, syncs, and links the file under its key as above.
 * A staged put that fails keeps its file and goes on from where it stopped when tried again.
 * A put without staged lines writes its temporary file there too: every temporary file of the
 * store lies in a job's folder, never among the objects, and what a dead writer left is removed
 * by the thread's janitor once stale (store-janitor.ts).
 *
 * A put waits for as few file-system calls in a row as it can: each waits its turn in libuv's
 * four threads (shared by every stage of the process) and then for a turn of Logpush's event loop,
 * ~5-15 ms in a busy pipeline, and a hot job's next object waits for its put. What a put need not
 * wait for goes alongside the next step: the staged file's close alongside the link, the temporary
 * name's unlink alongside the folder's sync; the folder's descriptor is closed after the put
 * settles (close() waits for those). A staged put was nine calls in a row, now six.
 *
 * Nothing outside the configured directory is touched: the job id must match NAME_PATTERN (no
 * slash, no dot-dot), the resolved path must lie inside the directory, and the directory the file
 * lands in must still lie inside it after symlinks are resolved.
 */

import { gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { access, close, constants as fsConstants, fsync, link, mkdir, open, realpath, rename, unlink, utimes, write } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import path from 'node:path';
import { NAME_PATTERN } from '../../job.js';
import { describeValue } from '../../../runtime/errors.js';
import { LogpushError, destinationClosedError, destinationPathError, messageOf, stagedElsewhereError } from '../errors.js';
import { compactUtc, utcDate } from '../timestamp.js';
import type { Compression } from '../../job.js';
import type { StagedPart, UploadObject } from '../upload-object.js';
import type { Destination } from './destination.js';
import { DEFAULT_SWEEP_INTERVAL_MS, STALE_STAGED_MS, acquireJanitor, checkSweepIntervalMs, type StoreJanitor } from './store-janitor.js';

export { STALE_STAGED_MS };

/** Suffixes tried when a key exists already; past this many, something is wrong with the seq. */
const MAX_KEY_SUFFIX = 100;
/**
 * Directories already checked against symlinks, kept for the next objects: two per job (its folder,
 * for temporary files, and the day's). At 1,024, 1,000 jobs overflowed it, and each clear at the
 * limit made the next puts create and resolve their folders again (mkdir and realpath: ~300 calls
 * more each in a 3 M-event bench run). 16,384 paths are ~2 MB; past it the oldest goes first.
 */
const MAX_CHECKED_DIRECTORIES = 16_384;
const NS_PER_MS = 1_000_000;
const gzipAsync = promisify(gzip);
export interface ObjectStoreOptions {
  /** The store's root; created when missing. */
  readonly directory: string;
  /**
   * fsync each file before it gets its name, and the folder after: a put that resolved survives a
   * power cut, as an ack to Buftee assumes. Default true.
   */
  readonly fsync?: boolean;
  /** Wall clock in ms, for the key of an object without any event timestamp and the age of temporary files. Default Date.now. */
  readonly now?: () => number;
  /**
   * How often this thread's janitor walks the store for other writers' stale temporary files
   * (store-janitor.ts), from 1 s to 24 h. Default 15 minutes. The first destination of a thread
   * to use a directory sets it for that directory.
   */
  readonly sweepIntervalMs?: number;
}

/**
 * The key of an object: `<job>/<YYYYMMDD>/<start>_<end>_<seq>.log[.gz]`. `nowMs` names objects
 * without event timestamps. Throws ERR_DESTINATION_PATH for a job id that is not a safe name.
 */
export function objectKey(object: UploadObject, nowMs: number = Date.now(), suffix = 0): string {
  checkJobId(object.jobId);
  const fallback = nowMs * NS_PER_MS;
  const first = Number.isFinite(object.firstTimestamp) ? object.firstTimestamp : fallback;
  const last = Number.isFinite(object.lastTimestamp) ? object.lastTimestamp : first;
  const extension = object.compression === 'gzip' ? '.log.gz' : '.log';
  const seq = suffix === 0 ? `${object.seq}` : `${object.seq}-${suffix}`;
  return `${object.jobId}/${utcDate(first)}/${compactUtc(first)}_${compactUtc(last)}_${seq}${extension}`;
}

/** Per process: temporary names are `<pid>-<random>-<thread>-<count>`; the random part guards against a reused pid. */
const TEMP_PREFIX = `${process.pid}-${randomBytes(4).toString('hex')}-`;
let tempCount = 0;

/**
 * A temporary name in the job's folder, `.<job>.<pid>-<random>-<thread>-<n>.tmp`: unique in the
 * machine's processes and threads (and 'wx' refuses a name that exists anyway), no random bytes
 * drawn per put, and the form the janitor knows (store-janitor.ts).
 */
function tempName(jobFolder: string, jobId: string): string {
  return path.join(jobFolder, `.${jobId}.${TEMP_PREFIX}${threadId}-${++tempCount}.tmp`);
}

export class ObjectStoreDestination implements Destination {
  readonly directory: string;
  private readonly fsync: boolean;
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private janitor: StoreJanitor | null = null;
  private closed = false;
  private readonly checked = new Set<string>();
  private rootReal: string | undefined;
  /** Folder descriptors being closed after their put settled (syncFolder); close() waits for them. */
  private readonly closing = new Set<Promise<void>>();
  /** A put settles after its last write's callback, and reads the body nowhere else. */
  readonly releasesBody = true;

  constructor(options: ObjectStoreOptions) {
    if (typeof options.directory !== 'string' || options.directory === '') {
      throw new LogpushError('ERR_LOGPUSH_CONFIG', `job config: destination.directory must be a non-empty path, got ${describeValue(options.directory)}`, {
        path: 'destination.directory',
      });
    }
    this.directory = path.resolve(options.directory);
    this.fsync = options.fsync ?? true;
    this.now = options.now ?? Date.now;
    this.sweepIntervalMs = checkSweepIntervalMs(options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, 'object store: sweepIntervalMs');
  }

  /** This thread's janitor of the store, from the first put or staging until close. */
  private useJanitor(): void {
    if (this.janitor !== null || this.closed) return;
    this.janitor = acquireJanitor(this.directory, { intervalMs: this.sweepIntervalMs, now: this.now, ours: `${TEMP_PREFIX}${threadId}-` });
  }

  async put(object: UploadObject): Promise<void> {
    await this.write(object);
  }

  /**
   * A temporary file in the job's folder for an open object's leading lines (Destination.openStaging).
   * Never throws: a job id that is not a safe name (CompiledJob refuses those first) makes a part
   * whose put fails for good.
   */
  openStaging(jobId: string, compression: Compression): StagedPart {
    let folder: string | null = null;
    let problem: LogpushError | null = null;
    try {
      checkJobId(jobId);
      folder = path.join(this.directory, jobId);
    } catch (error) {
      problem = error instanceof LogpushError ? error : destinationPathError(messageOf(error));
    }
    const temp = folder === null ? '' : tempName(folder, jobId);
    this.useJanitor();
    return new StagedFile(this, folder ?? this.directory, temp, compression === 'gzip', problem);
  }

  /** Like put, and returns the key the object was stored under (relative to the directory, with /). */
  async write(object: UploadObject): Promise<string> {
    if (this.closed) throw destinationClosedError(`object ${object.seq} of job "${object.jobId}"`);
    this.useJanitor();
    const nowMs = this.now();
    const key = objectKey(object, nowMs);
    const target = this.resolveInside(key);
    const folder = path.dirname(target);
    if (object.staged !== undefined) return this.writeStaged(object, object.staged, nowMs, key, target, folder);
    // In the job's folder (the parent of the date's, inside the store as resolveInside checked),
    // where the janitor looks for litter.
    const temp = tempName(path.dirname(folder), object.jobId);
    try {
      await this.prepareFolder(folder);
      const alongside: Promise<unknown>[] = [(await this.writeTemp(temp, object.body)).closed];
      const stored = await this.publish(temp, object, nowMs, key, target, alongside);
      if (this.fsync) alongside.push(this.syncFolder(folder));
      await Promise.all(alongside);
      return stored;
    } catch (error) {
      await call(unlink, temp).catch(() => undefined);
      if (error instanceof LogpushError) throw error;
      // A folder removed under us is made again by the retry.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') this.checked.delete(folder);
      throw new LogpushError('ERR_DESTINATION_UNAVAILABLE', `object store ${this.directory}: cannot store ${key}: ${messageOf(error)}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  /** The put of an object whose leading lines are staged: its body after them, then the same publish. */
  private async writeStaged(object: UploadObject, part: StagedPart, nowMs: number, key: string, target: string, folder: string): Promise<string> {
    if (!(part instanceof StagedFile) || part.store !== this) {
      throw stagedElsewhereError(`object store ${this.directory}: object ${object.seq} of job "${object.jobId}"`);
    }
    try {
      // Tried again: the file is touched, so that no janitor takes it for a dead writer's while
      // the put keeps failing (STALE_STAGED_MS).
      if (part.tries++ > 0 && part.created) await call(utimes, part.temp, new Date(nowMs), new Date(nowMs)).catch(() => undefined);
      let stored = part.key;
      // The staged file's close (finish starts it), then the temporary name's unlink.
      const alongside: Promise<unknown>[] = [];
      if (stored === null) {
        await this.prepareFolder(folder);
        alongside.push((await part.finish(object.body, this.fsync)).closed);
        stored = await this.publish(part.temp, object, nowMs, key, target, alongside);
        // Linked: a retry (the folder's sync failed) must not link the same lines again.
        part.key = stored;
      }
      if (this.fsync) alongside.push(this.syncFolder(folder));
      await Promise.all(alongside);
      return stored;
    } catch (error) {
      // The temporary file stays: a retry goes on from what it holds (StagedFile.finish).
      if (error instanceof LogpushError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        // A folder removed under us is made again by the retry; a staged file removed is lost.
        this.checked.delete(folder);
        this.checked.delete(path.dirname(part.temp));
        if (part.created && !(await exists(part.temp))) throw part.lost(error);
      }
      throw new LogpushError('ERR_DESTINATION_UNAVAILABLE', `object store ${this.directory}: cannot store ${key}: ${messageOf(error)}`, {
        retryable: true,
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.janitor?.release();
    this.janitor = null;
    await Promise.all(this.closing);
  }

  /** Makes the new names in `folder` durable. Some platforms cannot fsync a directory: nothing more to do there. */
  private async syncFolder(folder: string): Promise<void> {
    let fd: number | undefined;
    try {
      fd = await call<number>(open, folder, 'r');
      await call(fsync, fd);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw error;
    } finally {
      // Closed after the put settles: close() waits for it. At most one per put in flight.
      if (fd !== undefined) {
        const closing = call(close, fd).catch(() => undefined);
        this.closing.add(closing);
        void closing.then(() => this.closing.delete(closing));
      }
    }
  }

  /** The absolute path of `key`, refused unless it lies inside the directory. */
  private resolveInside(key: string): string {
    const target = path.resolve(this.directory, ...key.split('/'));
    if (!isInside(this.directory, target)) {
      throw destinationPathError(`object key ${JSON.stringify(key)} resolves to ${target}, outside the object store ${this.directory}`);
    }
    return target;
  }

  /** Creates the folder, then checks that symlinks do not take it outside the store. */
  async prepareFolder(folder: string): Promise<void> {
    if (this.checked.has(folder)) return;
    await call(mkdir, folder, { recursive: true });
    this.rootReal ??= await call<string>(realpath.native, this.directory);
    const real = await call<string>(realpath.native, folder);
    if (!isInside(this.rootReal, real)) {
      throw destinationPathError(`folder ${folder} resolves to ${real}, outside the object store ${this.rootReal} (a symlink?)`);
    }
    if (this.checked.size >= MAX_CHECKED_DIRECTORIES) this.checked.delete(this.checked.values().next().value!);
    this.checked.add(folder);
  }

  private async writeTemp(temp: string, body: Uint8Array): Promise<{ closed: Promise<void> }> {
    // 'wx': a temporary name that exists already is never written through. Plain descriptor
    // calls, no FileHandle and no fs/promises.writeFile: puts are per-object work on Logpush's
    // thread: a whole put took ~230 µs of user CPU against ~380 µs (3,000 puts of 50 kB over
    // 1,000 folders, 64 at a time), with less kernel time too.
    const fd = await call<number>(open, temp, 'wx', 0o644);
    try {
      await writeAt(fd, body, 0);
      if (this.fsync) await call(fsync, fd);
    } catch (error) {
      await call(close, fd).catch(() => undefined);
      throw error;
    }
    // Closed while the put links the file, as a staged one (StagedFile.finish).
    return { closed: call(close, fd).catch(() => undefined) };
  }

  /**
   * Gives the temporary file its final name (`firstKey`, else a suffixed one) without replacing any
   * object; returns the key used. The temporary name's unlink goes into `alongside`, for the put to
   * wait for with the folder's sync.
   */
  private async publish(temp: string, object: UploadObject, nowMs: number, firstKey: string, firstTarget: string, alongside: Promise<unknown>[]): Promise<string> {
    for (let suffix = 0; suffix <= MAX_KEY_SUFFIX; suffix++) {
      const key = suffix === 0 ? firstKey : objectKey(object, nowMs, suffix);
      const target = suffix === 0 ? firstTarget : this.resolveInside(key);
      try {
        await call(link, temp, target);
        // The object is stored under its name now; a temporary name left behind is only litter.
        alongside.push(call(unlink, temp).catch(() => undefined));
        return key;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
        // No hard links here: check the name, then rename (see the header comment).
        if (await exists(target)) continue;
        await call(rename, temp, target);
        return key;
      }
    }
    throw new LogpushError(
      'ERR_DESTINATION_UNAVAILABLE',
      `object store ${this.directory}: ${objectKey(object, nowMs)} and ${MAX_KEY_SUFFIX} suffixed keys exist already; is another writer using job "${object.jobId}"'s seq?`,
      { retryable: false },
    );
  }
}

/** A chunk with its place in the staged file, kept until written; `release` gives its lines' buffer back. */
interface Pending {
  readonly position: number;
  readonly data: Uint8Array;
  readonly release: (() => void) | null;
}

/**
 * The staged part of one open object: a temporary file in its job's folder, written a chunk at a
 * time in order (each chunk its own gzip member for a gzip job). Chunks get their place in the
 * file when written (after compression), so a write that failed is tried again at the same place
 * by the put, which then adds the body, syncs and closes. The lines of a failed write stay in
 * memory until then; Buftee's limits on what a job holds bound them.
 */
class StagedFile implements StagedPart {
  /** Set once the file is linked under its key. */
  key: string | null = null;
  /** Bytes of the file given a place so far. */
  private size = 0;
  private fd: number | null = null;
  /** Chunks appended and not yet written (or kept). */
  private queued = 0;
  /** The temporary file was made (it should exist until linked or discarded). */
  created = false;
  /** Puts begun with this part. */
  tries = 0;
  private readonly unwritten: Pending[] = [];
  private chain: Promise<void> = Promise.resolve();
  /** Where the body goes; -1 until the first put. */
  private bodyAt = -1;
  /** Whole and synced: a retry goes on from the link. */
  private complete = false;
  private discarded = false;

  constructor(
    readonly store: ObjectStoreDestination,
    private readonly folder: string,
    readonly temp: string,
    private readonly gzip: boolean,
    /** Why a put of this part can never succeed (an unsafe job id, lines that could not be compressed). */
    private problem: LogpushError | null,
  ) {}

  append(chunk: Uint8Array, release: () => void): void {
    if (this.discarded || this.problem !== null) return release();
    this.queued++;
    this.chain = this.chain.then(async () => {
      await this.writeChunk(chunk, release);
      // The file is open only while chunks wait: 100,000 jobs with objects open hold no descriptors.
      // Not waited for: the next chunk or the put opens the file again meanwhile if it must.
      if (--this.queued === 0) void this.closeFile();
    });
  }

  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    this.chain = this.chain.then(async () => {
      for (const pending of this.unwritten.splice(0)) pending.release?.();
      await this.closeFile();
      if (this.created && this.key === null) await call(unlink, this.temp).catch(() => undefined);
    });
  }

  /**
   * Writes what is left and `body` after it, syncs (`sync`) and closes the file; nothing again once
   * done. Resolves once synced, with the close under way (`closed`): the put links the file
   * meanwhile, and waits for the close before it settles.
   */
  async finish(body: Uint8Array, sync: boolean): Promise<{ closed: Promise<void> }> {
    if (this.complete) return { closed: Promise.resolve() };
    await this.chain;
    if (this.problem !== null) throw this.problem;
    if (this.discarded) throw new LogpushError('ERR_DESTINATION_UNAVAILABLE', `staged object ${this.temp} was discarded`, { retryable: false });
    if (this.bodyAt < 0) {
      this.bodyAt = this.size;
      this.size += body.length;
    }
    try {
      const fd = await this.open();
      while (this.unwritten.length > 0) {
        const pending = this.unwritten[0]!;
        await writeAt(fd, pending.data, pending.position);
        this.unwritten.shift();
        pending.release?.();
      }
      await writeAt(fd, body, this.bodyAt);
      if (sync) await call(fsync, fd);
    } catch (error) {
      // Closed whatever happened: a put that waits to be tried again holds no descriptor.
      await this.closeFile();
      throw error;
    }
    this.complete = true;
    return { closed: this.closeFile() };
  }

  private async closeFile(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return;
    this.fd = null;
    await call(close, fd).catch(() => undefined);
  }

  /** The file was removed under us: the lines written there are gone, and no retry brings them back. */
  lost(cause: unknown): LogpushError {
    this.problem = new LogpushError('ERR_DESTINATION_UNAVAILABLE', `staged file ${this.temp} was removed before its object was stored`, { retryable: false, cause });
    return this.problem;
  }

  private async writeChunk(chunk: Uint8Array, release: () => void): Promise<void> {
    if (this.discarded) return release();
    let data = chunk;
    let keep: (() => void) | null = release;
    if (this.gzip) {
      try {
        data = await gzipAsync(chunk);
      } catch {
        // zlib fails only when memory runs out; once more in line, else this object cannot be stored.
        try {
          data = gzipSync(chunk);
        } catch (error) {
          this.problem = new LogpushError('ERR_DESTINATION_UNAVAILABLE', `cannot compress lines staged in ${this.temp}: ${messageOf(error)}`, { retryable: false, cause: error });
        }
      }
      release();
      keep = null;
      if (this.problem !== null) return;
    }
    const pending: Pending = { position: this.size, data, release: keep };
    this.size += data.length;
    try {
      await writeAt(await this.open(), data, pending.position);
      keep?.();
    } catch {
      // The put tries it again, and reports what fails then.
      this.unwritten.push(pending);
    }
  }

  private async open(): Promise<number> {
    if (this.fd !== null) return this.fd;
    await this.store.prepareFolder(this.folder);
    // 'wx' the first time: a name that exists already is never written through.
    try {
      this.fd = await call<number>(open, this.temp, this.created ? 'r+' : 'wx', 0o644);
    } catch (error) {
      if (this.created && (error as NodeJS.ErrnoException).code === 'ENOENT') throw this.lost(error);
      throw error;
    }
    this.created = true;
    return this.fd;
  }
}

/** Writes all of `data` at `position` of the file. */
async function writeAt(fd: number, data: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await call<number>(write, fd, data, offset, data.length - offset, position + offset);
}

function checkJobId(jobId: string): void {
  if (typeof jobId !== 'string' || !NAME_PATTERN.test(jobId)) {
    throw destinationPathError(`job id ${describeValue(jobId)} is not a safe name (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)`);
  }
}

function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

async function exists(file: string): Promise<boolean> {
  try {
    await call(access, file, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * One callback-style fs call as a promise: `call(open, path, 'wx', mode)`. The callback API skips
 * fs/promises' FileHandle objects and their bookkeeping, which cost more than the call itself here.
 */
function call<T = void>(fn: (...args: never[]) => void, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    (fn as (...a: unknown[]) => void)(...args, (error: NodeJS.ErrnoException | null, value: T) => (error ? reject(error) : resolve(value)));
  });
}
