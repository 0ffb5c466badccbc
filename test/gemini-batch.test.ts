import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFakeGemini, type FakeGemini } from './support/fake-gemini.js';
import { makeProject, readReport, removeProject, runCli, startCli, waitFor } from './support/project.js';

/**
 * Half-price generation through Gemini batch mode, end to end: the real CLI, the real
 * @google/genai SDK (`batches.create` with inlined requests, `batches.get`, `batches.list`),
 * and the Gemini stand-in on 127.0.0.1. Asserted: batches made (and not made), direct
 * generateContent requests (none), what each batched request carried, statuses, codes, costs.
 */
const KEY = 'AIzaTEST-gemini-batch-SECRET-51c0';

function manifest(options: { assets?: number; batch?: boolean; extra?: string } = {}): string {
  const count = options.assets ?? 3;
  const assets = Array.from({ length: count }, (_, i) => `  item${i}: { prompt: "Product ${i} on a plinth, centered", targets: [web] }`).join('\n');
  return `version: 1
defaults:
  generate: { provider: gemini, model: gemini-3.1-flash-image-preview, size: 1024x1024${options.batch === false ? '' : ', batch: true'}, options: { batchPollMs: 20 } }
  upscale: { engine: none }
targets:
  web: { width: 64, height: 64, format: png }
assets:
${assets}
${options.extra ?? ''}`;
}

let api: FakeGemini;
const dirs: string[] = [];
const env = () => ({ GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: api.url });

async function project(text: string): Promise<string> {
  const dir = await makeProject({ 'assets.pipeline.yaml': text });
  dirs.push(dir);
  return dir;
}

const creates = () => api.requests.filter((r) => r.method === 'POST' && r.path.endsWith(':batchGenerateContent'));

