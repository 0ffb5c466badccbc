import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { hashObject } from './hash.js';
import { ACTION_INDEX, type ActionRecord } from './store.js';

/**
 * Cache lifecycle: what .gpt4k/ holds, what the current manifest still reaches, and removing
 * the rest. Reachability comes from outside (the engine plans the manifest and hands the live
 * keys in), so this file knows the store's layout and nothing of graphs.
 *
 * A "generation" of an asset is one generate key with all of its candidates (variants): the
 * unit `--keep N` counts, because an edit of the prompt makes a new one.
 */

/** What the current manifest reaches: node keys (generate, upscale, render) and pinned images. */
export interface LiveSet {
  keys: Set<string>;
  /** Objects kept whatever the records say (assets.lock.json images). */
  objects: Set<string>;
}

export interface RecordEntry {
  key: string;
  nodeId: string;
  kind: string;
  asset: string;
  /** The key of the generation this record belongs to: its own, or for candidate K > 1 the base key. */
  generation: string;
  output: string;
  /** Every object the record keeps alive: its output, and side objects such as a render's preview. */
  objects: string[];
  createdAt: number;
  /** Bytes of the record file. */
  size: number;
  file: string;
}

export interface ObjectEntry {
  hash: string;
  size: number;
  mtimeMs: number;
  file: string;
}

export interface Inventory {
  records: RecordEntry[];
  objects: Map<string, ObjectEntry>;
  /** Bytes in tmp/ (left by killed builds). */
  tmpBytes: number;
}

/** Reads the store's layout: objects/xx/HASH and actions/xx/KEY.json. */
export async function takeInventory(cacheDir: string): Promise<Inventory> {
  const objects = new Map<string, ObjectEntry>();
  for (const file of await filesUnder(path.join(cacheDir, 'objects'))) {
    const name = path.basename(file);
    if (name.startsWith('.')) continue; // a temp file of a write in progress
    const info = await stat(file).catch(() => undefined);
    if (info) objects.set(name, { hash: name, size: info.size, mtimeMs: info.mtimeMs, file });
  }
  const records: RecordEntry[] = [];
  for (const file of await filesUnder(path.join(cacheDir, 'actions'))) {
    if (!file.endsWith('.json') || path.basename(file).startsWith('.')) continue;
    const [text, info] = await Promise.all([readFile(file, 'utf8').catch(() => undefined), stat(file).catch(() => undefined)]);
    if (text === undefined || !info) continue;
    let record: ActionRecord;
    try {
      record = JSON.parse(text) as ActionRecord;
    } catch {
      // An unreadable record reaches nothing; it goes with the unreachable ones.
      records.push({ key: path.basename(file, '.json'), nodeId: '?', kind: '?', asset: '?', generation: path.basename(file, '.json'), output: '', objects: [], createdAt: info.mtimeMs, size: info.size, file });
      continue;
    }
    records.push({
      key: record.key,
      nodeId: record.nodeId,
      kind: record.kind,
      asset: record.nodeId.split('/')[0] ?? record.nodeId,
      generation: await generationOf(record),
      output: record.output.hash,
      objects: [record.output.hash, ...(typeof record.meta?.['previewHash'] === 'string' ? [record.meta['previewHash']] : [])],
      createdAt: Date.parse(record.createdAt) || info.mtimeMs,
      size: info.size,
      file,
    });
  }
  let tmpBytes = 0;
  for (const file of await filesUnder(path.join(cacheDir, 'tmp'))) tmpBytes += (await stat(file).catch(() => undefined))?.size ?? 0;
  return { records, objects, tmpBytes };
}

/** Candidate K > 1 of a variant asset is keyed by its fingerprint plus `variant`; its generation is the key without. */
async function generationOf(record: ActionRecord): Promise<string> {
  const fingerprint = record.fingerprint as Record<string, unknown> | null;
  if (record.kind !== 'generate' || !fingerprint || typeof fingerprint !== 'object' || !('variant' in fingerprint)) return record.key;
  const { variant: _variant, ...base } = fingerprint;
  return hashObject(base);
}

