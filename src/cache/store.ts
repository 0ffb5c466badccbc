import { mkdir, readFile, stat, rename, rm, open } from 'node:fs/promises';
import path from 'node:path';
import { hashBytes, hashFile } from './hash.js';
import { writeFileAtomic } from '../util/atomic.js';
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
 * The content-addressed store: objects by content hash, action records by key. Local files
 * under .gpt4k/ today; the interface is small enough for a shared remote store later.
 */
export interface Store {
  hasObject(hash: string): Promise<boolean>;
  /** A local path to read the object from (a remote store would fetch it first). */
  objectPath(hash: string): string;
  putBytes(data: Uint8Array): Promise<{ hash: string; size: number }>;
  /** Moves a finished temp file into the store (no copy). */
  putFile(file: string): Promise<{ hash: string; size: number }>;
  getAction(key: string): Promise<ActionRecord | undefined>;
  putAction(record: ActionRecord): Promise<void>;
}

export class LocalStore implements Store {
  readonly dir: string;

  constructor(cacheDir: string) {
    this.dir = cacheDir;
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

  async hasObject(hash: string): Promise<boolean> {
    try {
      await stat(this.objectPath(hash));
      return true;
    } catch {
      return false;
    }
  }

  async putBytes(data: Uint8Array): Promise<{ hash: string; size: number }> {
    const hash = await hashBytes(data);
    const dest = this.objectPath(hash);
    if (!(await this.hasObject(hash))) await writeFileAtomic(dest, data);
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
    return { hash, size: info.size };
  }

  async getAction(key: string): Promise<ActionRecord | undefined> {
    try {
      const record = JSON.parse(await readFile(this.actionPath(key), 'utf8')) as ActionRecord;
      return record.version === 1 && record.key === key ? record : undefined;
    } catch {
      // Missing or unreadable (a torn write cannot happen: writes are atomic): treat as absent.
      return undefined;
    }
  }

  async putAction(record: ActionRecord): Promise<void> {
    await writeFileAtomic(this.actionPath(record.key), JSON.stringify(record, null, 1));
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
