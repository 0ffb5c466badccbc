import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { hashBytes, hashFile } from './hash.js';
import { writeFileAtomic } from '../util/atomic.js';
import { compactJsonChunks } from '../util/json-chunks.js';
import { randomBytes } from 'node:crypto';

/** What an action (one run of a node) produced, stored under its key. */
export interface ActionRecord {
  version: 1;
  key: string;
  nodeId: string;
  kind: string;
  output: { hash: string; size: number; ext: string };
  /** The fingerprint object the key was hashed from: "why did this rebuild?" is a diff of two. */
  fingerprint: unknown;
  meta: Record<string, unknown>;
  ms: number;
  costUsd?: number;
  createdAt: string;
}

/**
 * A record as a build reads it back: everything but the fingerprint, which the build already
 * holds (it computed the key from it) and which .gpt4k/state.json keeps for explanations.
 */
export type StoredAction = Omit<ActionRecord, 'fingerprint'>;

/**
 * The content-addressed store: objects by content hash, action records by key. The engine
 * sees only this interface (ProjectCache.store), so a shared remote store is one new file
 * implementing it. LocalStore keeps them as files under .gpt4k/.
 */
export interface Store {
  hasObject(hash: string): Promise<boolean>;
  /** A local path to read the object from (a remote store would fetch it first). */
  objectPath(hash: string): string;
  putBytes(data: Uint8Array): Promise<{ hash: string; size: number }>;
  /** Moves a finished temp file into the store (no copy). */
  putFile(file: string): Promise<{ hash: string; size: number }>;
  getAction(key: string): Promise<StoredAction | undefined>;
  putAction(record: ActionRecord): Promise<void>;
  /** Optional: called before a build writes anything (LocalStore makes its tmp folder). */
  ensureDirs?(): Promise<void>;
  /**
   * Optional: called once at the end of a build, after its last write (LocalStore writes its
   * action index). `keepOthers`: the build covered some assets only.
   */
  saveIndex?(options?: { keepOthers?: boolean }): Promise<void>;
  /**
   * Optional: called once when a build ends, after its report, also when it failed or was
   * refused (a layered store waits for its background uploads here).
   */
  finish?(): Promise<void>;
  /** Optional: action records a shared remote cache supplied in this run (a layered store). */
  readonly remoteHits?: number;
  /** Optional: whether the record of `key` came from a remote cache in this run, not from .gpt4k/. */
  isRemote?(key: string): boolean;
  /**
   * Optional: a hint that these records will be asked for (a plan's generate keys, before it
   * decides nodes one by one): a remote store fetches them side by side.
   */
  prefetch?(keys: string[]): Promise<void>;
  /** Optional: every stored generate record (plan's cost estimates learn from their usage). */
  generateRecords?(): Promise<StoredAction[]>;
}

/** The action index's file name, beside actions/ (gc deletes it whenever it removes records). */
export const ACTION_INDEX = 'action-index.json';
const INDEX_FORMAT = 1;

const summaryOf = ({ fingerprint: _fingerprint, ...rest }: ActionRecord): StoredAction => rest;

export class LocalStore implements Store {
  readonly dir: string;
  /**
   * The action index: the records the last build used, in one file, so that a no-op build of
   * a thousand assets reads one file instead of two thousand. The record files stay the truth;
   * the index is only trusted while nothing has written a record since it was saved: the first
   * putAction of a process deletes it (before writing), and saveIndex writes it again at the end
   * of a build. A killed build leaves no index, and the next one reads the record files.
   */
  private index: Map<string, StoredAction> | undefined;
  /** Records read or written by this process: the next index. */
  private readonly used = new Map<string, StoredAction>();
  /** Whether the next index differs from the one read (a record written, or read from its file). */
  private indexStale = false;
  private indexDropped = false;
  /**
   * Objects known to be in the store: written or seen by this process, or the outputs of the
   * records in the index (only gc removes objects, and it deletes the index first). A no-op
   * build so checks its cached steps without a stat per object.
   */
  private readonly present = new Set<string>();

  constructor(cacheDir: string) {
    this.dir = cacheDir;
  }

  private get indexFile(): string {
    return path.join(this.dir, ACTION_INDEX);
  }

  private loadIndex(): Map<string, StoredAction> {
    if (this.index) return this.index;
    this.index = new Map();
    try {
      const data = JSON.parse(readFileSync(this.indexFile, 'utf8')) as { format?: unknown; records?: Record<string, StoredAction> };
      if (data.format === INDEX_FORMAT && data.records && typeof data.records === 'object') {
        for (const [key, record] of Object.entries(data.records)) {
          if (record?.key !== key || typeof record.output?.hash !== 'string') continue;
          this.index.set(key, record);
          this.present.add(record.output.hash);
        }
      }
    } catch {
      // no index (first build, or the last one was killed or collected): read the record files
    }
    return this.index;
  }

