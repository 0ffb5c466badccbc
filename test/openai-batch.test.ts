import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { startFakeOpenAIBatch, type FakeOpenAIBatch } from './support/fake-openai-batch.js';
import { makeProject, readReport, removeProject, runCli, startCli, stepStatus, waitFor } from './support/project.js';

/**
 * Half-price generation through the OpenAI Batch API, end to end: the real CLI, the real SDK,
 * and a real HTTP stand-in of the Files and Batches endpoints on 127.0.0.1. What is asserted
 * is what a user would notice: batches made (and not made), direct requests (none), statuses,
 * exit codes, costs, files.
 */
const KEY = 'sk-test-SECRET-batch-7d1e';

function manifest(options: { assets?: number; batch?: boolean; style?: boolean; extra?: string } = {}): string {
  const count = options.assets ?? 6;
  const assets = Array.from({ length: count }, (_, i) => `  item${i}: { ${options.style ? 'style: cat, ' : ''}prompt: "Product ${i} on a plinth, centered", targets: [web] }`).join('\n');
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low${options.batch === false ? '' : ', batch: true'}, options: { batchPollMs: 20 } }
  upscale: { engine: none }
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

let api: FakeOpenAIBatch;
const dirs: string[] = [];
const env = (url = api.url) => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: url });

async function project(text: string): Promise<string> {
  const dir = await makeProject({ 'assets.pipeline.yaml': text });
  dirs.push(dir);
  return dir;
}

async function batchState(dir: string): Promise<{ batches: Array<{ batchId?: string; phase: string; requests: Record<string, unknown> }> }> {
  return JSON.parse(await readFile(path.join(dir, '.gpt4k', 'batches.json'), 'utf8')) as { batches: Array<{ batchId?: string; phase: string; requests: Record<string, unknown> }> };
}

