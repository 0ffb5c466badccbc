import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../hash.js';
import type { ActionRecord, LocalStore, Store, StoredAction } from '../store.js';
import { RemoteUnavailable, type RemoteBackend } from './http-remote.js';
import { addRemoteStats, zeroCounters, type RemoteCounters } from './stats.js';
import { UploadQueue } from './upload-queue.js';

/** Object and key names are 16 hex digits: anything else in a downloaded record is refused. */
const NAME = /^[0-9a-f]{16}$/;

/** Records asked for at once by prefetch (small JSON files; the objects they name follow). */
const PREFETCH_CONCURRENCY = 16;

/** Paid generations are uploaded first, then AI upscales, then renders (cheap to redo). */
const UPLOAD_PRIORITY: Record<string, number> = { generate: 0, upscale: 1, render: 2 };

export interface LayeredStoreOptions {
  read: boolean;
  write: boolean;
  uploads: number;
  /**
   * Planning (`gpt4k plan`): a remote record is taken at its word (the uploader sends objects
   * before the record), its objects are not downloaded, and nothing is kept locally. Such a
   * store vouches for objects it does not hold: only for a plan, which reads no object.
   */
  probeOnly?: boolean;
  /** Said once when the remote becomes unusable, and for each corrupt object. */
  warn: (message: string) => void;
}

/**
 * The local store with a shared remote cache under it. Reads go local first; a local miss asks
 * the remote for the action record, then downloads the objects it names and verifies each
 * against its hash before keeping it (a corrupt or forged object is a miss, with a warning).
 * Writes go to the local store at once and are uploaded in the background (UploadQueue);
 * `finish` waits for them. The remote is never a point of failure: the first error of any
 * kind (unreachable, timeout, 401/403, 5xx, full disk) turns it off for the rest of the run
 * with one warning, and the build goes on locally.
 *
 * The engine reads objects only through `objectPath`, a local path: so every answer that
 * vouches for an object (a record from `getAction`, `hasObject` true) comes after the object
 * is in the local store.
 */
export class LayeredStore implements Store {
  readonly counters: RemoteCounters = zeroCounters();
  private disabled = false;
  private readonly uploads: UploadQueue;
  private readonly fetching = new Map<string, Promise<StoredAction | undefined>>();
  private readonly downloading = new Map<string, Promise<boolean>>();
  /** Objects found corrupt on the remote: uploaded over, not skipped as present. */
  private readonly corrupt = new Set<string>();
  /** Keys whose record came from the remote in this run (not from .gpt4k/). */
  private readonly fromRemote = new Set<string>();
  /** probeOnly: objects named by a remote record, vouched for without a download. */
  private readonly vouched = new Set<string>();

  constructor(
    private readonly local: LocalStore,
    private readonly remote: RemoteBackend,
    private readonly options: LayeredStoreOptions,
  ) {
    this.uploads = new UploadQueue(options.uploads);
  }

  get remoteHits(): number {
    return this.counters.hits;
  }

  objectPath(hash: string): string {
    return this.local.objectPath(hash);
  }

  /** Local, or downloaded (and verified) from the remote now: either way, local afterwards. */
  async hasObject(hash: string): Promise<boolean> {
    if (await this.local.hasObject(hash)) return true;
    if (this.options.probeOnly) return this.vouched.has(hash);
    return this.canRead && this.fetchObject(hash, '', 'an object');
  }

  isRemote(key: string): boolean {
    return this.fromRemote.has(key);
  }

  /**
   * Asks the remote for these records side by side, a bounded number at once (planning then
   * finds them answered): a fresh checkout's first plan makes one round trip per batch, not per step.
   */
  async prefetch(keys: string[]): Promise<void> {
    await eachBounded([...new Set(keys)], async (key) => {
      if (this.canRead) await this.getAction(key);
    });
  }

