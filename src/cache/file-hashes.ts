import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from './hash.js';
import { writeFileAtomic } from '../util/atomic.js';

interface FileEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
}

/**
 * Content hashes of input files (sources, profiles, models), re-hashed only when size, mtime
 * or inode changed, so a no-op build reads no image. Paths are kept relative to the project
 * root so the cache can travel between machines (CI restore).
 */
export class FileHashes {
  private entries = new Map<string, FileEntry>();
  /** Hashes asked for in this process, by absolute path. */
  private readonly seen = new Map<string, Promise<string>>();
  private dirty = false;

  private constructor(
    private readonly file: string,
    private readonly root: string,
  ) {}

  static async load(file: string, root: string): Promise<FileHashes> {
    const hashes = new FileHashes(file, root);
    try {
      const data = JSON.parse(await readFile(file, 'utf8')) as Record<string, FileEntry>;
      for (const [rel, entry] of Object.entries(data)) if (!path.isAbsolute(rel)) hashes.entries.set(rel, entry);
    } catch {
      // No cache yet, or unreadable: start empty.
    }
    return hashes;
  }

  /**
   * Always a relative path, `../` included for files beside the project (a shared ICC folder),
   * so no absolute path of this machine lands in the cache. A file on another drive, which no
   * relative path reaches, is hashed every time instead of remembered.
   */
  private keyFor(absPath: string): string | undefined {
    const rel = path.relative(this.root, absPath);
    return path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
  }

  /**
   * The file's content hash. Asked again in the same process (by the plan, then by the
   * build), a file answers from memory: one build sees one version of each input.
   */
  async hash(absPath: string): Promise<string> {
    const seen = this.seen.get(absPath);
    if (seen) return seen;
    const hashing = this.hashNow(absPath);
    this.seen.set(absPath, hashing);
    hashing.catch(() => this.seen.delete(absPath));
    return hashing;
  }

  private async hashNow(absPath: string): Promise<string> {
    // A stat costs microseconds: synchronous, so a thousand sources do not queue on the thread pool.
    const info = statSync(absPath);
    const key = this.keyFor(absPath);
    const known = key === undefined ? undefined : this.entries.get(key);
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs && known.ino === info.ino) {
      return known.hash;
    }
    const hash = await hashFile(absPath);
    if (key === undefined) return hash;
    this.entries.set(key, { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino, hash });
    this.dirty = true;
    return hash;
  }

  /** Every file asked for in this process (absolute paths): what this build's keys read. */
  hashedFiles(): string[] {
    return [...this.seen.keys()];
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.entries)));
    this.dirty = false;
  }
}