beforeAll(async () => {
  api = await startFakeOpenAIBatch({ apiKey: KEY, moderate: /FORBIDDEN/ });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('openai batch builds', () => {
  it('a 6-asset build makes one batch and no direct image request; a rebuild sends nothing', async () => {
    const dir = await project(manifest());
    const first = await runCli(['build'], { cwd: dir, env: env() });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.imageRequests).toHaveLength(0);
    const batch = api.batches[0]!;
    expect(batch.endpoint).toBe('/v1/images/generations');
    const lines = api.linesOf(batch);
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({ method: 'POST', url: '/v1/images/generations', body: { model: 'gpt-image-2', size: '1024x1024', quality: 'low', n: 1 } });
    expect(first.stdout + first.stderr).toMatch(new RegExp(`batch ${batch.id} \\(completed\\): 6/6 done, 0 failed`));

    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ assets: 6, built: 6, failed: 0 });
    for (let i = 0; i < 6; i++) {
      const step = report.assets.find((a) => a.id === `item${i}`)?.steps.find((s) => s.kind === 'generate');
      expect(step?.status).toBe('built');
      expect(step?.meta?.['batch']).toBe(batch.id);
      expect(existsSync(path.join(dir, 'out', `item${i}`, 'web.png'))).toBe(true);
    }
    expect((await batchState(dir)).batches[0]).toMatchObject({ batchId: batch.id, phase: 'done' });

    api.reset();
    const again = await runCli(['build'], { cwd: dir, env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(api.requests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 0, cached: 6 });
  });

  it('a catalogue larger than the settling window still goes out as one batch, every asset built', async () => {
    // The engine starts assets a window at a time (engine/executor.ts settleInWindow); one whose
    // generation waits on a batch makes room, so the requests still arrive together.
    const dir = await project(manifest({ assets: 90 }));
    const first = await runCli(['build', '-q'], { cwd: dir, env: env() });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.linesOf(api.batches[0]!)).toHaveLength(90);
    expect(api.imageRequests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ assets: 90, built: 90, failed: 0 });
  });

  it('fails the one asset moderation refused, with the direct path\'s code; building again resubmits only it', async () => {
    const dir = await project(manifest({ assets: 4, extra: '  bad: { prompt: "A FORBIDDEN thing", targets: [web] }\n' }));
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code).toBe(1);
    expect(api.batches).toHaveLength(1);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 4, failed: 1 });
    const bad = report.assets.find((a) => a.id === 'bad');
    expect(bad?.status).toBe('failed');
    expect(bad?.error).toMatchObject({ step: 'generate', code: 'E_MODERATION_BLOCKED' });
    expect(bad?.error?.message).toMatch(/moderation/);

    api.reset();
    const again = await runCli(['build'], { cwd: dir, env: env() });
    expect(again.code).toBe(1);
    expect(api.batches).toHaveLength(1);
    expect(api.linesOf(api.batches[0]!).map((l) => (l['body'] as { prompt: string }).prompt)).toEqual(['A FORBIDDEN thing']);
    expect(api.imageRequests).toHaveLength(0);
  });

  it('SIGKILL after the batch is created: the next build makes no second batch and builds every asset', async () => {
    const dir = await project(manifest());
    api.hold = true;
    const run = startCli(['build'], { cwd: dir, env: env() });
    await waitFor(() => api.batches.some((b) => b.status === 'in_progress'), 30_000, 'the batch to be in progress');
    run.child.kill('SIGKILL');
    await run.done;
    expect(api.batches).toHaveLength(1);
    const batchId = api.batches[0]!.id;

    api.hold = false;
    const resumed = await runCli(['build'], { cwd: dir, env: env() });
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.imageRequests).toHaveLength(0);
    expect(api.requests.filter((r) => r.method === 'POST' && r.path === '/v1/batches')).toHaveLength(1);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 6, failed: 0 });
    expect(report.assets.every((a) => a.steps.find((s) => s.kind === 'generate')?.meta?.['batch'] === batchId)).toBe(true);
  });

  it('killed before the answer to batches.create was saved: the next build finds the batch by its input file instead of creating another', async () => {
    const dir = await project(manifest({ assets: 3 }));
    api.hold = true;
    const run = startCli(['build'], { cwd: dir, env: env() });
    await waitFor(() => api.batches.some((b) => b.status === 'in_progress'), 30_000, 'the batch to be in progress');
    run.child.kill('SIGKILL');
    await run.done;
    // As if the build had died while batches.create was in flight: the input file is known, the batch id is not.
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
    expect(api.batches).toHaveLength(1);
    expect(api.imageRequests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 3, failed: 0 });
  });

  it('--no-wait reports the assets pending (build and plan), and a later build collects them', async () => {
    const dir = await project(manifest({ batch: false }));
    api.hold = true;
    const submit = await runCli(['build', '--batch', '--no-wait'], { cwd: dir, env: env() });
    expect(submit.code, submit.stderr + submit.stdout).toBe(0);
    expect(api.batches).toHaveLength(1);
    const pending = await readReport(dir);
    expect(pending.summary).toMatchObject({ built: 0, failed: 0, pending: 6 });
    expect(pending.assets.map((a) => a.status)).toEqual(Array(6).fill('pending'));
    expect(stepStatus(pending, 'item0', 'render', 'web')).toBe('pending');
    expect(existsSync(path.join(dir, 'out', 'item0', 'web.png'))).toBe(false);

    const plan = await runCli(['plan', '--json'], { cwd: dir, env: env() });
    const planned = JSON.parse(plan.stdout) as { nodes: Array<{ kind: string; action: string; estimatedCostUsd: number }>; summary: { pending?: number; estimatedCostUsd: number } };
    expect(planned.nodes.filter((n) => n.kind === 'generate').map((n) => n.action)).toEqual(Array(6).fill('pending'));
    expect(planned.summary).toMatchObject({ pending: 6, estimatedCostUsd: 0 });
    const planText = (await runCli(['plan'], { cwd: dir, env: env() })).stdout;
    expect(planText).toMatch(new RegExp(`pending +generate +submitted in batch ${api.batches[0]!.id}`));
    expect(planText).toContain('6 images pending in a provider batch');

    const listed = await runCli(['batches'], { cwd: dir, env: env() });
    expect(listed.stdout).toMatch(new RegExp(`open:\\n  ${api.batches[0]!.id}  in_progress`));

    api.hold = false;
    // Without --batch: the open batch still delivers them; nothing is sent directly.
    const collect = await runCli(['build'], { cwd: dir, env: env() });
    expect(collect.code, collect.stderr + collect.stdout).toBe(0);
    expect(api.batches).toHaveLength(1);
    expect(api.imageRequests).toHaveLength(0);
    expect((await readReport(dir)).summary).toMatchObject({ built: 6, failed: 0 });
    expect(existsSync(path.join(dir, 'out', 'item0', 'web.png'))).toBe(true);
  });

  it('gpt4k batches cancel: the cancelled batch\'s assets fail with a clear error, and building again resubmits them', async () => {
    const dir = await project(manifest({ assets: 2 }));
    api.hold = true;
    expect((await runCli(['build', '--no-wait'], { cwd: dir, env: env() })).code).toBe(0);
    const id = api.batches[0]!.id;
    const cancel = await runCli(['batches', 'cancel', id], { cwd: dir, env: env() });
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(`${id}: cancelling`);
    const unknown = await runCli(['batches', 'cancel', 'batch_nope'], { cwd: dir, env: env() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('E_UNKNOWN_BATCH');

    const after = await runCli(['build'], { cwd: dir, env: env() });
    expect(after.code).toBe(1);
    const report = await readReport(dir);
    expect(report.assets.map((a) => a.error?.code)).toEqual(['E_BATCH_CANCELLED', 'E_BATCH_CANCELLED']);
    expect(report.assets[0]?.error?.message).toContain(`batch ${id}`);

    api.hold = false;
    const rebuilt = await runCli(['build'], { cwd: dir, env: env() });
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(api.batches).toHaveLength(2);
  });

  it('an expired batch fails only its unanswered assets (E_BATCH_EXPIRED); building again resubmits only those', async () => {
    const dir = await project(manifest({ assets: 3 }));
    api.expireAfter = 1;
    const first = await runCli(['build'], { cwd: dir, env: env() });
    expect(first.code, first.stderr + first.stdout).toBe(1);
    const expired = api.batches[0]!;
    expect(expired.status).toBe('expired');
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 1, failed: 2 });
    const answered = api.linesOf(expired)[0]!['body'] as { prompt: string };
    const built = report.assets.find((a) => a.status === 'built')!;
    expect(answered.prompt).toContain(built.prompt);
    const failed = report.assets.filter((a) => a.status === 'failed');
    for (const asset of failed) {
      expect(asset.error).toMatchObject({ step: 'generate', code: 'E_BATCH_EXPIRED' });
      expect(asset.error?.message).toContain(`batch ${expired.id} expired`);
      expect(asset.error?.hint).toContain('build again');
    }
    // The plan knows the answered image; the expired ones are to run again, nothing is pending.
    const planned = JSON.parse((await runCli(['plan', '--json'], { cwd: dir, env: env() })).stdout) as { nodes: Array<{ asset: string; kind: string; action: string }>; summary: { pending?: number } };
    const generates = planned.nodes.filter((n) => n.kind === 'generate');
    expect(generates.filter((n) => n.action === 'run').map((n) => n.asset).sort()).toEqual(failed.map((a) => a.id).sort());
    expect(generates.find((n) => n.asset === built.id)?.action).toBe('cached');
    expect(planned.summary.pending).toBeUndefined();

    api.expireAfter = undefined;
    const again = await runCli(['build'], { cwd: dir, env: env() });
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(api.batches).toHaveLength(2);
    const resubmitted = api.linesOf(api.batches[1]!).map((l) => (l['body'] as { prompt: string }).prompt);
    expect(resubmitted).toHaveLength(2);
    for (const asset of failed) expect(resubmitted.some((p) => p.includes(asset.prompt as string))).toBe(true);
    expect((await readReport(dir)).summary).toMatchObject({ built: 2, cached: 1, failed: 0 });
    expect(api.imageRequests).toHaveLength(0);
  });

  it('a style reference: the reference is generated in one batch, the others are edits in a second that reuses one upload', async () => {
    const dir = await project(manifest({ assets: 4, style: true }));
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(api.batches.map((b) => b.endpoint)).toEqual(['/v1/images/generations', '/v1/images/edits']);
    const references = api.files.filter((f) => f.purpose === 'vision');
    expect(references).toHaveLength(1);
    expect(references[0]?.bytes.subarray(1, 4).toString()).toBe('PNG');
    const edits = api.linesOf(api.batches[1]!);
    expect(edits).toHaveLength(3);
    for (const line of edits) expect(line['body']).toMatchObject({ images: [{ file_id: references[0]!.id }] });
    expect((await readReport(dir)).summary).toMatchObject({ built: 4, failed: 0 });
    expect(api.imageRequests).toHaveLength(0);
  });
});

