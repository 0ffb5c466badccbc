/**
 * The comfyui provider against a stand-in of ComfyUI's HTTP API (a real HTTP server on
 * 127.0.0.1), with workflow files on disk, then the real CLI building a tiny project through it.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GenerateParams } from '../src/manifest/types.js';
import { comfyuiProvider, validateComfyUiParams } from '../src/providers/comfyui.js';
import { derivedSeed, fillWorkflow } from '../src/providers/comfyui-workflow.js';
import { ProviderError } from '../src/providers/retry.js';
import type { GenerateContext, GenerateRequest } from '../src/providers/types.js';
import { ensureBuilt, runCli, tempProject, tinyManifest, generateKey } from './support/cli-run.js';
import { deadPort } from './support/fake-server-kit.js';
import { img2imgWorkflow, startFakeComfyUI, txt2imgWorkflow, type FakeComfyUI } from './support/fake-comfyui.js';
import { callContext, failure } from './support/provider-calls.js';

let comfy: FakeComfyUI;
let root: string;
const savedUrl = process.env.COMFYUI_BASE_URL;

beforeAll(async () => {
  comfy = await startFakeComfyUI();
  root = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-comfy-'));
  await writeFile(path.join(root, 'txt2img.json'), JSON.stringify(txt2imgWorkflow(), null, 2));
  await writeFile(path.join(root, 'img2img.json'), JSON.stringify(img2imgWorkflow(), null, 2));
});
beforeEach(() => {
  comfy.reset();
  process.env.COMFYUI_BASE_URL = comfy.url;
});
afterAll(async () => {
  await comfy.close();
  await rm(root, { recursive: true, force: true });
  if (savedUrl === undefined) delete process.env.COMFYUI_BASE_URL;
  else process.env.COMFYUI_BASE_URL = savedUrl;
});

/** A direct call's context: the workflow files lie in `root`, the project. */
function context(retries: Array<{ delayMs: number; reason: string }> = []): GenerateContext {
  return callContext(retries, undefined, root);
}

function params(overrides: Partial<GenerateParams> = {}, options: Record<string, unknown> = {}): GenerateParams {
  return {
    provider: 'comfyui',
    model: 'gpt-image-2',
    size: '72x64',
    quality: 'high',
    ...overrides,
    options: { workflow: 'txt2img.json', retryBaseDelayMs: 5, retryMaxDelayMs: 50, pollIntervalMs: 10, ...overrides.options, ...options },
  };
}

function request(p: GenerateParams, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { assetId: 'hero', prompt: 'A teal coffee bag on white', params: p, width: 72, height: 64, ...extra };
}

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
const queued = (index = 0): Graph => comfy.requestsTo('/prompt')[index]!.body!['prompt'] as Graph;

describe('comfyui: requests', () => {
  it('fills the placeholders (numbers as numbers, the seed unchanged), queues, polls and fetches the image', async () => {
    const result = await comfyuiProvider.generate(
      request(params({ seed: 1234567890123 }, { negative_prompt: 'text', steps: 12, cfg_scale: 4.5 })),
      context(),
    );
    const prompt = queued();
    expect(prompt['3']!.inputs).toMatchObject({ seed: 1234567890123, steps: 12, cfg: 4.5, denoise: 1 });
    expect(prompt['5']!.inputs).toMatchObject({ width: 72, height: 64 });
    expect(prompt['6']!.inputs['text']).toBe('A teal coffee bag on white');
    expect(prompt['7']!.inputs['text']).toBe('blurry, text');
    expect(typeof comfy.requestsTo('/prompt')[0]!.body!['client_id']).toBe('string');
    const view = comfy.requestsTo('/view')[0]!;
    expect(view.query.get('type')).toBe('output');
    const meta = await sharp(result.image).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 72, 64]);
    expect(result.requests).toBe(1);
    expect(result.meta).toMatchObject({ provider: 'comfyui', workflow: 'txt2img.json', seed: 1234567890123, outputNode: '9', gpuSeconds: 1.5 });
    expect(comfy.requestsTo('/upload')).toHaveLength(0);
  });

  it('without a seed, one derived from the prompt: the same asset asks for the same image', async () => {
    await comfyuiProvider.generate(request(params()), context());
    await comfyuiProvider.generate(request(params()), context());
    expect(queued(0)['3']!.inputs['seed']).toBe(derivedSeed('A teal coffee bag on white'));
    expect(queued(1)['3']!.inputs['seed']).toBe(queued(0)['3']!.inputs['seed']);
  });

  it('follows a slow job by polling the history until it completes', async () => {
    comfy.script({ kind: 'ok', runMs: 400, gpuMs: 2250 });
    const result = await comfyuiProvider.generate(request(params()), context());
    // At least one answer was "still running" before the finished one.
    expect(comfy.requestsTo('/history').length).toBeGreaterThanOrEqual(2);
    expect(result.meta['gpuSeconds']).toBe(2.25);
    expect(result.costUsd).toBe(0);
  });

  it('uploads the style reference and puts its name in {{reference_image}} (referenceWorkflow)', async () => {
    const reference = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0a7' } }).png().toBuffer();
    const result = await comfyuiProvider.generate(
      request(params({ seed: 5 }, { referenceWorkflow: 'img2img.json', denoising_strength: 0.4 }), { reference: { assetId: 'hero', image: reference }, assetId: 'sku' }),
      context(),
    );
    const upload = comfy.requestsTo('/upload/image')[0]!;
    expect(upload.files[0]!.bytes.equals(reference)).toBe(true);
    expect(upload.fields).toMatchObject({ type: 'input', overwrite: 'true' });
    const prompt = queued();
    expect(prompt['10']!.inputs['image']).toBe(upload.files[0]!.filename);
    expect(prompt['3']!.inputs).toMatchObject({ seed: 5, denoise: 0.4 });
    expect(result.meta).toMatchObject({ workflow: 'img2img.json', referenceAsset: 'hero', referenceImage: upload.files[0]!.filename });
  });

  it('a workflow that needs a reference fails plainly without one, sending nothing', async () => {
    const err = await failure(comfyuiProvider.generate(request(params({}, { workflow: 'img2img.json' })), context()));
    expect(err.code).toBe('E_NO_REFERENCE');
    expect(comfy.requests).toHaveLength(0);
  });

  it('cost is the server-timed GPU seconds times the rate', async () => {
    comfy.script({ kind: 'ok', gpuMs: 4000 });
    const result = await comfyuiProvider.generate(request(params({}, { costPerGpuSecond: 0.001 })), context());
    expect(result.costUsd).toBeCloseTo(0.004, 9);
    expect(comfyuiProvider.estimateCostUsd(params({}, { costPerGpuSecond: 0.001, expectedGpuSeconds: 30 }))).toBeCloseTo(0.03, 9);
  });
});