  /**
   * `gpt4k cache push`: uploads the records (and their objects) the remote lacks, then waits
   * for them. `complete` is false when the remote failed on the way (warned once).
   */
  async push(records: ActionRecord[]): Promise<{ present: number; uploaded: number; complete: boolean }> {
    let present = 0;
    const before = this.counters.uploads;
    await eachBounded(records, async (record) => {
      if (!this.canWrite) return;
      try {
        if (await this.remote.has('ac', record.key)) {
          present++;
          return;
        }
      } catch (err) {
        this.giveUp(err);
        return;
      }
      this.uploads.add(UPLOAD_PRIORITY[record.kind] ?? 3, () => this.upload(record));
    });
    await this.finish();
    return { present, uploaded: this.counters.uploads - before, complete: !this.disabled };
  }

  putBytes(data: Uint8Array): Promise<{ hash: string; size: number }> {
    return this.local.putBytes(data);
  }

  putFile(file: string): Promise<{ hash: string; size: number }> {
    return this.local.putFile(file);
  }

  ensureDirs(): Promise<void> {
    return this.local.ensureDirs();
  }

  saveIndex(options?: { keepOthers?: boolean }): Promise<void> {
    return this.local.saveIndex(options);
  }

  private get canRead(): boolean {
    return this.options.read && !this.disabled;
  }

  private get canWrite(): boolean {
    return this.options.write && !this.disabled;
  }

  async getAction(key: string): Promise<StoredAction | undefined> {
    const local = await this.local.getAction(key);
    if (!this.canRead) return local;
    if (local) {
      // A record kept here whose object is not (an interrupted download): the remote may have it.
      if (!(await this.local.hasObject(local.output.hash))) await this.fetchObjects(local, key);
      return local;
    }
    let pending = this.fetching.get(key);
    if (!pending) {
      pending = this.fetchAction(key);
      this.fetching.set(key, pending);
    }
    return pending;
  }

  async putAction(record: ActionRecord): Promise<void> {
    await this.local.putAction(record);
    if (this.canWrite) this.uploads.add(UPLOAD_PRIORITY[record.kind] ?? 3, () => this.upload(record));
  }

  /** Waits for the uploads, adds this run's counters to .gpt4k/remote-stats.json. */
  async finish(): Promise<void> {
    await this.uploads.drain();
    const c = this.counters;
    if (c.hits + c.misses + c.uploads + c.corrupt > 0) await addRemoteStats(this.local.dir, c, this.remote.label).catch(() => undefined);
  }

  private async fetchAction(key: string): Promise<StoredAction | undefined> {
    try {
      const body = await this.remote.get('ac', key);
      if (!body) {
        this.counters.misses++;
        return undefined;
      }
      const chunks: Uint8Array[] = [];
      for await (const chunk of body) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      this.counters.bytesDown += bytes.byteLength;
      const record = parseRecord(bytes, key);
      if (!record) {
        this.counters.corrupt++;
        this.options.warn(`remote cache: the action record ${key} is not a gpt4k record of that key; not used`);
        return undefined;
      }
      if (this.options.probeOnly) {
        for (const hash of objectsOf(record)) this.vouched.add(hash);
      } else {
        if (!(await this.fetchObjects(record, key))) return undefined;
        // Kept locally only now that its objects are: a local record always has what it names.
        await this.local.putAction(record);
      }
      this.fromRemote.add(key);
      this.counters.hits++;
      const { fingerprint: _fingerprint, ...stored } = record;
      return stored;
    } catch (err) {
      this.giveUp(err);
      return undefined;
    }
  }

  /** Downloads what a record names and the store lacks; false when any is missing or corrupt. */
  private async fetchObjects(record: StoredAction, key: string): Promise<boolean> {
    for (const hash of objectsOf(record)) {
      if (await this.local.hasObject(hash)) continue;
      if (!(await this.fetchObject(hash, key, printable(record.nodeId)))) return false;
    }
    return true;
  }

