import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { ExitCode, GptError } from '../util/errors.js';

/**
 * assets.lock.json: a file meant to be committed. It pins, per generated asset, the generation
 * key the manifest gave, the candidate picked (`gpt4k pick ID K`) and the image hash that came
 * out, so a teammate's CI with the shared cache delivers exactly the same images, and
 * `build --frozen` can verify that it does.
 *
 * The file is diff-friendly on purpose: assets sorted by id, fields in a fixed order, one field
 * a line, and it is rewritten only when something in it changed.
 */
export const LOCK_FILE = 'assets.lock.json';

export interface LockEntry {
  /** The generate node's key (the hash of its fingerprint). */
  key: string;
  /** Candidate in use, from 1; written only when the asset has more than one candidate. */
  pick?: number;
  /** Content hash of the image the downstream steps use. */
  image: string;
  /** Every candidate's image hash, in candidate order (only when there is more than one). */
  candidates?: string[];
}

export interface LockFile {
  version: 1;
  assets: Record<string, LockEntry>;
}

export const lockFilePath = (root: string): string => path.join(root, LOCK_FILE);

export const emptyLock = (): LockFile => ({ version: 1, assets: {} });

/** The lock file of a project; undefined when there is none yet. A broken one is an error. */
export async function readLockFile(root: string): Promise<LockFile | undefined> {
  const file = lockFilePath(root);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const bad = (why: string) =>
    new GptError('E_LOCK_FILE', `${LOCK_FILE} ${why}`, {
      hint: `fix the file (a merge conflict?), or delete it and run \`gpt4k build\` to write a fresh one`,
      exitCode: ExitCode.usage,
    });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad(`is not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(data) || data.version !== 1 || !isRecord(data.assets)) throw bad('is not a version 1 lock file ({ "version": 1, "assets": {...} })');
  const assets: Record<string, LockEntry> = {};
  for (const [id, entry] of Object.entries(data.assets)) {
    if (!isRecord(entry) || typeof entry.key !== 'string' || typeof entry.image !== 'string') throw bad(`has a malformed entry for "${id}"`);
    const clean: LockEntry = { key: entry.key, image: entry.image };
    if (typeof entry.pick === 'number' && Number.isInteger(entry.pick) && entry.pick >= 1) clean.pick = entry.pick;
    if (Array.isArray(entry.candidates) && entry.candidates.every((c) => typeof c === 'string')) clean.candidates = entry.candidates as string[];
    assets[id] = clean;
  }
  return { version: 1, assets };
}

/** The stable text of a lock file: assets sorted by id, fields in a fixed order. */
export function formatLockFile(lock: LockFile): string {
  const assets: Record<string, LockEntry> = {};
  for (const id of Object.keys(lock.assets).sort()) {
    const entry = lock.assets[id] as LockEntry;
    assets[id] = {
      key: entry.key,
      ...(entry.pick !== undefined ? { pick: entry.pick } : {}),
      image: entry.image,
      ...(entry.candidates && entry.candidates.length > 1 ? { candidates: entry.candidates } : {}),
    };
  }
  return `${JSON.stringify({ version: 1, assets }, null, 2)}\n`;
}

/** Whether two lock files would be written the same (formatLockFile), without writing either. */
export function sameLockFile(a: LockFile, b: LockFile): boolean {
  const ids = Object.keys(a.assets);
  if (ids.length !== Object.keys(b.assets).length) return false;
  const candidates = (entry: LockEntry) => (entry.candidates && entry.candidates.length > 1 ? entry.candidates : []);
  for (const id of ids) {
    const x = a.assets[id] as LockEntry;
    const y = b.assets[id];
    if (!y || x.key !== y.key || x.image !== y.image || x.pick !== y.pick) return false;
    const cx = candidates(x);
    const cy = candidates(y);
    if (cx.length !== cy.length || cx.some((c, i) => c !== cy[i])) return false;
  }
  return true;
}

/** Writes the lock file when its text changed; true when it did. */
export async function writeLockFile(root: string, lock: LockFile): Promise<boolean> {
  const text = formatLockFile(lock);
  const file = lockFilePath(root);
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await writeFileAtomic(file, text);
  return true;
}

/** The candidate an asset uses: the lock's pick while the lock's key is still the asset's key. */
export function pickedCandidate(lock: LockFile | undefined, asset: string, key: string): number {
  const entry = lock?.assets[asset];
  return entry && entry.key === key && entry.pick !== undefined ? entry.pick : 1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
