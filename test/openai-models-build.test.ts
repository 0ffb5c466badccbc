import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { makeProject, readReport, removeProject, runCli } from './support/project.js';

/**
 * The image models of December 2026 as a user meets them: the real CLI, the real SDK, and the
 * images stand-in on 127.0.0.1. What is asserted is what reached the server (or that nothing
 * did), exit codes and messages.
 */
const KEY = 'sk-test-SECRET-models-77aa';

function manifest(generate: string): string {
  return `version: 1
defaults:
  generate: { provider: openai, ${generate}, options: { retryBaseDelayMs: 20, retryMaxDelayMs: 500 } }
  upscale: { engine: none }
targets:
  web: { width: 64, height: 64, format: png }
assets:
  hero: { prompt: "A ceramic mug on linen, soft daylight", targets: [web] }
`;
}

let api: FakeOpenAI;
const dirs: string[] = [];
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

async function project(text: string): Promise<string> {
  const dir = await makeProject({ 'assets.pipeline.yaml': text });
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('openai models of December 2026, end to end', () => {
  it('gpt-image-2.5-sunburst with quality max and complexity builds; the request carries both', async () => {
    const dir = await project(manifest('model: gpt-image-2.5-sunburst, size: 1024x1024, quality: max, complexity: high'));
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/E_INVALID_QUALITY|W_UNKNOWN_MODEL/);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.status).toBe(200);
    expect(api.requests[0]?.body).toMatchObject({ model: 'gpt-image-2.5-sunburst', quality: 'max', complexity: 'high' });
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 1, failed: 0, providerCalls: 1 });
  });

  it('gpt-image-2 with xhigh: exit 2 from validate and build, the fix named, nothing sent', async () => {
    const dir = await project(manifest('model: gpt-image-2, size: 1024x1024, quality: xhigh'));
    for (const command of ['validate', 'build']) {
      const run = await runCli([command], { cwd: dir, env: env() });
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain('E_INVALID_QUALITY');
      expect(run.stderr).toContain('quality "xhigh" is not a quality of gpt-image-2');
      expect(run.stderr).toContain('gpt-image-2.5-sunburst');
      expect(run.stderr).toMatch(/assets\.pipeline\.yaml:\d+:\d+/);
    }
    expect(api.requests).toHaveLength(0);
  });

  it('gpt-image-1: exit 2 at validate and plan, naming the shut-down date and the successor, nothing sent', async () => {
    const dir = await project(manifest('model: gpt-image-1, size: 1024x1024, quality: high'));
    for (const command of ['validate', 'plan', 'build']) {
      const run = await runCli([command], { cwd: dir, env: env() });
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain('E_UNSUPPORTED_MODEL');
      expect(run.stderr).toContain('shut down on 2026-10-23');
      expect(run.stderr).toContain('gpt-image-2.5-sunburst');
    }
    expect(api.requests).toHaveLength(0);
  });

  it('plan estimates xhigh and max above high, and --max-cost uses the estimate', async () => {
    const usd = async (quality: string): Promise<number> => {
      const dir = await project(manifest(`model: gpt-image-2.5-flare, size: 1024x1024, quality: ${quality}`));
      const run = await runCli(['plan', '--json'], { cwd: dir, env: env() });
      expect(run.code, run.stderr).toBe(0);
      return (JSON.parse(run.stdout) as { summary: { estimatedCostUsd: number } }).summary.estimatedCostUsd;
    };
    const [high, xhigh, max] = [await usd('high'), await usd('xhigh'), await usd('max')];
    expect(high).toBeCloseTo(0.211, 6);
    expect(xhigh).toBeCloseTo(0.422, 6);
    expect(max).toBeCloseTo(0.633, 6);
    const dir = await project(manifest('model: gpt-image-2.5-flare, size: 1024x1024, quality: max'));
    const refused = await runCli(['build', '--max-cost', '0.5'], { cwd: dir, env: env() });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('E_BUDGET');
    expect(api.requests).toHaveLength(0);
  });

  it('a model newer than gpt4k builds with a warning, sent as written', async () => {
    const dir = await project(manifest('model: gpt-image-2.7-sunburst, size: 1536x1024, quality: max'));
    const check = await runCli(['validate'], { cwd: dir, env: env() });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stderr).toContain('W_UNKNOWN_MODEL');
    expect(check.stderr).toContain('checking it as gpt-image-2.6-sunburst');
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.body).toMatchObject({ model: 'gpt-image-2.7-sunburst', quality: 'max', size: '1536x1024' });
  });
});