async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Which records and objects the live set reaches, and which older generations `keep` holds on to. */
export interface Classified {
  reachable: Set<RecordEntry>;
  kept: Set<RecordEntry>;
  unreachable: RecordEntry[];
  liveObjects: Set<string>;
}

export function classify(inventory: Inventory, live: LiveSet, keep: number): Classified {
  const reachable = new Set<RecordEntry>();
  const unreachable: RecordEntry[] = [];
  for (const record of inventory.records) {
    // Every candidate of a live generation is reachable: any of them may be picked.
    if (live.keys.has(record.key) || (record.kind === 'generate' && live.keys.has(record.generation))) reachable.add(record);
    else unreachable.push(record);
  }
  // Older generations per asset, newest first: the first `keep` of them stay.
  const generations = new Map<string, Map<string, RecordEntry[]>>();
  for (const record of unreachable) {
    if (record.kind !== 'generate') continue;
    const byGeneration = generations.get(record.asset) ?? new Map<string, RecordEntry[]>();
    byGeneration.set(record.generation, [...(byGeneration.get(record.generation) ?? []), record]);
    generations.set(record.asset, byGeneration);
  }
  const kept = new Set<RecordEntry>();
  for (const byGeneration of generations.values()) {
    const newest = [...byGeneration.values()].sort((a, b) => Math.max(...b.map((r) => r.createdAt)) - Math.max(...a.map((r) => r.createdAt)));
    for (const group of newest.slice(0, Math.max(0, keep))) for (const record of group) kept.add(record);
  }
  const liveObjects = new Set(live.objects);
  for (const record of reachable) for (const hash of record.objects) liveObjects.add(hash);
  return { reachable, kept, unreachable: unreachable.filter((r) => !kept.has(r)), liveObjects };
}

export interface CacheStats {
  totalBytes: number;
  tmpBytes: number;
  objects: { count: number; bytes: number; reachable: { count: number; bytes: number }; unreachable: { count: number; bytes: number } };
  records: { count: number; byKind: Record<string, number>; reachable: number; unreachable: number };
}

export function statsOf(inventory: Inventory, live: LiveSet): CacheStats {
  const { reachable, liveObjects } = classify(inventory, live, 0);
  const objects = [...inventory.objects.values()];
  const sum = (list: ObjectEntry[]) => list.reduce((n, o) => n + o.size, 0);
  const liveList = objects.filter((o) => liveObjects.has(o.hash));
  const deadList = objects.filter((o) => !liveObjects.has(o.hash));
  const byKind: Record<string, number> = {};
  for (const record of [...inventory.records].sort((a, b) => a.kind.localeCompare(b.kind))) byKind[record.kind] = (byKind[record.kind] ?? 0) + 1;
  const recordBytes = inventory.records.reduce((n, r) => n + r.size, 0);
  return {
    totalBytes: sum(objects) + recordBytes + inventory.tmpBytes,
    tmpBytes: inventory.tmpBytes,
    objects: {
      count: objects.length,
      bytes: sum(objects),
      reachable: { count: liveList.length, bytes: sum(liveList) },
      unreachable: { count: deadList.length, bytes: sum(deadList) },
    },
    records: { count: inventory.records.length, byKind, reachable: reachable.size, unreachable: inventory.records.length - reachable.size },
  };
}

export interface GcOptions {
  /** Older generations to keep per asset (their images and records). */
  keep: number;
  /** Size cap in bytes: remove unreachable entries, oldest first, only until the cache fits. */
  maxBytes?: number;
  dryRun?: boolean;
}

