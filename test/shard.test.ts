/**
 * `gpt4k build --shard I/N`: the partition (a pure function) and three shards built in three
 * checkouts against one real nginx remote cache, then a frozen assembly with no API request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assignShards, parseShardSpec } from '../src/graph/shard.js';
import { makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { startWebDav, type WebDavServer } from './support/nginx-webdav.js';

describe('assignShards', () => {
  it('keeps linked assets together, covers every asset once, and balances by cost', () => {
    const items = [
      { id: 'hero', cost: 0.2, with: [] },
      { id: 'sku-1', cost: 0.2, with: ['hero'] },
      { id: 'sku-2', cost: 0.2, with: ['hero'] },
      { id: 'a', cost: 0.3, with: [] },
      { id: 'b', cost: 0.3, with: [] },
      { id: 'c', cost: 0.1, with: [] },
      { id: 'c-again', cost: 0.1, with: ['c'] },
    ];
    const shards = assignShards(items, 3);
    expect(shards.flat().sort()).toEqual(items.map((i) => i.id).sort());
    const shardOf = (id: string) => shards.findIndex((s) => s.includes(id));
    expect(shardOf('sku-1')).toBe(shardOf('hero'));
    expect(shardOf('sku-2')).toBe(shardOf('hero'));
    expect(shardOf('c-again')).toBe(shardOf('c'));
    // 0.6 (the hero group) | 0.3 + 0.2 | 0.3 + ...: no shard is more than one group over another.
    const loads = shards.map((s) => s.reduce((sum, id) => sum + items.find((i) => i.id === id)!.cost, 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(0.3 + 1e-9);
    // Deterministic, and in input order within a shard: every CI job computes the same split.
    expect(assignShards(items, 3)).toEqual(shards);
    for (const s of shards) expect(s).toEqual([...s].sort((x, y) => items.findIndex((i) => i.id === x) - items.findIndex((i) => i.id === y)));
  });

  it('leaves shards empty when there are fewer groups than shards', () => {
    expect(assignShards([{ id: 'x', cost: 1, with: [] }], 3).map((s) => s.length).sort()).toEqual([0, 0, 1]);
  });

  it('parses I/N', () => {
    expect(parseShardSpec('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['0/3', '4/3', '1/0', 'two/3', '1']) expect(parseShardSpec(bad), bad).toBeUndefined();
  });
});

const KEY = 'sk-test-shard-0000';
const MANIFEST = `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: low }
  upscale: { engine: none }
styles:
  catalog: { prefix: "Catalog photo:", reference: hero, whiteBalance: hero }
targets:
  web: { width: 96, height: 64, format: png }
assets:
  hero: { prompt: "front view, a teal coffee bag" }
  sku-1: { style: catalog, prompt: "a red enamel mug" }
  sku-2: { style: catalog, prompt: "a glass carafe" }
  mug: { prompt: "front view, a red enamel mug" }
  mug-again: { prompt: "front view, a red enamel mug" }
  lamp: { prompt: "a brass desk lamp" }
  chair: { prompt: "an oak chair" }
  stool: { prompt: "a walnut stool" }
`;
const ASSETS = ['hero', 'sku-1', 'sku-2', 'mug', 'mug-again', 'lamp', 'chair', 'stool'];
const DISTINCT_PROMPTS = 7; // mug-again asks for mug's image

describe('build --shard I/N in three checkouts, then a frozen assembly', () => {
  let api: FakeOpenAI;
  let nginx: WebDavServer;
  const projects: Project[] = [];
  beforeAll(async () => {
    api = await startFakeOpenAI({ apiKey: KEY });
    nginx = await startWebDav();
  });
  afterAll(async () => {
    await api.close();
    await nginx.remove();
  });
  afterEach(async () => {
    for (const p of projects.splice(0)) await p.remove();
  });

  it('builds disjoint parts that cover the manifest, pays once per prompt, and assembles with no request', async () => {
    const env = { GPT4K_REMOTE_CACHE: nginx.url, OPENAI_BASE_URL: api.url };
    const built: string[][] = [];
    for (let i = 1; i <= 3; i++) {
      const shard = await makeProject({ 'assets.pipeline.yaml': MANIFEST }, 'gpt4k-shard-');
      projects.push(shard);
      const result = await shard.run(['build', '--shard', `${i}/3`], { ...env, OPENAI_API_KEY: KEY });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).not.toMatch(/warning: remote cache/);
      // The assets a shard delivered (a reference it built for its group is delivered with it).
      built.push((await shard.report()).assets.filter((a) => a.outputs.length > 0).map((a) => a.id));
    }
    expect(built.flat().sort()).toEqual([...ASSETS].sort());
    expect(new Set(built.flat()).size).toBe(ASSETS.length);
    expect(built.every((s) => s.length > 0)).toBe(true);
    const shardOf = (id: string) => built.findIndex((s) => s.includes(id));
    expect(shardOf('sku-1')).toBe(shardOf('hero'));
    expect(shardOf('sku-2')).toBe(shardOf('hero'));
    expect(shardOf('mug-again')).toBe(shardOf('mug'));
    expect(api.requests).toHaveLength(DISTINCT_PROMPTS);

    const assembly = await makeProject({ 'assets.pipeline.yaml': MANIFEST }, 'gpt4k-assembly-');
    projects.push(assembly);
    const frozen = await assembly.run(['build', '--frozen'], env);
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(api.requests).toHaveLength(DISTINCT_PROMPTS);
    const report = await assembly.report();
    expect(report.summary).toMatchObject({ assets: ASSETS.length, failed: 0, providerCalls: 0 });
    for (const id of ASSETS) expect(assembly.exists(`out/${id}/web.png`), id).toBe(true);
  });

  it('refuses a malformed --shard with exit 2', async () => {
    const project = await makeProject({ 'assets.pipeline.yaml': MANIFEST }, 'gpt4k-shard-');
    projects.push(project);
    const result = await project.run(['build', '--shard', '4/3']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/expected I\/N/);
  });
});

describe("init's workflow", () => {
  it('fans out shards against the remote cache and assembles with --frozen, the token a secret', async () => {
    const { parse } = await import('yaml');
    const { WORKFLOW_TEMPLATE } = await import('../src/cli/init.js');
    type Job = { needs?: string; if?: string; strategy?: { matrix: { shard: number[] } }; steps: { run?: string }[] };
    const workflow = parse(WORKFLOW_TEMPLATE) as { env: Record<string, string>; jobs: Record<string, Job> };
    expect(workflow.env.GPT4K_REMOTE_CACHE_TOKEN).toBe('${{ secrets.GPT4K_REMOTE_CACHE_TOKEN }}');
    expect(workflow.env.GPT4K_REMOTE_CACHE).toBe('${{ vars.GPT4K_REMOTE_CACHE }}');
    expect(workflow.env.GPT4K_REMOTE_CACHE_WRITE).toMatch(/pull_request/);
    const { shards, build } = workflow.jobs;
    expect(shards!.strategy!.matrix.shard).toEqual([1, 2, 3]);
    expect(shards!.steps.some((s) => s.run === 'npx gpt4k build --frozen --shard ${{ matrix.shard }}/3')).toBe(true);
    expect(build!.needs).toBe('shards');
    expect(build!.if).toMatch(/!cancelled\(\)/);
    expect(build!.steps.some((s) => s.run === 'npx gpt4k build --frozen')).toBe(true);
  });
});
