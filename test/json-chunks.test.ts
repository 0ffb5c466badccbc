import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/util/atomic.js';
import { batched, compactJsonChunks, prettyJsonChunks } from '../src/util/json-chunks.js';

/** Values that exercise what JSON.stringify does: nesting, empties, escapes, omitted fields, holes. */
const awkward = {
  version: 2,
  empty: [],
  emptyObject: {},
  gone: undefined,
  fn: () => 1,
  text: 'line one\nline two "quoted" \\ <tag> é ✓',
  nested: { a: [1, 2, { b: null, c: [] }], d: { e: 'f\n' } },
  items: [
    { id: 'a', steps: [{ name: 'generate', durationMs: 12.5 }], error: null, skipped: undefined },
    'plain',
    [1, [2, [3]]],
    undefined,
    null,
    { multi: 'x\ny', deep: { deeper: { deepest: [true, false] } } },
  ],
  last: 'end',
};

describe('JSON written in parts', () => {
  it('prettyJsonChunks gives JSON.stringify(value, null, 2) byte for byte, an array element at a time', () => {
    const parts = [...prettyJsonChunks(awkward)];
    expect(parts.map((p) => p.text).join('')).toBe(JSON.stringify(awkward, null, 2));
    // Each of the six items is its own part, named by its field.
    expect(parts.filter((p) => p.key === 'items').length).toBe(6 + 2);
    expect([...prettyJsonChunks({})].map((p) => p.text).join('')).toBe('{}');
    expect([...prettyJsonChunks({ only: [] })].map((p) => p.text).join('')).toBe(JSON.stringify({ only: [] }, null, 2));
  });

  it('compactJsonChunks gives JSON.stringify of a record under a head, an entry at a time', () => {
    const nodes = { n1: { key: 'k', fingerprint: { a: [1, 'x\n'] } }, skip: undefined, 'n"2': 3, 10: null, é: 'ü' };
    const text = [...compactJsonChunks({ version: 1 }, 'nodes', Object.entries(nodes))].join('');
    expect(text).toBe(JSON.stringify({ version: 1, nodes }));
    expect(JSON.parse(text)).toEqual({ version: 1, nodes: { n1: nodes.n1, 'n"2': 3, 10: null, é: 'ü' } });
    expect([...compactJsonChunks({}, 'records', [])].join('')).toBe('{"records":{}}');
  });

  it('batched joins small parts into chunks of about the size asked', async () => {
    const parts = Array.from({ length: 1000 }, (_, i) => `${i},`);
    const chunks: string[] = [];
    for await (const chunk of batched(parts, 100)) chunks.push(chunk);
    expect(chunks.join('')).toBe(parts.join(''));
    expect(chunks.length).toBeLessThan(50);
    expect(chunks.slice(0, -1).every((c) => c.length >= 100 && c.length < 110)).toBe(true);
  });

  describe('writeFileAtomic with parts', () => {
    let dir = '';
    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('writes them in order, and a failure part-way leaves the old file and no temp file', async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-chunks-'));
      const file = path.join(dir, 'big.json');
      await writeFileAtomic(file, (function* () {
        for (const p of prettyJsonChunks(awkward)) yield p.text;
      })());
      expect(await readFile(file, 'utf8')).toBe(JSON.stringify(awkward, null, 2));

      async function* broken(): AsyncGenerator<string> {
        yield '{"half": ';
        throw new Error('disk went away');
      }
      await expect(writeFileAtomic(file, broken())).rejects.toThrow('disk went away');
      expect(await readFile(file, 'utf8')).toBe(JSON.stringify(awkward, null, 2));
      expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  });
});