describe('batch price', () => {
  let direct: FakeOpenAI;
  beforeAll(async () => {
    direct = await startFakeOpenAI({ apiKey: KEY });
  });
  afterAll(async () => direct.close());

  it('the report\'s cost is half the direct one for the same images, and plan estimates (and --max-cost checks) the batch price', async () => {
    const directDir = await project(manifest({ batch: false }));
    const batchDir = await project(manifest({ batch: false }));
    const directPlan = JSON.parse((await runCli(['plan', '--json'], { cwd: directDir, env: env(direct.url) })).stdout) as { summary: { estimatedCostUsd: number } };
    const batchPlan = JSON.parse((await runCli(['plan', '--json', '--batch'], { cwd: batchDir, env: env() })).stdout) as { summary: { estimatedCostUsd: number } };
    expect(directPlan.summary.estimatedCostUsd).toBeGreaterThan(0);
    expect(batchPlan.summary.estimatedCostUsd).toBeCloseTo(directPlan.summary.estimatedCostUsd / 2, 4);

    // A budget between the two prices: refused directly, accepted as a batch.
    const budget = String((directPlan.summary.estimatedCostUsd * 3) / 4);
    const refused = await runCli(['build', '--max-cost', budget], { cwd: directDir, env: env(direct.url) });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('E_BUDGET');

    expect((await runCli(['build'], { cwd: directDir, env: env(direct.url) })).code).toBe(0);
    const batched = await runCli(['build', '--batch', '--max-cost', budget], { cwd: batchDir, env: env() });
    expect(batched.code, batched.stderr).toBe(0);
    const directCost = (await readReport(directDir)).summary.costUsd;
    const batchCost = (await readReport(batchDir)).summary.costUsd;
    expect(directCost).toBeGreaterThan(0);
    expect(batchCost).toBeCloseTo(directCost / 2, 3);
  });
});