export interface GcResult {
  removed: { records: number; objects: number; bytes: number; tmpBytes: number };
  kept: { reachableRecords: number; olderGenerations: number; bytes: number };
  /** With maxBytes: true when what is reachable alone is over the cap. */
  overCap: boolean;
  dryRun: boolean;
}

/**
 * Removes what the live set does not reach. Without a cap: every unreachable record and object,
 * except the `keep` newest older generations per asset. With a cap: unreachable entries oldest
 * first (older generations last) until the cache fits; reachable ones never.
 * The caller holds the build lock, so no build writes meanwhile.
 */
export async function collectGarbage(cacheDir: string, inventory: Inventory, live: LiveSet, options: GcOptions): Promise<GcResult> {
  const classified = classify(inventory, live, options.keep);
  const victims = new Set<RecordEntry>();
  const objectsWanted = (survivors: Iterable<RecordEntry>): Set<string> => {
    const wanted = new Set(classified.liveObjects);
    for (const record of survivors) for (const hash of record.objects) wanted.add(hash);
    return wanted;
  };
  const survivors = () => inventory.records.filter((r) => !victims.has(r));
  let overCap = false;

  if (options.maxBytes === undefined) {
    for (const record of classified.unreachable) victims.add(record);
  } else {
    // Count who still needs each object; orphans (no record, not pinned) go whatever the cap.
    const users = new Map<string, number>();
    for (const record of inventory.records) for (const hash of record.objects) users.set(hash, (users.get(hash) ?? 0) + 1);
    const needed = (hash: string) => classified.liveObjects.has(hash) || (users.get(hash) ?? 0) > 0;
    let size = inventory.records.reduce((n, r) => n + r.size, 0);
    for (const object of inventory.objects.values()) if (needed(object.hash)) size += object.size;
    const order = [
      ...[...classified.unreachable].sort((a, b) => a.createdAt - b.createdAt),
      ...[...classified.kept].sort((a, b) => a.createdAt - b.createdAt),
    ];
    for (const record of order) {
      if (size <= options.maxBytes) break;
      victims.add(record);
      size -= record.size;
      for (const hash of record.objects) {
        users.set(hash, (users.get(hash) ?? 1) - 1);
        if (!needed(hash)) size -= inventory.objects.get(hash)?.size ?? 0;
      }
    }
    overCap = size > options.maxBytes;
  }

  const wanted = objectsWanted(survivors());
  const doomedObjects = [...inventory.objects.values()].filter((o) => !wanted.has(o.hash));
  const removedBytes = doomedObjects.reduce((n, o) => n + o.size, 0) + [...victims].reduce((n, r) => n + r.size, 0);
  if (!options.dryRun) {
    // The action index may list records about to go: builds read the record files until the next one writes it.
    await rm(path.join(cacheDir, ACTION_INDEX), { force: true });
    for (const record of victims) await rm(record.file, { force: true });
    for (const object of doomedObjects) await rm(object.file, { force: true });
    if (inventory.tmpBytes > 0) await rm(path.join(cacheDir, 'tmp'), { recursive: true, force: true });
  }
  const keptRecords = survivors();
  const keptBytes = [...inventory.objects.values()].filter((o) => wanted.has(o.hash)).reduce((n, o) => n + o.size, 0) + keptRecords.reduce((n, r) => n + r.size, 0);
  const olderGenerations = new Set([...classified.kept].filter((r) => !victims.has(r)).map((r) => r.generation)).size;
  return {
    removed: { records: victims.size, objects: doomedObjects.length, bytes: removedBytes, tmpBytes: inventory.tmpBytes },
    kept: { reachableRecords: classified.reachable.size, olderGenerations, bytes: keptBytes },
    overCap,
    dryRun: !!options.dryRun,
  };
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** "2GB", "500M", "1.5GiB", "1048576": bytes (units are powers of 1024); undefined when unreadable. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = UNITS[(match[2] ?? '').toLowerCase()];
  return unit === undefined ? undefined : Math.floor(Number(match[1]) * unit);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
