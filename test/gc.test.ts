/**
 * Cache lifecycle through the real CLI: `gpt4k cache stats` and `gpt4k gc` (--keep, --max-size),
 * with paid generations counted at the OpenAI images stand-in: whatever gc keeps must come back
 * with no request, whatever it removes costs one.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CacheStats, GcResult } from '../src/cache/gc.js';
import { parseByteSize } from '../src/cache/gc.js';
import { build, loadManifest } from '../src/index.js';
import { makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';

const KEY = 'sk-test-gc-0000';
let api: FakeOpenAI;
let project: Project;

const manifest = (prompt: string) => `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "front view, a coffee bag, ${prompt}"
`;

const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

/**
 * Builds the manifest with this prompt; returns the requests it sent. In-process (the same
 * build() the CLI runs) to keep the test fast: gc and stats, the subject here, go through the CLI.
 */
async function buildWith(prompt: string): Promise<number> {
  await project.write('assets.pipeline.yaml', manifest(prompt));
  const loaded = await loadManifest(path.join(project.dir, 'assets.pipeline.yaml'));
  if (!loaded.ok) throw new Error(loaded.error.map((d) => d.message).join('\n'));
  const before = api.requests.length;
  const result = await build(loaded.value, { contactSheet: false });
  expect(result.exitCode).toBe(0);
  return api.requests.length - before;
}

async function gc(...args: string[]): Promise<GcResult> {
  const result = await project.run(['gc', '--json', ...args], env());
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as GcResult;
}

async function stats(): Promise<CacheStats> {
  const result = await project.run(['cache', 'stats', '--json'], env());
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as CacheStats;
}

const savedEnv = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
  process.env.OPENAI_API_KEY = KEY;
  process.env.OPENAI_BASE_URL = api.url;
});
afterAll(async () => {
  await api.close();
  for (const [name, value] of [['OPENAI_API_KEY', savedEnv.key], ['OPENAI_BASE_URL', savedEnv.url]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
beforeEach(async () => {
  api.reset();
  project = await makeProject({}, 'gpt4k-gc-');
});
afterEach(async () => {
  await project.remove();
});

describe('gpt4k cache stats / gc', () => {
  it('counts what the manifest reaches, and gc --keep N keeps N older generations that come back for free', async () => {
    expect(await buildWith('v1')).toBe(1);
    expect(await buildWith('v2')).toBe(1);
    expect(await buildWith('v3')).toBe(1);

    const before = await stats();
    expect(before.records).toMatchObject({ count: 6, byKind: { generate: 3, render: 3 }, reachable: 2, unreachable: 4 });
    // Each render also keeps its preview (the contact sheet's thumbnail): 3 images, 3 renders, 3 previews.
    expect(before.objects).toMatchObject({ count: 9, reachable: { count: 3 }, unreachable: { count: 6 } });
    expect(before.totalBytes).toBeGreaterThan(before.objects.bytes);
    const human = await project.run(['cache', 'stats'], env());
    expect(human.stdout).toMatch(/action records: 6 \(generate 3, render 3\): 2 reachable, 4 unreachable/);

    // Keep the newest older generation (v2): v1's image and every old render go.
    const kept = await gc('--keep', '1');
    expect(kept.removed).toMatchObject({ records: 3, objects: 5 });
    expect(kept.kept).toMatchObject({ reachableRecords: 2, olderGenerations: 1 });

    // Back to v2: its image was kept, so no request; v1 was removed, so it costs one again.
    expect(await buildWith('v2')).toBe(0);
    expect(await buildWith('v1')).toBe(1);

    // --keep 0: only what the current manifest (v1) reaches stays, and it still builds --frozen.
    const all = await gc('--keep', '0');
    expect(all.kept.olderGenerations).toBe(0);
    const after = await stats();
    expect(after.records).toMatchObject({ count: 2, reachable: 2, unreachable: 0 });
    expect(after.objects.unreachable.count).toBe(0);
    await rm(path.join(project.dir, 'out'), { recursive: true, force: true });
    const frozen = await project.run(['build', '--frozen'], { OPENAI_BASE_URL: api.url });
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(api.requests).toHaveLength(4);
    expect(project.exists('out/hero/web.png')).toBe(true);
  });

  it('--max-size removes unreachable entries oldest first, only until the cache fits, never reachable ones', async () => {
    expect(await buildWith('v1')).toBe(1);
    expect(await buildWith('v2')).toBe(1);
    expect(await buildWith('v3')).toBe(1);

    // A cap the cache already fits: nothing goes.
    expect((await gc('--max-size', '1GB')).removed.records).toBe(0);

    // Just under the current size: the oldest generation (v1) goes first, v2 stays.
    const { totalBytes } = await stats();
    const capped = await gc('--max-size', String(totalBytes - 1), '--keep', '0');
    expect(capped.removed.records).toBeGreaterThan(0);
    expect(capped.overCap).toBe(false);
    expect(await buildWith('v2')).toBe(0);
    expect(await buildWith('v1')).toBe(1);

    // A cap nothing fits under: every unreachable entry goes, reachable ones stay, and it says so.
    const tiny = await project.run(['gc', '--max-size', '1B', '--keep', '5'], env());
    expect(tiny.code).toBe(0);
    expect(tiny.stderr).toMatch(/over --max-size.*never removed/);
    expect((await stats()).records).toMatchObject({ reachable: 2, unreachable: 0 });
    const frozen = await project.run(['build', '--frozen'], { OPENAI_BASE_URL: api.url });
    expect(frozen.code, frozen.stderr).toBe(0);
    expect((await project.report()).summary).toMatchObject({ built: 0, cached: 1, providerCalls: 0 });
  });

  it('reads sizes the way people write them', () => {
    expect(parseByteSize('2GB')).toBe(2 * 1024 ** 3);
    expect(parseByteSize('1.5 MiB')).toBe(1.5 * 1024 ** 2);
    expect(parseByteSize('500k')).toBe(500 * 1024);
    expect(parseByteSize('1234')).toBe(1234);
    expect(parseByteSize('lots')).toBeUndefined();
    expect(parseByteSize('2 parsecs')).toBeUndefined();
  });

  it('rejects a bad --max-size as a usage error', async () => {
    await project.write('assets.pipeline.yaml', manifest('v1'));
    const result = await project.run(['gc', '--max-size', 'huge']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/2GB/);
  });
});
