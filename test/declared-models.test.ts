import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { makeProject, readReport, removeProject, runCli } from './support/project.js';

/**
 * The manifest's `models:` section and positioned quality errors as a user meets them: the real
 * CLI, the real SDK and the images stand-in on 127.0.0.1. Asserted: what reached the server (or
 * that nothing did), exit codes, `file:line:col` of the value at fault, and `gpt4k models`.
 */
const KEY = 'sk-test-SECRET-declared-5c1e';

let api: FakeOpenAI;
const dirs: string[] = [];
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

async function project(text: string): Promise<string> {
  const dir = await makeProject({ 'assets.pipeline.yaml': text });
  dirs.push(dir);
  return dir;
}

/** `assets.pipeline.yaml:LINE:COL` of the first `needle` after line `afterLine` (1-based). */
function positionOf(text: string, needle: string, afterLine = 0): string {
  const lines = text.split('\n');
  for (let i = afterLine; i < lines.length; i++) {
    const col = (lines[i] as string).indexOf(needle);
    if (col >= 0) return `assets.pipeline.yaml:${i + 1}:${col + 1}`;
  }
  throw new Error(`${needle} not in the manifest`);
}

const TAIL = `  upscale: { engine: none }
targets:
  web: { width: 64, height: 64, format: png }
`;