  /**
   * Writes the index of the records this process used (when it differs from the one read).
   * `keepOthers` (a build of some assets only) keeps the other entries of the last index too,
   * so the next full build still finds them.
   */
  async saveIndex(options: { keepOthers?: boolean } = {}): Promise<void> {
    const index = this.loadIndex();
    if (!this.indexStale && (options.keepOthers || this.used.size === index.size)) return;
    const records = new Map<string, StoredAction>();
    if (options.keepOthers) for (const [key, record] of index) records.set(key, record);
    for (const [key, record] of this.used) records.set(key, record);
    // Only records whose object was seen: the index vouches for both. Written a record at a time.
    const vouched = [...records].filter(([, record]) => this.present.has(record.output.hash));
    await writeFileAtomic(this.indexFile, compactJsonChunks({ format: INDEX_FORMAT }, 'records', vouched));
    this.indexStale = false;
    this.indexDropped = false;
  }

  objectPath(hash: string): string {
    return path.join(this.dir, 'objects', hash.slice(0, 2), hash);
  }

  private actionPath(key: string): string {
    return path.join(this.dir, 'actions', key.slice(0, 2), `${key}.json`);
  }

  tmpPath(name = randomBytes(6).toString('hex')): string {
    return path.join(this.dir, 'tmp', `${process.pid}-${name}`);
  }

  // Metadata lookups are synchronous on purpose: a no-op build makes thousands of them, and a
  // stat or a read of a small local file costs microseconds, far less than a thread-pool round trip.
  async hasObject(hash: string): Promise<boolean> {
    if (this.present.has(hash)) return true;
    const found = statSync(this.objectPath(hash), { throwIfNoEntry: false }) !== undefined;
    if (found) this.present.add(hash);
    else this.indexStale = true;
    return found;
  }

  async putBytes(data: Uint8Array): Promise<{ hash: string; size: number }> {
    const hash = await hashBytes(data);
    const dest = this.objectPath(hash);
    if (!(await this.hasObject(hash))) await writeFileAtomic(dest, data);
    this.present.add(hash);
    return { hash, size: data.byteLength };
  }

  async putFile(file: string): Promise<{ hash: string; size: number }> {
    const [hash, info] = await Promise.all([hashFile(file), stat(file)]);
    const dest = this.objectPath(hash);
    if (await this.hasObject(hash)) {
      await rm(file, { force: true });
    } else {
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(file, dest);
    }
    this.present.add(hash);
    return { hash, size: info.size };
  }

  async getAction(key: string): Promise<StoredAction | undefined> {
    const indexed = this.loadIndex().get(key);
    if (indexed) {
      this.used.set(key, indexed);
      return indexed;
    }
    try {
      const record = JSON.parse(readFileSync(this.actionPath(key), 'utf8')) as ActionRecord;
      if (record.version !== 1 || record.key !== key) return undefined;
      const stored = summaryOf(record);
      this.used.set(key, stored);
      this.indexStale = true;
      return stored;
    } catch {
      // Missing or unreadable (a torn write cannot happen: writes are atomic): treat as absent.
      return undefined;
    }
  }

  async putAction(record: ActionRecord): Promise<void> {
    // The index may hold an older record of this key: it goes before the new record is written.
    if (!this.indexDropped) {
      try {
        unlinkSync(this.indexFile);
      } catch {
        // none there
      }
      this.indexDropped = true;
    }
    await writeFileAtomic(this.actionPath(record.key), JSON.stringify(record, null, 1));
    const stored = summaryOf(record);
    this.loadIndex().set(record.key, stored);
    this.used.set(record.key, stored);
    this.indexStale = true;
  }

  /** The whole record of `key` (with its fingerprint), as its file holds it: `gpt4k cache push` sends it as is. */
  async readRecord(key: string): Promise<ActionRecord | undefined> {
    try {
      const record = JSON.parse(await readFile(this.actionPath(key), 'utf8')) as ActionRecord;
      return record.version === 1 && record.key === key ? record : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every generate record under actions/, read only when a plan has generations to price. */
  async generateRecords(): Promise<StoredAction[]> {
    const root = path.join(this.dir, 'actions');
    const files = await readdir(root, { recursive: true }).catch(() => [] as string[]);
    const records: StoredAction[] = [];
    for (const file of files) {
      if (!file.endsWith('.json')) continue;
      try {
        const record = JSON.parse(await readFile(path.join(root, file), 'utf8')) as ActionRecord;
        if (record.version === 1 && record.kind === 'generate') records.push(summaryOf(record));
      } catch {
        // unreadable: not history
      }
    }
    return records;
  }

  /** Verifies an object's bytes still hash to its name (used before restoring deliverables). */
  async verifyObject(hash: string): Promise<boolean> {
    try {
      return (await hashFile(this.objectPath(hash))) === hash;
    } catch {
      return false;
    }
  }

  async ensureDirs(): Promise<void> {
    await mkdir(path.join(this.dir, 'tmp'), { recursive: true });
  }

  /** Opens a temp file in the store's tmp folder, for steps that stream their output. */
  async openTemp(ext: string): Promise<string> {
    await this.ensureDirs();
    const file = this.tmpPath() + ext;
    const handle = await open(file, 'w');
    await handle.close();
    return file;
  }
}
