/**
 * Variants and picks through the real CLI: `variants: N` makes N candidates (N provider calls),
 * `gpt4k pick ID K` pins one in assets.lock.json, downstream steps use it, a teammate's
 * `build --frozen` with the shared cache delivers the same bytes, and `--regenerate` adds a
 * candidate instead of overwriting one.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { copyProject, makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';

const KEY = 'sk-test-variants-0000';
let api: FakeOpenAI;
const projects: Project[] = [];

interface Lock {
  version: 1;
  assets: Record<string, { key: string; pick?: number; image: string; candidates?: string[] }>;
}

const procedural = `version: 1
defaults:
  generate: { provider: procedural, size: 64x64, quality: low }
  upscale: { engine: lanczos, scale: 2 }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  mug:
    prompt: "front view, a red enamel mug"
  hero:
    prompt: "front view, a teal coffee bag"
    variants: 3
`;

const openai = `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "front view, a teal coffee bag"
    variants: 3
  mug:
    prompt: "front view, a red enamel mug"
`;

const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

async function project(manifest: string): Promise<Project> {
  const p = await makeProject({ 'assets.pipeline.yaml': manifest }, 'gpt4k-variants-');
  projects.push(p);
  return p;
}

async function ok(p: Project, args: string[], extraEnv: Record<string, string> = env()) {
  const result = await p.run(args, extraEnv);
  expect(result.code, `${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

const readLock = async (p: Project) => JSON.parse(await p.read('assets.lock.json')) as Lock;

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => api.reset());
afterEach(async () => {
  for (const p of projects.splice(0)) await p.remove();
});

describe('variants and picks', () => {
  it('makes N candidates, pins a pick in a stable lock file, and a teammate builds the same bytes --frozen', async () => {
    const p = await project(procedural);
    await ok(p, ['build']);
    const text = await p.read('assets.lock.json');
    const lock = JSON.parse(text) as Lock;
    expect(Object.keys(lock.assets)).toEqual(['hero', 'mug']); // sorted, whatever the manifest order
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.split('\n').length).toBeGreaterThan(10); // one field a line: diffs stay small
    const hero = lock.assets.hero!;
    expect(hero.pick).toBe(1);
    expect(hero.candidates).toHaveLength(3);
    expect(new Set(hero.candidates).size).toBe(3); // three different pictures
    expect(hero.image).toBe(hero.candidates![0]);
    expect(lock.assets.mug).toEqual({ key: expect.any(String), image: expect.any(String) });
    const firstPick = await p.bytes('out/hero/web.png');

    // Nothing changed: the lock file is not rewritten.
    await ok(p, ['build']);
    expect(await p.read('assets.lock.json')).toBe(text);

    const listing = await ok(p, ['pick', 'hero']);
    expect(listing.stdout).toMatch(/hero: 3 candidate\(s\) \(variants: 3\)/);
    expect(listing.stdout).toMatch(/^ {2}\* 1 /m);

    await ok(p, ['pick', 'hero', '2']);
    const picked = await readLock(p);
    expect(picked.assets.hero).toMatchObject({ pick: 2, image: hero.candidates![1], candidates: hero.candidates });
    expect(picked.assets.mug).toEqual(lock.assets.mug);

    await ok(p, ['build']);
    const report = await p.report();
    const steps = report.assets.find((a) => a.id === 'hero')!.steps;
    expect(steps.find((s) => s.kind === 'generate')?.status).toBe('cached');
    expect(steps.find((s) => s.kind === 'render')?.status).toBe('built');
    expect(report.assets.find((a) => a.id === 'mug')?.status).toBe('cached');
    const secondPick = await p.bytes('out/hero/web.png');
    expect(secondPick).not.toEqual(firstPick);
    expect(await readLock(p)).toEqual(picked); // the build keeps the pick

    // A teammate: the committed manifest and lock, plus the shared cache, somewhere else.
    const mate = await copyProject(p, ['assets.pipeline.yaml', 'assets.lock.json', '.gpt4k']);
    projects.push(mate);
    await ok(mate, ['build', '--frozen']);
    expect(await mate.bytes('out/hero/web.png')).toEqual(secondPick);
    expect((await mate.report()).summary).toMatchObject({ built: 0, failed: 0 });

    const bad = await p.run(['pick', 'hero', '7']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"hero" has no candidate 7: it has 3/);
  });

  it('sends one request per candidate, estimates N images, and --regenerate adds a candidate', async () => {
    const p = await project(openai);
    const plan = JSON.parse((await ok(p, ['plan', '--json'])).stdout) as { nodes: Array<{ id: string; estimatedCostUsd: number }> };
    const cost = (id: string) => plan.nodes.find((n) => n.id === id)?.estimatedCostUsd ?? NaN;
    expect(cost('hero/generate')).toBeCloseTo(3 * cost('mug/generate'), 6);

    await ok(p, ['build']);
    expect(api.requests).toHaveLength(4);
    const report = await p.report();
    expect(report.summary.providerCalls).toBe(4);
    const before = await readLock(p);
    expect(before.assets.hero?.candidates).toHaveLength(3);

    await ok(p, ['build', '--frozen'], { OPENAI_BASE_URL: api.url });
    expect(api.requests).toHaveLength(4);

    // One more variant: one request, and the picked image (so everything downstream) stays.
    await p.write('assets.pipeline.yaml', openai.replace('variants: 3', 'variants: 4'));
    const more = await ok(p, ['build', '--explain']);
    expect(more.stdout).toMatch(/variants: 1 more candidate\(s\) to generate \(#4\); candidate 1 stays picked/);
    expect(api.requests).toHaveLength(5);
    expect((await p.report()).assets.find((a) => a.id === 'hero')?.steps.find((s) => s.kind === 'render')?.status).toBe('cached');

    await ok(p, ['build', '--regenerate', 'hero']);
    expect(api.requests).toHaveLength(6);
    const after = await readLock(p);
    expect(after.assets.hero?.candidates).toHaveLength(5);
    expect(after.assets.hero?.candidates?.slice(0, 3)).toEqual(before.assets.hero?.candidates);
    expect(after.assets.hero?.pick).toBe(5);
    expect(after.assets.mug).toEqual(before.assets.mug);

    // Back to an earlier candidate: no request, and --frozen agrees with the lock.
    await ok(p, ['pick', 'hero', '1']);
    await ok(p, ['build', '--frozen'], { OPENAI_BASE_URL: api.url });
    expect(api.requests).toHaveLength(6);
  });

  it('rejects variants below 1 with the position of the value', async () => {
    const p = await project(procedural.replace('variants: 3', 'variants: 0'));
    const result = await p.run(['validate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/assets\.pipeline\.yaml:12:15: error E_SCHEMA_RANGE/);
  });
});
