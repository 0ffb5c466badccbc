import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { makeProject, removeProject, runCli } from './support/project.js';

/**
 * Estimates that follow what the project's own images cost: the real CLI and SDK against the
 * images stand-in, which reports the usage the test scripts. gpt-image-2.5-sunburst is billed
 * by tokens ($5 text in, $30 image out per 1M).
 */
const KEY = 'sk-test-SECRET-costs-5d1e';

function manifest(assets: string[]): string {
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2.5-sunburst, size: 1024x1024, quality: low, options: { retryBaseDelayMs: 20, retryMaxDelayMs: 500 } }
  upscale: { engine: none }
targets:
  web: { width: 64, height: 64, format: png }
assets:
${assets.map((id) => `  ${id}: { prompt: "A ceramic mug, ${id}", targets: [web] }`).join('\n')}
`;
}

const usage = (outputTokens: number) => ({
  input_tokens: 100,
  input_tokens_details: { text_tokens: 100, image_tokens: 0 },
  output_tokens: outputTokens,
  total_tokens: 100 + outputTokens,
});

interface PlanJson {
  nodes: Array<{ id: string; action: string; estimatedCostUsd: number; estimateBasis?: unknown }>;
  summary: { estimatedCostUsd: number };
}

let api: FakeOpenAI;
const dirs: string[] = [];
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('cost estimates from the project history', () => {
  it('no history: the documented figure, marked; after two images: their mean cost, marked, and --max-cost uses it', async () => {
    const dir = await makeProject({ 'assets.pipeline.yaml': manifest(['a', 'b']) });
    dirs.push(dir);
    const first = await runCli(['plan', '--json'], { cwd: dir, env: env() });
    expect(first.code, first.stderr).toBe(0);
    const before = JSON.parse(first.stdout) as PlanJson;
    expect(before.nodes.find((n) => n.id === 'a/generate')?.estimateBasis).toEqual({ kind: 'no-history' });
    expect((await runCli(['plan'], { cwd: dir, env: env() })).stdout).toContain('no history');

    api.script({ kind: 'ok', usage: usage(10_000) }, { kind: 'ok', usage: usage(20_000) });
    expect((await runCli(['build'], { cwd: dir, env: env() })).code).toBe(0);
    api.reset();

    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest(['a', 'b', 'c']));
    const after = JSON.parse((await runCli(['plan', '--json'], { cwd: dir, env: env() })).stdout) as PlanJson;
    const c = after.nodes.find((n) => n.id === 'c/generate');
    expect(c?.estimateBasis).toEqual({ kind: 'history', images: 2 });
    // (100 * $5 + 10,000 * $30) / 1M = $0.3005; with 20,000: $0.6005; the mean $0.4505.
    expect(c?.estimatedCostUsd).toBeCloseTo(0.4505, 4);
    expect(after.summary.estimatedCostUsd).toBeCloseTo(0.4505, 3);
    expect((await runCli(['plan'], { cwd: dir, env: env() })).stdout).toContain('from 2 earlier images');

    // The table's figure for low 1024x1024 is far below $0.40: only the history refuses this.
    const refused = await runCli(['build', '--max-cost', '0.40'], { cwd: dir, env: env() });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('exceeds the budget');
    expect(api.requests).toHaveLength(0);
  });
});
