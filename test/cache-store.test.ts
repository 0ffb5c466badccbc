import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashBytes, stableStringify } from '../src/cache/hash.js';
import { ACTION_INDEX, LocalStore, type ActionRecord } from '../src/cache/store.js';
import { fingerprintOf, loadState, recordNode, saveState } from '../src/cache/state.js';

/** The definition stableStringify's fast path must agree with: JSON with every object's keys sorted. */
function reference(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

describe('hashBytes', () => {
  it('is xxHash64 in 16 hex digits, the same for a string and its UTF-8 bytes', async () => {
    // Reference values of XXH64 with seed 0.
    expect(await hashBytes('')).toBe('ef46db3751d8e999');
    expect(await hashBytes('abc')).toBe('44bc2cf5ad770999');
    expect(await hashBytes(Buffer.from('abc'))).toBe('44bc2cf5ad770999');
    const text = 'héllo wörld, '.repeat(100);
    expect(await hashBytes(text)).toBe(await hashBytes(Buffer.from(text, 'utf8')));
  });
});

describe('stableStringify', () => {
  it('writes what sorted-key JSON writes, for fingerprints and the odd values JSON has rules for', () => {
    const values: unknown[] = [
      { kind: 'render', version: 2, target: { id: 'a3', width: 3508, height: 4961, color: { profile: 'fogra39', intent: 'perceptual', bpc: false } }, input: 'a77b9942d0772402' },
      { b: 1, a: [3, { z: null, y: 'é "quoted" \n' }], c: undefined, d: () => 1, 10: 'ten', 2: 'two' },
      [undefined, () => 1, Symbol('s'), NaN, Infinity, -0, 1e21, 0.1 + 0.2, -5.5e-7],
      { nested: { deep: { deeper: [[], {}, [null]] } }, empty: '' },
      Object.assign(Object.create(null) as object, { b: 2, a: 1 }),
      { when: new Date(0), bytes: new Uint8Array([1, 2]) },
      'text',
      42,
      null,
      true,
    ];
    for (const value of values) expect(stableStringify(value)).toBe(reference(value));
  });

  it('orders keys, so equal objects give equal text', () => {
    expect(stableStringify({ b: 1, a: { d: 2, c: 3 } })).toBe(stableStringify({ a: { c: 3, d: 2 }, b: 1 }));
  });
});

const record = (key: string, hash: string): ActionRecord => ({
  version: 1,
  key,
  nodeId: 'hero/generate',
  kind: 'generate',
  output: { hash, size: 3, ext: 'png' },
  fingerprint: { kind: 'generate', prompt: 'a hero' },
  meta: { provider: 'procedural' },
  ms: 1,
  createdAt: new Date(0).toISOString(),
});

describe('LocalStore action index', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the records the last build used from one file, and falls back to the record files without it', async () => {
    const first = new LocalStore(dir);
    const object = await first.putBytes(new Uint8Array([1, 2, 3]));
    await first.putAction(record('k1', object.hash));
    await first.saveIndex();
    expect(existsSync(path.join(dir, ACTION_INDEX))).toBe(true);

    // The index answers without the record file.
    await rm(path.join(dir, 'actions'), { recursive: true });
    const second = new LocalStore(dir);
    expect((await second.getAction('k1'))?.output.hash).toBe(object.hash);
    expect(await second.hasObject(object.hash)).toBe(true);
    // A record read back carries no fingerprint (state.json keeps those).
    expect(await second.getAction('k1')).not.toHaveProperty('fingerprint');
  });

  it('drops the index before the first record is written, so a killed build leaves no stale entry', async () => {
    const first = new LocalStore(dir);
    const old = await first.putBytes(new Uint8Array([1]));
    await first.putAction(record('k1', old.hash));
    await first.saveIndex();

    // A later build writes a new record for the same key (--regenerate) and is killed before saving the index.
    const killed = new LocalStore(dir);
    expect((await killed.getAction('k1'))?.output.hash).toBe(old.hash);
    const fresh = await killed.putBytes(new Uint8Array([2]));
    await killed.putAction(record('k1', fresh.hash));
    expect(existsSync(path.join(dir, ACTION_INDEX))).toBe(false);

    const next = new LocalStore(dir);
    expect((await next.getAction('k1'))?.output.hash).toBe(fresh.hash);
  });

  it('leaves out of the index a record whose object is gone, and ignores a damaged index', async () => {
    const first = new LocalStore(dir);
    await first.putAction(record('k1', 'ffffffffffffffff'));
    expect(await first.hasObject('ffffffffffffffff')).toBe(false);
    await first.getAction('k1');
    await first.saveIndex();
    const index = JSON.parse(await readFile(path.join(dir, ACTION_INDEX), 'utf8')) as { records: Record<string, unknown> };
    expect(Object.keys(index.records)).toEqual([]);

    await writeFile(path.join(dir, ACTION_INDEX), '{"format": 1, "records": {"k1": ');
    expect((await new LocalStore(dir).getAction('k1'))?.output.hash).toBe('ffffffffffffffff');
  });

  it('does not rewrite an unchanged index', async () => {
    const first = new LocalStore(dir);
    const object = await first.putBytes(new Uint8Array([7]));
    await first.putAction(record('k1', object.hash));
    await first.saveIndex();
    const file = path.join(dir, ACTION_INDEX);
    await writeFile(file, (await readFile(file, 'utf8')).replace('"format":1', '"format":1 '));
    const marked = await readFile(file, 'utf8');

    const noop = new LocalStore(dir);
    await noop.getAction('k1');
    await noop.saveIndex();
    expect(await readFile(file, 'utf8')).toBe(marked);
  });
});