function declared(quality: string, extra = ''): string {
  return `version: 1
models:
  gpt-image-2.7-sunburst: { like: gpt-image-2.5-sunburst, qualities: [low, medium, high, max], maxReferenceImages: 8, price: 0.42 }
defaults:
  generate: { provider: openai, model: gpt-image-2.7-sunburst, size: 1536x1024, quality: ${quality}, options: { retryBaseDelayMs: 20 } }
${TAIL}assets:
  hero: { prompt: "A ceramic mug on linen, soft daylight, front view, centered", targets: [web] }
${extra}`;
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('models: declared in the manifest', () => {
  it('a declared model builds with no W_UNKNOWN_MODEL, priced as declared; the request carries its id', async () => {
    const dir = await project(declared('max'));
    const plan = await runCli(['plan', '--json'], { cwd: dir, env: env() });
    expect(plan.code, plan.stderr).toBe(0);
    expect((JSON.parse(plan.stdout) as { summary: { estimatedCostUsd: number } }).summary.estimatedCostUsd).toBeCloseTo(0.42, 6);
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr + plan.stderr).not.toMatch(/W_UNKNOWN_MODEL|warning/);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.body).toMatchObject({ model: 'gpt-image-2.7-sunburst', quality: 'max', size: '1536x1024' });
    expect((await readReport(dir)).summary).toMatchObject({ built: 1, failed: 0, providerCalls: 1 });
  });

  it('a quality the declaration does not list is exit 2 at the quality value, nothing sent', async () => {
    const text = declared('xhigh');
    const dir = await project(text);
    for (const command of ['validate', 'build']) {
      const run = await runCli([command], { cwd: dir, env: env() });
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain(`${positionOf(text, 'xhigh')}: error E_INVALID_QUALITY: quality "xhigh" is not a quality of gpt-image-2.7-sunburst (it takes low, medium, high, max)`);
    }
    expect(api.requests).toHaveLength(0);
  });

  it('`like:` naming a model gpt4k does not know is exit 2 at the value, with a did-you-mean', async () => {
    const text = declared('high').replace('like: gpt-image-2.5-sunburst', 'like: gpt-image-2.5-sunbrust');
    const dir = await project(text);
    const run = await runCli(['validate'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`${positionOf(text, 'gpt-image-2.5-sunbrust')}: error E_UNKNOWN_MODEL: models.gpt-image-2.7-sunburst: like "gpt-image-2.5-sunbrust" is not a model gpt4k knows`);
    expect(run.stderr).toContain('did you mean "gpt-image-2.5-sunburst"?');
  });

  it('a declaration with neither like: nor provider:, or a quality the API cannot carry, is exit 2 where it is written', async () => {
    const text = `version: 1
models:
  gpt-image-3: { qualities: [low] }
  gpt-image-2.7-flare: { provider: openai, qualities: [low, ultra] }
defaults:
  generate: { provider: openai, model: gpt-image-2.7-flare, size: 1024x1024, quality: low }
${TAIL}assets:
  hero: { prompt: "A mug", targets: [web] }
`;
    const dir = await project(text);
    const run = await runCli(['validate'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`${positionOf(text, 'gpt-image-3:')}: error E_MODEL_DECLARATION`);
    expect(run.stderr).toContain(`${positionOf(text, 'ultra')}: error E_INVALID_QUALITY: models.gpt-image-2.7-flare: quality "ultra" is not one the images API carries`);
  });

  it('`gpt4k models --json` lists the known models and the declared one as it will be checked', async () => {
    const dir = await project(declared('high'));
    const run = await runCli(['models', '--json'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    const { models } = JSON.parse(run.stdout) as { models: Array<Record<string, unknown>> };
    const byId = (id: string) => models.find((m) => m['id'] === id);
    expect(byId('gpt-image-2.7-sunburst')).toMatchObject({
      provider: 'openai',
      declared: true,
      like: 'gpt-image-2.5-sunburst',
      qualities: ['low', 'medium', 'high', 'max'],
      maxReferenceImages: 8,
      price: { basis: 'declared' },
      status: 'declared',
    });
    expect(byId('gpt-image-2.5-sunburst')).toMatchObject({ status: 'current', checked: '2026-12-01', maxReferenceImages: 16 });
    expect(byId('gpt-image-1')).toMatchObject({ status: 'shut down 2026-10-23' });
    expect(byId('gemini-3-pro-image-preview')).toMatchObject({ provider: 'gemini' });

    const openaiOnly = await runCli(['models', '--provider', 'openai'], { cwd: dir, env: env() });
    expect(openaiOnly.code, openaiOnly.stderr).toBe(0);
    expect(openaiOnly.stdout).toMatch(/gpt-image-2\.7-sunburst \(declared, like gpt-image-2\.5-sunburst\)/);
    expect(openaiOnly.stdout).not.toContain('gemini');
    expect(api.requests).toHaveLength(0);
  });

  it('`gpt4k models` outside any project lists what gpt4k knows', async () => {
    const dir = await makeProject({});
    dirs.push(dir);
    const run = await runCli(['models'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/gpt-image-2\.6-sunburst\s+current/);
    const bad = await runCli(['models', '--provider', 'opneai'], { cwd: dir, env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('did you mean "openai"?');
  });
});

describe('quality errors point at the quality value', () => {
  const manifest = (defaultsQuality: string, assetGenerate = '') => `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: ${defaultsQuality} }
${TAIL}assets:
  hero: { prompt: "A ceramic mug on linen", targets: [web]${assetGenerate} }
`;

  it('gpt-image-2 with xhigh in defaults.generate: exit 2 at that value, not at the asset, nothing sent', async () => {
    const text = manifest('xhigh');
    const dir = await project(text);
    for (const command of ['validate', 'plan', 'build']) {
      const run = await runCli([command], { cwd: dir, env: env() });
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain(`${positionOf(text, 'xhigh')}: error E_INVALID_QUALITY: quality "xhigh" is not a quality of gpt-image-2`);
    }
    expect(api.requests).toHaveLength(0);
  });

  it('written on the asset, or in the mode built, the position is that one', async () => {
    const onAsset = manifest('high', ', generate: { quality: xhigh }');
    const assetDir = await project(onAsset);
    const run = await runCli(['validate'], { cwd: assetDir, env: env() });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`${positionOf(onAsset, 'xhigh')}: error E_INVALID_QUALITY`);

    const inMode = `${manifest('high')}modes:\n  final: { generate: { quality: max } }\n`;
    const modeDir = await project(inMode);
    const mode = await runCli(['validate', '--mode', 'final'], { cwd: modeDir, env: env() });
    expect(mode.code, mode.stderr).toBe(2);
    expect(mode.stderr).toContain(`${positionOf(inMode, 'max')}: error E_INVALID_QUALITY: quality "max" is not a quality of gpt-image-2`);
    expect(api.requests).toHaveLength(0);
  });
});
