/**
 * CI mode: `build --frozen` never calls a paid provider, the cache travels between directories
 * (machines), assets.lock.json is verified, and output stays plain lines. Real CLI, real HTTP
 * stand-in for the OpenAI images API; requests are counted there.
 */
import { copyFile, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeReporter } from '../src/cli/main.js';
import { PlainReporter } from '../src/cli/reporters/plain.js';
import { copyProject, makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { FOGRA39 } from './support/paths.js';

const KEY = 'sk-test-frozen-0000';
let api: FakeOpenAI;
let project: Project;
const cleanup: Project[] = [];

const MANIFEST = `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "front view, a teal coffee bag"
  mug:
    prompt: "front view, a red enamel mug"
`;

const withKey = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });
const withoutKey = () => ({ OPENAI_BASE_URL: api.url });

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api.close();
});
beforeEach(async () => {
  api.reset();
  project = await makeProject({ 'assets.pipeline.yaml': MANIFEST }, 'gpt4k-frozen-');
  cleanup.push(project);
});
afterEach(async () => {
  for (const p of cleanup.splice(0)) await p.remove();
});

describe('build --frozen', () => {
  it('on an empty cache sends nothing, builds nothing, names the missing assets and exits 3', async () => {
    const result = await project.run(['build', '--frozen'], withKey());
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('E_FROZEN');
    expect(result.stderr).toMatch(/hero/);
    expect(result.stderr).toMatch(/mug/);
    expect(api.requests).toHaveLength(0);
    expect(project.exists('out/hero')).toBe(false);
    expect(project.exists('out/mug')).toBe(false);
    expect(project.exists('assets.lock.json')).toBe(false);
  });

  it('after a normal build, builds from the cache with zero requests and exits 0', async () => {
    const first = await project.run(['build'], withKey());
    expect(first.code, first.stderr).toBe(0);
    expect(api.requests).toHaveLength(2);
    const built = await project.bytes('out/hero/web.png');

    // CI has no key at all: nothing may need one.
    const frozen = await project.run(['build', '--frozen'], withoutKey());
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(api.requests).toHaveLength(2);
    const report = await project.report();
    expect(report.summary).toMatchObject({ built: 0, cached: 2, failed: 0, providerCalls: 0 });
    expect(await project.bytes('out/hero/web.png')).toEqual(built);
  });

  it('refuses (exit 3, naming the asset) when assets.lock.json pins another image than the cache gives', async () => {
    expect((await project.run(['build'], withKey())).code).toBe(0);
    const lock = JSON.parse(await project.read('assets.lock.json')) as { assets: Record<string, { key: string; image: string }> };
    expect(Object.keys(lock.assets)).toEqual(['hero', 'mug']);
    lock.assets.mug!.image = '0123456789abcdef';
    await project.write('assets.lock.json', JSON.stringify(lock));
    const frozen = await project.run(['build', '--frozen'], withKey());
    expect(frozen.code).toBe(3);
    expect(frozen.stderr).toContain('E_LOCK_MISMATCH');
    expect(frozen.stderr).toMatch(/\bmug\b.*0123456789abcdef/);
    expect(frozen.stderr).not.toMatch(/\bhero\b \(/);
    expect(api.requests).toHaveLength(2);
  });

  it('refuses when the manifest changed since the lock was written, even for a free local provider', async () => {
    await project.write('assets.pipeline.yaml', MANIFEST.replace(/provider: openai, model: gpt-image-1.5, size: 1024x1024/, 'provider: procedural, size: 64x64'));
    expect((await project.run(['build'])).code).toBe(0);
    await project.write(
      'assets.pipeline.yaml',
      MANIFEST.replace(/provider: openai, model: gpt-image-1.5, size: 1024x1024/, 'provider: procedural, size: 64x64').replace('red enamel mug', 'blue enamel mug'),
    );
    const frozen = await project.run(['build', '--frozen']);
    expect(frozen.code).toBe(3);
    expect(frozen.stderr).toMatch(/E_LOCK_MISMATCH.*mug \(the manifest changed/);
    // Refused before any work: the old deliverable is untouched, nothing new rendered.
    expect((await project.report()).summary.built).toBe(2);
  });
});

describe('a cache that travels', () => {
  it('builds --frozen in another directory from a copied cache: no provider call, no render', async () => {
    const photo = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 200, g: 40, b: 90 } } }).jpeg().toBuffer();
    await project.write('photos/studio.jpg', photo);
    await copyFile(FOGRA39, path.join(project.dir, 'profile-press.icc'));
    await project.write(
      'assets.pipeline.yaml',
      `${MANIFEST.replace('targets:\n', `profiles:\n  press: ./profile-press.icc\ntargets:\n  card: { paper: custom, width_mm: 30, height_mm: 20, dpi: 72, color: { profile: press }, format: tiff, preflight: off }\n`)}  studio:\n    source: ./photos/studio.jpg\n`,
    );
    const first = await project.run(['build'], withKey());
    expect(first.code, first.stderr).toBe(0);
    expect(api.requests).toHaveLength(2);

    // Nothing under .gpt4k/ names this machine's directory.
    for (const file of await readdir(path.join(project.dir, '.gpt4k'), { recursive: true, withFileTypes: true })) {
      if (!file.isFile() || file.name === 'lock') continue;
      const full = path.join(file.parentPath, file.name);
      if (!/\.json$/.test(file.name)) continue;
      const text = await readFile(full, 'utf8');
      expect(text, full).not.toContain(project.dir);
      expect(text, full).not.toContain(path.dirname(FOGRA39));
    }
    const files = JSON.parse(await project.read('.gpt4k/files.json')) as Record<string, unknown>;
    expect(Object.keys(files).sort()).toEqual(['photos/studio.jpg', 'profile-press.icc']);

    // CI: a fresh checkout (no out/) plus the restored cache, somewhere else, without a key.
    const moved = await copyProject(project, ['assets.pipeline.yaml', 'assets.lock.json', 'photos', 'profile-press.icc', '.gpt4k']);
    cleanup.push(moved);
    const frozen = await moved.run(['build', '--frozen'], withoutKey());
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(api.requests).toHaveLength(2);
    const report = await moved.report();
    expect(report.summary).toMatchObject({ assets: 3, built: 0, cached: 3, failed: 0, providerCalls: 0 });
    for (const asset of report.assets) for (const step of asset.steps) expect(step.status, `${asset.id} ${step.kind}`).toBe('cached');
    expect(frozen.stdout).not.toMatch(/^built /m);
    expect(frozen.stdout).toMatch(/restored hero render:web from the cache/);
    for (const rel of ['out/hero/web.png', 'out/hero/card.tif', 'out/mug/web.png', 'out/studio/card.tif']) {
      expect(await moved.bytes(rel), rel).toEqual(await project.bytes(rel));
    }
  });
});

describe('CI-friendly output', () => {
  it('prints plain lines with no cursor escapes, with CI set or without a terminal', async () => {
    await project.write('assets.pipeline.yaml', MANIFEST.replace(/provider: openai, model: gpt-image-1.5, size: 1024x1024/, 'provider: procedural, size: 64x64'));
    for (const env of [{ CI: 'true' }, { CI: undefined }]) {
      const result = await project.run(['build'], env);
      expect(result.code).toBe(0);
      expect(result.stdout + result.stderr).not.toMatch(/\x1b\[/);
      expect(result.stdout).toMatch(/^done: /m);
    }
  });

  it('picks the plain reporter when CI is set, even at a terminal', () => {
    const io = { out: process.stdout, err: process.stderr, cwd: process.cwd(), isTTY: true };
    expect(makeReporter({}, { ...io, env: { CI: 'true' } })).toBeInstanceOf(PlainReporter);
    expect(makeReporter({}, { ...io, isTTY: false, env: {} })).toBeInstanceOf(PlainReporter);
  });
});
