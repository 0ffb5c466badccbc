import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { makeProject, readReport, removeProject, runCli, startCli, stepStatus, waitFor } from './support/project.js';

/**
 * The OpenAI path end to end: the real CLI, the real SDK, and a real HTTP stand-in of the
 * images API on 127.0.0.1. What is asserted is what a user would notice: requests sent (and
 * not sent), statuses, messages, exit codes, files.
 */
const KEY = 'sk-test-SECRET-4f9c2b7e1a';

function manifest(options: { assets?: number; generate?: number; maxCost?: number; style?: boolean; extra?: string } = {}): string {
  const count = options.assets ?? 3;
  const assets = Array.from({ length: count }, (_, i) => `  item${i}: { ${options.style === false ? '' : 'style: cat, '}prompt: "Product ${i} on a plinth, centered", targets: [web] }`).join('\n');
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low, options: { retryBaseDelayMs: 20, retryMaxDelayMs: 1500 } }
  upscale: { engine: none }
limits: { generate: ${options.generate ?? 2}${options.maxCost !== undefined ? `, maxCostUsd: ${options.maxCost}` : ''} }
styles:
  cat:
    prefix: "Studio packshot, white seamless —"
    reference: item0
targets:
  web: { width: 64, height: 64, format: png }
assets:
${assets}
${options.extra ?? ''}`;
}

let api: FakeOpenAI;
const dirs: string[] = [];
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

async function project(text: string): Promise<string> {
  const dir = await makeProject({ 'assets.pipeline.yaml': text });
  dirs.push(dir);
  return dir;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('openai provider in a build', () => {
  it('generates the reference first, conditions the style on it with images.edit, and a rebuild sends nothing', async () => {
    const dir = await project(manifest({ assets: 3 }));
    const first = await runCli(['build'], { cwd: dir, env: env() });
    expect(first.code, first.stderr).toBe(0);
    const generations = api.requestsTo('generations');
    const edits = api.requestsTo('edits');
    expect(generations).toHaveLength(1);
    expect(edits).toHaveLength(2);
    expect(generations[0]?.body).toMatchObject({ model: 'gpt-image-2', size: '1024x1024', quality: 'low', prompt: 'Studio packshot, white seamless — Product 0 on a plinth, centered' });
    expect(generations[0]?.body).not.toHaveProperty('response_format');
    // The reference answered before any edit was sent, and every edit carried its image.
    for (const edit of edits) {
      expect(edit.receivedAt).toBeGreaterThanOrEqual(generations[0]!.receivedAt);
      expect(edit.files.map((f) => f.field)[0]).toMatch(/^image/);
      expect(edit.files[0]?.bytes.subarray(1, 4).toString()).toBe('PNG');
      expect(String(edit.body?.['prompt'])).toMatch(/^Studio packshot, white seamless — Product [12]/);
    }
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ assets: 3, built: 3, failed: 0, providerCalls: 3 });
    expect(report.summary.costUsd).toBeGreaterThan(0);
    const meta = report.assets[0]?.steps.find((s) => s.kind === 'generate')?.meta;
    expect(meta).toMatchObject({ provider: 'openai', model: 'gpt-image-2', size: '1024x1024', quality: 'low' });

    api.reset();
    const second = await runCli(['build'], { cwd: dir, env: env() });
    expect(second.code).toBe(0);
    expect(api.requests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 0, cached: 3, providerCalls: 0 });

    // Tuning how requests travel (timeouts, retries) is not a reason to pay again.
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest({ assets: 3 }).replace('retryBaseDelayMs: 20', 'retryBaseDelayMs: 25, timeoutMs: 90000'));
    const third = await runCli(['build'], { cwd: dir, env: env() });
    expect(third.code).toBe(0);
    expect(api.requests).toHaveLength(0);
  });

  it('a moderated asset fails alone, is sent once, and says so', async () => {
    const dir = await project(manifest({ assets: 3, style: false }));
    api.script((request) => (String(request.body?.['prompt']).includes('Product 1') ? 'moderation_blocked' : undefined));
    const result = await runCli(['build'], { cwd: dir, env: env() });
    expect(result.code).toBe(1);
    expect(api.requests.filter((r) => String(r.body?.['prompt']).includes('Product 1'))).toHaveLength(1);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 2, failed: 1 });
    const failed = report.assets.find((a) => a.id === 'item1');
    expect(failed?.error).toMatchObject({ step: 'generate', code: 'E_MODERATION_BLOCKED' });
    expect(failed?.error?.message).toMatch(/moderation/i);
    expect(result.stderr).toMatch(/item1 generate: E_MODERATION_BLOCKED/);
  });

  it('a 401 stops the batch after the first answer; the others are skipped with the reason', async () => {
    const dir = await project(manifest({ assets: 5, style: false, generate: 1 }));
    const result = await runCli(['build'], { cwd: dir, env: { ...env(), OPENAI_API_KEY: 'sk-wrong-key-000' } });
    expect(result.code).toBe(1);
    expect(api.requests).toHaveLength(1);
    const report = await readReport(dir);
    expect(report.summary.failed).toBe(1);
    expect(report.summary.skipped).toBe(4);
    const skipped = report.assets.filter((a) => a.status === 'skipped');
    for (const asset of skipped) expect(asset.error?.message).toMatch(/not sent: openai stopped earlier in this build \(E_AUTH/);
    expect(result.stdout + result.stderr).not.toContain('sk-wrong-key-000');
  });

  it('a missing key says exactly what to set, and sends nothing', async () => {
    const dir = await project(manifest({ assets: 2, style: false }));
    const result = await runCli(['build'], { cwd: dir, env: { OPENAI_API_KEY: undefined, OPENAI_BASE_URL: api.url } });
    expect(result.code).toBe(1);
    expect(api.requests).toHaveLength(0);
    expect(result.stderr).toMatch(/E_NO_API_KEY/);
    expect(result.stderr).toMatch(/OPENAI_API_KEY/);
  });

  it('plan says up front which generations lack a key (text and --json), and nothing once it is set', async () => {
    const dir = await project(manifest({ assets: 2, style: false }));
    const noKey = { OPENAI_API_KEY: undefined, OPENAI_BASE_URL: api.url };
    const text = await runCli(['plan'], { cwd: dir, env: noKey });
    expect(text.code).toBe(0);
    expect(text.stderr).toContain('warning W_NO_CREDENTIALS: 2 images to generate with openai would fail: no OpenAI API key: the environment variable OPENAI_API_KEY is not set');
    expect(text.stderr).toMatch(/hint: set OPENAI_API_KEY/);
    const json = JSON.parse((await runCli(['plan', '--json'], { cwd: dir, env: noKey })).stdout) as { warnings?: Array<{ code: string; provider: string; assets: string[] }> };
    expect(json.warnings).toEqual([expect.objectContaining({ code: 'W_NO_CREDENTIALS', provider: 'openai', assets: expect.arrayContaining([expect.any(String), expect.any(String)]) })]);
    const withKey = await runCli(['plan'], { cwd: dir, env: env() });
    expect(withKey.stderr).not.toContain('W_NO_CREDENTIALS');
    expect((JSON.parse((await runCli(['plan', '--json'], { cwd: dir, env: env() })).stdout) as { warnings?: unknown }).warnings).toBeUndefined();
    expect(api.requests).toHaveLength(0);
  });

  it('retries a 429 with retry-after and counts the retry in the report', async () => {
    const dir = await project(manifest({ assets: 1, style: false }));
    api.script({ kind: 'rate_limit', retryAfter: 1 }, 503);
    const result = await runCli(['build'], { cwd: dir, env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(api.requests).toHaveLength(3);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ providerCalls: 3, retries: 2, built: 1 });
    expect(report.assets[0]?.steps.find((s) => s.kind === 'generate')).toMatchObject({ requests: 3, retries: 2 });
    expect(result.stdout).toMatch(/retry +item0 generate #1/);
  });

  it('a crash right after a response does not pay again', async () => {
    const dir = await project(manifest({ assets: 3, style: false, generate: 1 }));
    // Slow answers keep the build going long enough to be killed between two of them.
    api.script((_request, index) => ({ kind: 'ok', latencyMs: index === 0 ? 50 : 3000 }));
    const run = startCli(['build'], { cwd: dir, env: env() });
    await waitFor(() => /built {2}item\d generate/.test(run.output()), 30_000, 'a first image');
    run.child.kill('SIGKILL');
    await run.done;
    const paid = (run.output().match(/built {2}(item\d) generate/) ?? [])[1] as string;
    const sentBefore = api.requests.filter((r) => String(r.body?.['prompt']).includes(`Product ${paid.slice(4)}`)).length;
    expect(sentBefore).toBe(1);

    api.reset();
    const resumed = await runCli(['build'], { cwd: dir, env: env() });
    expect(resumed.code).toBe(0);
    expect(api.requests.filter((r) => String(r.body?.['prompt']).includes(`Product ${paid.slice(4)}`))).toHaveLength(0);
    expect(stepStatus(await readReport(dir), paid, 'generate')).toBe('cached');
  });

  it('refuses a build over budget before any request (exit 3), from the manifest or --max-cost', async () => {
    const dir = await project(manifest({ assets: 4, style: false, maxCost: 0.001 }));
    const refused = await runCli(['build'], { cwd: dir, env: env() });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/E_BUDGET: the estimated cost \$\d+\.\d\d for 4 image\(s\) exceeds the budget of \$0\.00/);
    expect(api.requests).toHaveLength(0);
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest({ assets: 4, style: false }));
    const flag = await runCli(['build', '--max-cost', '0.0001'], { cwd: dir, env: env() });
    expect(flag.code).toBe(3);
    expect(api.requests).toHaveLength(0);
    const plan = JSON.parse((await runCli(['plan', '--json'], { cwd: dir, env: env() })).stdout) as { nodes: Array<{ kind: string; estimatedCostUsd: number }>; summary: { estimatedCostUsd: number } };
    const perAsset = plan.nodes.filter((n) => n.kind === 'generate').map((n) => n.estimatedCostUsd);
    expect(perAsset).toHaveLength(4);
    expect(perAsset.every((c) => c > 0)).toBe(true);
    expect(plan.summary.estimatedCostUsd).toBeCloseTo(perAsset.reduce((a, b) => a + b, 0), 6);
  });

  it('two assets asking for the same image pay for it once', async () => {
    const twin = '  twin: { prompt: "Product 0 on a plinth, centered", targets: [web] }\n';
    const dir = await project(manifest({ assets: 1, style: false, extra: '' }).replace('assets:\n', `assets:\n${twin}`));
    const result = await runCli(['build'], { cwd: dir, env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(api.requests).toHaveLength(1);
    const report = await readReport(dir);
    expect(report.summary.providerCalls).toBe(1);
    expect(report.assets.map((a) => a.steps.find((s) => s.kind === 'generate')?.status).sort()).toEqual(['built', 'cached']);
    // The same image (pixels and profile); each file's XMP names its own asset (docs/provenance.md).
    const [twinPixels, item0Pixels] = await Promise.all(['twin', 'item0'].map((id) => sharp(path.join(dir, `out/${id}/web.png`)).raw().toBuffer()));
    expect(twinPixels?.equals(item0Pixels as Buffer)).toBe(true);
    const [twinMeta, item0Meta] = await Promise.all(['twin', 'item0'].map((id) => sharp(path.join(dir, `out/${id}/web.png`)).metadata()));
    expect(twinMeta?.icc?.equals(item0Meta?.icc as Buffer)).toBe(true);
    expect(twinMeta?.xmpAsString).toContain('<gpt4k:Asset>twin</gpt4k:Asset>');
    expect(item0Meta?.xmpAsString).toContain('<gpt4k:Asset>item0</gpt4k:Asset>');
  });

  it('--fail-fast lets requests already sent finish and keeps their images', async () => {
    const dir = await project(manifest({ assets: 3, style: false, generate: 3 }));
    api.script((request) => (String(request.body?.['prompt']).includes('Product 0') ? { kind: 'moderation_blocked', latencyMs: 300 } : { kind: 'ok', latencyMs: 1500 }));
    const first = await runCli(['build', '--fail-fast'], { cwd: dir, env: env() });
    expect(first.code).toBe(1);
    expect(api.requests).toHaveLength(3);
    expect((await readReport(dir)).summary.providerCalls).toBe(3);

    api.reset();
    api.script((request) => (String(request.body?.['prompt']).includes('Product 0') ? 'moderation_blocked' : 'ok'));
    const second = await runCli(['build'], { cwd: dir, env: env() });
    expect(second.code).toBe(1);
    // Only the moderated prompt is sent again: the two paid images were kept.
    expect(api.requests.map((r) => String(r.body?.['prompt']))).toEqual([expect.stringContaining('Product 0')]);
  });

  it('--provider procedural builds an openai manifest offline, sending nothing', async () => {
    const dir = await project(manifest({ assets: 2, style: false }));
    const result = await runCli(['build', '--provider', 'procedural'], { cwd: dir, env: env() });
    expect(result.code, result.stderr).toBe(0);
    expect(api.requests).toHaveLength(0);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 2, providerCalls: 0 });
    expect(report.assets[0]?.steps.find((s) => s.kind === 'generate')?.meta).toMatchObject({ provider: 'procedural' });
    const typo = await runCli(['build', '--provider', 'opneai'], { cwd: dir, env: env() });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/E_UNKNOWN_PROVIDER[\s\S]*did you mean "openai"/);
  });

  it('never writes the API key to out/, .gpt4k/ or the console', async () => {
    const dir = await project(manifest({ assets: 2 }));
    const result = await runCli(['build', '--verbose', '--json'], { cwd: dir, env: env() });
    expect(result.code).toBe(0);
    const files = [...(await filesUnder(path.join(dir, 'out'))), ...(await filesUnder(path.join(dir, '.gpt4k')))];
    expect(files.length).toBeGreaterThan(4);
    for (const file of files) {
      const content = await readFile(file);
      expect(content.includes(KEY), file).toBe(false);
    }
    expect(result.stdout + result.stderr).not.toContain(KEY);
    await stat(path.join(dir, 'out/item0/web.png'));
  });
});