describe('comfyui: faults', () => {
  it('400 node_errors names the node id and class_type, and is not retried', async () => {
    comfy.script('node_errors');
    const err = await failure(comfyuiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_WORKFLOW_INVALID');
    expect(err.message).toBe(
      'ComfyUI rejected workflow "txt2img.json" (Prompt outputs failed validation): node 4 (CheckpointLoaderSimple): Value not in list (ckpt_name: \'sd_xl_base_1.0.safetensors\' not in [\'v1-5-pruned-emaonly.safetensors\'])',
    );
    expect(comfy.requestsTo('/prompt')).toHaveLength(1);
  });

  it('fillWorkflow replaces only the values it is given', async () => {
    const workflow = txt2imgWorkflow() as Graph;
    const filled = fillWorkflow(workflow as never, { prompt: 'x' }) as Graph;
    expect(filled['3']!.inputs['seed']).toBe('{{seed}}');
    expect(filled['6']!.inputs['text']).toBe('x');
  });

  it('execution_error in the history names the node and the exception, not retried', async () => {
    comfy.script({ kind: 'execution_error', nodeId: '3', exceptionType: 'RuntimeError', exceptionMessage: 'mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)' });
    const err = await failure(comfyuiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_COMFYUI_EXECUTION');
    expect(err.message).toBe(
      'ComfyUI failed at node 3 (KSampler) in workflow "txt2img.json": RuntimeError: mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)',
    );
    expect(comfy.requestsTo('/prompt')).toHaveLength(1);
  });

  it('out of memory during execution says what to do', async () => {
    comfy.script({ kind: 'execution_error', exceptionType: 'torch.OutOfMemoryError', exceptionMessage: 'Allocation on device' });
    const err = await failure(comfyuiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_GPU_OUT_OF_MEMORY');
    expect(err.hint).toMatch(/--lowvram/);
  });

  it('500 on POST /prompt is retried', async () => {
    comfy.script({ kind: 'status', status: 500 }, 'ok');
    const retries: Array<{ delayMs: number; reason: string }> = [];
    const result = await comfyuiProvider.generate(request(params()), context(retries));
    expect(result.requests).toBe(2);
    expect(retries).toHaveLength(1);
  });

  it('a job slower than timeoutMs is reported as a timeout', async () => {
    // Every queued job is slow (a POST cut short by the timeout and retried queues another).
    comfy.script(() => ({ kind: 'ok', runMs: 10_000 }));
    const err = await failure(comfyuiProvider.generate(request(params({}, { timeoutMs: 300 })), context()));
    expect(err.code).toBe('E_TIMEOUT');
    expect(err.message).toMatch(/did not finish prompt/);
  });

  it('connection refused halts the provider with the fix', async () => {
    const port = await deadPort();
    const err = await failure(comfyuiProvider.generate(request(params({}, { baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 })), context()));
    expect(err.code).toBe('E_CONNECTION');
    expect(err.haltsProvider).toBe(true);
    expect(err.hint).toMatch(/start ComfyUI/);
    expect((err as ProviderError).requests).toBe(2);
  });
});

describe('comfyui: validation', () => {
  it('needs a readable API-format workflow with known placeholders', async () => {
    const at = { file: 'assets.pipeline.yaml', line: 7, col: 5 };
    expect(validateComfyUiParams(params(), root, at)).toEqual([]);
    const none = validateComfyUiParams({ ...params(), options: {} }, root, at);
    expect(none[0]).toMatchObject({ code: 'E_MISSING_OPTION', at });
    expect(validateComfyUiParams(params({}, { workflow: 'missing.json' }), root, at)[0]).toMatchObject({
      code: 'E_MISSING_FILE',
      message: 'workflow: ComfyUI workflow "missing.json" does not exist',
    });
    await writeFile(path.join(root, 'ui.json'), JSON.stringify({ nodes: [], links: [], version: 0.4 }));
    expect(validateComfyUiParams(params({}, { workflow: 'ui.json' }), root, at)[0]?.hint).toMatch(/Export \(API\)/);
    const typo = txt2imgWorkflow() as Graph;
    typo['3']!.inputs['seed'] = '{{sead}}';
    await writeFile(path.join(root, 'typo.json'), JSON.stringify(typo));
    const diagnostics = validateComfyUiParams(params({}, { workflow: 'typo.json' }), root, at);
    expect(diagnostics[0]).toMatchObject({ code: 'E_UNKNOWN_PLACEHOLDER', hint: 'did you mean {{seed}}?' });
    expect(validateComfyUiParams(params({ size: '70x64' }), root, at)[0]).toMatchObject({ code: 'E_INVALID_SIZE', hint: 'the nearest valid size is "72x64"' });
    expect(validateComfyUiParams(params({}, { workflw: 'x.json' }), root, at)[0]).toMatchObject({ code: 'E_UNKNOWN_OPTION', hint: 'did you mean "workflow"?' });
  });
});

describe('comfyui: cache key', () => {
  it('changes with the provider, each parameter and the workflow content; not with the project location', async () => {
    const base = '{ provider: comfyui, size: 64x64, seed: 7, workflow: flow.json, negative_prompt: "text", steps: 20 }';
    const flow = JSON.stringify(txt2imgWorkflow());
    const dir = await tempProject({ 'flow.json': flow, 'other.json': flow });
    const moved = await tempProject({ 'flow.json': flow });
    try {
      const key = await generateKey(dir, base);
      expect(await generateKey(dir, base)).toBe(key);
      expect(await generateKey(moved, base)).toBe(key); // the absolute path is not in the key
      const variants = [
        // Another provider takes other options: validation rejects a workflow on sdwebui.
        base.replace('comfyui', 'sdwebui').replace(' workflow: flow.json,', ''),
        base.replace('64x64', '64x72'),
        base.replace('seed: 7', 'seed: 8'),
        base.replace('"text"', '"text, blur"'),
        base.replace('steps: 20', 'steps: 21'),
      ];
      const keys = new Set([key]);
      for (const variant of variants) keys.add(await generateKey(dir, variant));
      expect(keys.size).toBe(variants.length + 1);

      // Same bytes under another name: the name is a parameter, so the key changes...
      const renamed = await generateKey(dir, base.replace('flow.json', 'other.json'));
      expect(renamed).not.toBe(key);
      // ...and editing the workflow file changes the key while the manifest stays the same.
      const edited = txt2imgWorkflow() as Graph;
      edited['3']!.inputs['sampler_name'] = 'euler';
      await writeFile(path.join(dir, 'flow.json'), JSON.stringify(edited));
      expect(await generateKey(dir, base)).not.toBe(key);
      await writeFile(path.join(dir, 'flow.json'), flow);
      expect(await generateKey(dir, base)).toBe(key);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(moved, { recursive: true, force: true });
    }
  });
});

describe('comfyui: end to end through the CLI', () => {
  it('builds the deliverable and reports the provider call', async () => {
    await ensureBuilt(['src/providers/comfyui.ts', 'src/providers/comfyui-workflow.ts', 'src/providers/comfyui-checks.ts', 'src/providers/self-hosted.ts', 'src/providers/registry.ts', 'src/manifest/assets.ts', 'src/cli/main.ts']);
    const dir = await tempProject({
      'assets.pipeline.yaml': tinyManifest('{ provider: comfyui, size: 64x64, seed: 99, workflow: workflows/flow.json }'),
    });
    try {
      const { mkdir } = await import('node:fs/promises');
      await mkdir(path.join(dir, 'workflows'));
      await writeFile(path.join(dir, 'workflows/flow.json'), JSON.stringify(txt2imgWorkflow()));
      // Run from elsewhere: the workflow path is relative to the manifest, not the working directory.
      const run = await runCli(['build', '--json', '--manifest', path.join(dir, 'assets.pipeline.yaml')], os.tmpdir(), { COMFYUI_BASE_URL: comfy.url });
      expect(run.code, run.stderr + run.stdout).toBe(0);
      const png = await sharp(path.join(dir, 'out/hero/thumb.png')).metadata();
      expect([png.width, png.height]).toEqual([64, 64]);
      const report = JSON.parse(await readFile(path.join(dir, 'out/pipeline_report.json'), 'utf8')) as { summary: { providerCalls: number; failed: number } };
      expect(report.summary).toMatchObject({ providerCalls: 1, failed: 0 });
      expect(queued()['3']!.inputs['seed']).toBe(99);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