beforeAll(async () => {
  api = await startFakeGemini({ apiKey: KEY, safety: /FORBIDDEN/ });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('gemini batch builds', () => {
  it('a 3-asset build makes one batch of the direct path\'s requests and no generateContent request; a rebuild sends nothing', async () => {
    const dir = await project(manifest());
    const first = await runCli(['build'], { cwd: dir, env: env() });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.generateRequests).toHaveLength(0);
    const batch = api.batches[0]!;
    expect(batch.model).toBe('gemini-3.1-flash-image-preview');
    expect(batch.displayName).toMatch(/^gpt4k_/);
    expect(batch.requests).toHaveLength(3);
    // The same request the direct path sends: IMAGE modality, the mapped imageConfig, the prompt.
    expect(batch.requests[0]!.request).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'Product 0 on a plinth, centered' }] }],
      generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '1:1', imageSize: '1K' } },
    });
    expect(batch.requests.map((r) => r.metadata?.['gpt4k'])).toEqual(expect.arrayContaining([expect.stringMatching(/^1-/), expect.stringMatching(/^2-/), expect.stringMatching(/^3-/)]));
    expect(first.stdout + first.stderr).toMatch(new RegExp(`batch ${batch.name} \\(completed\\): 3/3 done, 0 failed`));

    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ assets: 3, built: 3, failed: 0 });
    for (let i = 0; i < 3; i++) {
      const step = report.assets.find((a) => a.id === `item${i}`)?.steps.find((s) => s.kind === 'generate');
      expect(step?.status).toBe('built');
      expect(step?.meta?.['batch']).toBe(batch.name);
      expect(existsSync(path.join(dir, 'out', `item${i}`, 'web.png'))).toBe(true);
    }
    const state = JSON.parse(await readFile(path.join(dir, '.gpt4k', 'batches.json'), 'utf8')) as { batches: Array<Record<string, unknown>> };
    expect(state.batches[0]).toMatchObject({ provider: 'gemini', batchId: batch.name, phase: 'done' });
    // The inline requests kept for a resumed build are gone once the batch is done.
    expect(await readdir(path.join(dir, '.gpt4k', 'batch-inputs')).catch(() => [])).toEqual([]);
    expect(JSON.stringify(state) + first.stdout + first.stderr).not.toContain(KEY);

    api.reset();
    const again = await runCli(['build'], { cwd: dir, env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(api.requests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 0, cached: 3 });
  });

  it('fails the one request safety blocked, alone and with the direct path\'s code', async () => {
    const extra = '  bad: { prompt: "A FORBIDDEN thing", targets: [web] }\n';
    const dir = await project(manifest({ assets: 2, extra }));
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code).toBe(1);
    expect(api.batches).toHaveLength(1);
    expect(api.generateRequests).toHaveLength(0);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 2, failed: 1 });
    const bad = report.assets.find((a) => a.id === 'bad');
    expect(bad?.error).toMatchObject({ step: 'generate', code: 'E_SAFETY_BLOCKED' });

    // The direct path refuses the same prompt with the same code.
    api.reset();
    const directDir = await project(manifest({ assets: 0, batch: false, extra }));
    expect((await runCli(['build'], { cwd: directDir, env: env() })).code).toBe(1);
    expect(api.generateRequests).toHaveLength(1);
    expect((await readReport(directDir)).assets.find((a) => a.id === 'bad')?.error).toMatchObject({ code: 'E_SAFETY_BLOCKED' });
  });

  it('killed while batches.create was in flight: the next build finds the batch by its display name and creates no second one', async () => {
    const dir = await project(manifest());
    api.hold = true;
    const run = startCli(['build'], { cwd: dir, env: env() });
    await waitFor(() => api.batches.some((b) => b.state === 'BATCH_STATE_RUNNING'), 30_000, 'the batch to be running');
    run.child.kill('SIGKILL');
    await run.done;
    // As if the build had died before the answer to batches.create was saved.
    const file = path.join(dir, '.gpt4k', 'batches.json');
    const state = JSON.parse(await readFile(file, 'utf8')) as { batches: Array<Record<string, unknown>> };
    for (const record of state.batches) {
      delete record['batchId'];
      delete record['status'];
      record['phase'] = 'uploaded';
    }
    await writeFile(file, JSON.stringify(state));

    api.hold = false;
    const resumed = await runCli(['build'], { cwd: dir, env: env() });
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(api.requests.some((r) => r.method === 'GET' && r.path === '/v1beta/batches')).toBe(true);
    expect(api.batches).toHaveLength(1);
    expect(creates()).toHaveLength(1);
    expect(api.generateRequests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 3, failed: 0 });
  });

  it('a batch never created whose kept requests were deleted fails its assets with E_BATCH_INPUT_LOST; building again submits them anew', async () => {
    const dir = await project(manifest({ assets: 2 }));
    api.hold = true;
    expect((await runCli(['build', '--no-wait'], { cwd: dir, env: env() })).code).toBe(0);
    // As if the build had died before batches.create reached Google, and .gpt4k/batch-inputs was cleaned.
    api.reset();
    const file = path.join(dir, '.gpt4k', 'batches.json');
    const state = JSON.parse(await readFile(file, 'utf8')) as { batches: Array<Record<string, unknown>> };
    for (const record of state.batches) {
      delete record['batchId'];
      delete record['status'];
      record['phase'] = 'uploaded';
    }
    await writeFile(file, JSON.stringify(state));
    await rm(path.join(dir, '.gpt4k', 'batch-inputs'), { recursive: true, force: true });

    const lost = await runCli(['build'], { cwd: dir, env: env() });
    expect(lost.code).toBe(1);
    expect(creates()).toHaveLength(0);
    expect((await readReport(dir)).assets.map((a) => a.error?.code)).toEqual(['E_BATCH_INPUT_LOST', 'E_BATCH_INPUT_LOST']);

    const again = await runCli(['build'], { cwd: dir, env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.generateRequests).toHaveLength(0);
  });

  it('--no-wait leaves the assets pending; gpt4k batches cancel cancels the Gemini batch, its assets fail clearly, and building again resubmits them', async () => {
    const dir = await project(manifest({ assets: 2 }));
    api.hold = true;
    const submit = await runCli(['build', '--no-wait'], { cwd: dir, env: env() });
    expect(submit.code, submit.stderr + submit.stdout).toBe(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 0, failed: 0, pending: 2 });
    const id = api.batches[0]!.name;
    const cancel = await runCli(['batches', 'cancel', id], { cwd: dir, env: env() });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`${id}: cancelled`);
    expect(api.batches[0]!.state).toBe('BATCH_STATE_CANCELLED');

    const after = await runCli(['build'], { cwd: dir, env: env() });
    expect(after.code).toBe(1);
    expect((await readReport(dir)).assets.map((a) => a.error?.code)).toEqual(['E_BATCH_CANCELLED', 'E_BATCH_CANCELLED']);

    api.hold = false;
    const rebuilt = await runCli(['build'], { cwd: dir, env: env() });
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(api.batches).toHaveLength(2);
    expect(api.generateRequests).toHaveLength(0);
  });

  it('the report\'s cost is half the direct one for the same images, and plan estimates the batch price', async () => {
    const directDir = await project(manifest({ batch: false }));
    const batchDir = await project(manifest({ batch: false }));
    const directPlan = JSON.parse((await runCli(['plan', '--json'], { cwd: directDir, env: env() })).stdout) as { summary: { estimatedCostUsd: number } };
    const batchPlan = JSON.parse((await runCli(['plan', '--json', '--batch'], { cwd: batchDir, env: env() })).stdout) as { summary: { estimatedCostUsd: number } };
    expect(directPlan.summary.estimatedCostUsd).toBeGreaterThan(0);
    expect(batchPlan.summary.estimatedCostUsd).toBeCloseTo(directPlan.summary.estimatedCostUsd / 2, 4);

    expect((await runCli(['build'], { cwd: directDir, env: env() })).code).toBe(0);
    expect(api.generateRequests).toHaveLength(3);
    api.reset();
    const batched = await runCli(['build', '--batch'], { cwd: batchDir, env: env() });
    expect(batched.code, batched.stderr).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.generateRequests).toHaveLength(0);
    const directCost = (await readReport(directDir)).summary.costUsd;
    const batchCost = (await readReport(batchDir)).summary.costUsd;
    expect(directCost).toBeGreaterThan(0);
    expect(batchCost).toBeCloseTo(directCost / 2, 4);
  });
});