  /** One download of `hash` at a time, however many ask for it. */
  private fetchObject(hash: string, key: string, owner: string): Promise<boolean> {
    let pending = this.downloading.get(hash);
    if (!pending) {
      pending = this.download(hash, key, owner).finally(() => this.downloading.delete(hash));
      this.downloading.set(hash, pending);
    }
    return pending;
  }

  /** Streams /cas/<hash> to a temp file, verifies it, moves it in. `owner`: whose object, for a warning. */
  private async download(hash: string, key: string, owner: string): Promise<boolean> {
    if (!this.canRead || !NAME.test(hash)) return false;
    await this.local.ensureDirs();
    const tmp = this.local.tmpPath();
    try {
      const body = await this.remote.get('cas', hash);
      if (!body) return false;
      const handle = await open(tmp, 'w');
      try {
        for await (const chunk of body) {
          await handle.write(chunk);
          this.counters.bytesDown += chunk.byteLength;
        }
      } finally {
        await handle.close();
      }
      const actual = await hashFile(tmp);
      if (actual !== hash) {
        this.counters.corrupt++;
        this.corrupt.add(hash);
        this.options.warn(`remote cache: the object ${hash} of ${owner}${key ? ` (key ${key})` : ''} is corrupt (its bytes hash to ${actual}); not used, built locally instead`);
        return false;
      }
      const dest = this.local.objectPath(hash);
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(tmp, dest);
      return this.local.hasObject(hash);
    } catch (err) {
      this.giveUp(err);
      return false;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async upload(record: ActionRecord): Promise<void> {
    if (!this.canWrite) return;
    try {
      for (const hash of objectsOf(record)) {
        if (!this.corrupt.has(hash) && (await this.remote.has('cas', hash))) continue;
        const file = this.objectPath(hash);
        const { size } = await stat(file);
        await this.remote.put('cas', hash, { file, size });
        this.counters.bytesUp += size;
      }
      // The record goes last: a reader never finds a record whose objects are not there yet.
      const bytes = Buffer.from(JSON.stringify(record));
      await this.remote.put('ac', record.key, { bytes });
      this.counters.bytesUp += bytes.byteLength;
      this.counters.uploads++;
    } catch (err) {
      this.giveUp(err);
    }
  }

  private giveUp(err: unknown): void {
    if (this.disabled) return;
    this.disabled = true;
    this.uploads.stop();
    const reason = err instanceof RemoteUnavailable ? err.message : `unexpected error: ${(err as Error).message ?? String(err)}`;
    this.options.warn(`remote cache ${this.remote.label}: ${reason}; going on without it for the rest of this build (the local cache is unaffected)`);
  }
}

/** Runs `job` on every item, PREFETCH_CONCURRENCY at once. */
async function eachBounded<T>(items: T[], job: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item);
  };
  await Promise.all(Array.from({ length: PREFETCH_CONCURRENCY }, worker));
}

/** The objects a record names: its output, and a render's preview. */
function objectsOf(record: StoredAction): string[] {
  const preview = record.meta?.previewHash;
  return typeof preview === 'string' ? [record.output.hash, preview] : [record.output.hash];
}

/** A downloaded record, when it is one of `key` whose object names are safe to use as paths. */
function parseRecord(bytes: Buffer, key: string): ActionRecord | undefined {
  let record: ActionRecord;
  try {
    record = JSON.parse(bytes.toString('utf8')) as ActionRecord;
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null || record.version !== 1 || record.key !== key) return undefined;
  if (typeof record.output?.hash !== 'string' || !NAME.test(record.output.hash) || typeof record.kind !== 'string') return undefined;
  if (typeof record.meta !== 'object' || record.meta === null) return undefined;
  const preview = record.meta.previewHash;
  if (preview !== undefined && (typeof preview !== 'string' || !NAME.test(preview))) return undefined;
  return record;
}

/** A node id read from a downloaded record, safe to print (no control characters from a forged record). */
const printable = (text: unknown): string => String(text).replace(/[^\w/:.@+-]/g, '?').slice(0, 200);