describe('build state (state.json and fingerprints.json)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps keys and outputs in state.json, fingerprints apart, read only when asked for', async () => {
    const file = path.join(dir, 'state.json');
    const first = await loadState(file);
    recordNode(first, 'hero/render:a3', 'k1', { kind: 'render', target: { id: 'a3' } });
    first.outputs['out/hero/a3.tif'] = { hash: 'h1', size: 10, mtimeMs: 1 };
    await saveState(file, first);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ version: 2, nodes: { 'hero/render:a3': { key: 'k1' } }, outputs: { 'out/hero/a3.tif': { hash: 'h1', size: 10, mtimeMs: 1 } } });

    const second = await loadState(file);
    expect(fingerprintOf(second, 'hero/render:a3')).toEqual({ kind: 'render', target: { id: 'a3' } });
    expect(fingerprintOf(second, 'mug/render:a3')).toBeUndefined();
  });

  it('pairs a fingerprint only with its own key (a build killed between the two writes)', async () => {
    const file = path.join(dir, 'state.json');
    const state = await loadState(file);
    recordNode(state, 'hero/generate', 'k1', { prompt: 'one' });
    await saveState(file, state);
    // fingerprints.json of a later build that was killed before it wrote state.json
    await writeFile(path.join(dir, 'fingerprints.json'), JSON.stringify({ version: 1, nodes: { 'hero/generate': { key: 'k2', fingerprint: { prompt: 'two' } } } }));
    expect(fingerprintOf(await loadState(file), 'hero/generate')).toBeUndefined();
  });

  it('reads a state.json of the older format (fingerprints inline) and writes it back split', async () => {
    const file = path.join(dir, 'state.json');
    await writeFile(file, JSON.stringify({ version: 1, nodes: { 'hero/generate': { key: 'k1', fingerprint: { prompt: 'one' } } }, outputs: {} }));
    const state = await loadState(file);
    expect(state.nodes['hero/generate']).toEqual({ key: 'k1' });
    expect(fingerprintOf(state, 'hero/generate')).toEqual({ prompt: 'one' });
    await saveState(file, state, false);
    expect(JSON.parse(await readFile(file, 'utf8')).version).toBe(2);
    expect(fingerprintOf(await loadState(file), 'hero/generate')).toEqual({ prompt: 'one' });
  });

  it('writes nothing when a build changed nothing', async () => {
    const file = path.join(dir, 'state.json');
    const state = await loadState(file);
    recordNode(state, 'hero/generate', 'k1', { prompt: 'one' });
    await saveState(file, state);
    const before = await readFile(file, 'utf8');
    await writeFile(file, before.replace('"version":2', '"version":2 '));
    const again = await loadState(file);
    await saveState(file, again, false);
    expect(await readFile(file, 'utf8')).toBe(before.replace('"version":2', '"version":2 '));
  });
});
