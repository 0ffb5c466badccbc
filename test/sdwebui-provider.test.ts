/**
 * The sdwebui provider against a stand-in of the AUTOMATIC1111 / Forge API (a real HTTP server on
 * 127.0.0.1), then the real CLI building a tiny project through it.
 */

import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GenerateParams } from '../src/manifest/types.js';
import { ProviderError } from '../src/providers/retry.js';
import { checkpointOf, sdwebuiProvider, validateSdWebUiParams } from '../src/providers/sdwebui.js';
import { estimateGpuCost } from '../src/providers/self-hosted.js';
import type { GenerateRequest } from '../src/providers/types.js';
import { ensureBuilt, runCli, tempProject, tinyManifest, generateKey } from './support/cli-run.js';
import { deadPort } from './support/fake-server-kit.js';
import { SERVER_PICKED_SEED, startFakeSdWebUI, type FakeSdWebUI } from './support/fake-sdwebui.js';
import { callContext as context, failure } from './support/provider-calls.js';

let sd: FakeSdWebUI;
const savedUrl = process.env.SDWEBUI_BASE_URL;

beforeAll(async () => {
  sd = await startFakeSdWebUI();
});
beforeEach(() => {
  sd.reset();
  process.env.SDWEBUI_BASE_URL = sd.url;
});
afterAll(async () => {
  await sd.close();
  if (savedUrl === undefined) delete process.env.SDWEBUI_BASE_URL;
  else process.env.SDWEBUI_BASE_URL = savedUrl;
});

function params(overrides: Partial<GenerateParams> = {}, options: Record<string, unknown> = {}): GenerateParams {
  return {
    provider: 'sdwebui',
    model: 'current',
    size: '72x64',
    quality: 'high',
    ...overrides,
    options: { retryBaseDelayMs: 5, retryMaxDelayMs: 50, ...overrides.options, ...options },
  };
}

function request(p: GenerateParams, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { assetId: 'hero', prompt: 'A teal coffee bag on white', params: p, width: 72, height: 64, ...extra };
}

describe('sdwebui: requests', () => {
  it('sends txt2img with every parameter, and the seed unchanged', async () => {
    const controlnet = [{ enabled: true, module: 'canny', model: 'control_v11p_sd15_canny', weight: 0.8, image: 'data:image/png;base64,AAAA' }];
    const result = await sdwebuiProvider.generate(
      request(
        params(
          { model: 'juggernautXL_v9.safetensors', seed: 1234567890123 },
          { negative_prompt: 'text, watermark', steps: 25, sampler: 'DPM++ 2M', scheduler: 'Karras', cfg_scale: 5.5, controlnet },
        ),
      ),
      context(),
    );
    expect(sd.requests).toHaveLength(1);
    const sent = sd.requests[0]!;
    expect(sent.path).toBe('/sdapi/v1/txt2img');
    expect(sent.body).toMatchObject({
      prompt: 'A teal coffee bag on white',
      negative_prompt: 'text, watermark',
      seed: 1234567890123,
      steps: 25,
      sampler_name: 'DPM++ 2M',
      scheduler: 'Karras',
      cfg_scale: 5.5,
      width: 72,
      height: 64,
      batch_size: 1,
      n_iter: 1,
      override_settings: { sd_model_checkpoint: 'juggernautXL_v9.safetensors' },
      override_settings_restore_afterwards: false,
      alwayson_scripts: { controlnet: { args: controlnet } },
    });
    expect(sent.body).not.toHaveProperty('init_images');
    const meta = await sharp(result.image).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 72, 64]);
    expect(result.requests).toBe(1);
    expect(result.meta).toMatchObject({ provider: 'sdwebui', endpoint: 'sdapi/v1/txt2img', seed: 1234567890123, requestedSeed: 1234567890123, checkpoint: 'juggernautXL_v9' });
    expect(typeof result.meta['gpuSeconds']).toBe('number');
  });

  it('a locked seed reproduces the image; no seed asks the server (-1) and records the seed it used', async () => {
    const a = await sdwebuiProvider.generate(request(params({ seed: 42 })), context());
    const b = await sdwebuiProvider.generate(request(params({ seed: 42 })), context());
    expect(a.image.equals(b.image)).toBe(true);
    const c = await sdwebuiProvider.generate(request(params()), context());
    expect(sd.requests[2]?.body?.['seed']).toBe(-1);
    expect(c.meta).toMatchObject({ seed: SERVER_PICKED_SEED, requestedSeed: null });
  });

  it('defaults: steps 30, cfg 7, no sampler, no checkpoint override for "current" or an inherited OpenAI model', async () => {
    await sdwebuiProvider.generate(request(params({ model: 'gpt-image-2' })), context());
    const body = sd.requests[0]!.body!;
    expect(body).toMatchObject({ steps: 30, cfg_scale: 7, negative_prompt: '' });
    expect(body).not.toHaveProperty('sampler_name');
    expect(body).not.toHaveProperty('override_settings');
    expect(checkpointOf('current')).toBeUndefined();
    expect(checkpointOf('gemini-2.5-flash-image')).toBeUndefined();
    expect(checkpointOf('flux1-dev')).toBe('flux1-dev');
  });

  it('sends the style reference through img2img with init_images and denoising_strength', async () => {
    const reference = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0a7' } }).png().toBuffer();
    const result = await sdwebuiProvider.generate(
      request(params({ seed: 7 }, { denoising_strength: 0.35 }), { reference: { assetId: 'hero', image: reference }, assetId: 'sku' }),
      context(),
    );
    const sent = sd.requests[0]!;
    expect(sent.path).toBe('/sdapi/v1/img2img');
    expect(sent.body).toMatchObject({ denoising_strength: 0.35, seed: 7 });
    const images = sent.body!['init_images'] as string[];
    expect(Buffer.from(images[0]!, 'base64').equals(reference)).toBe(true);
    expect(result.meta).toMatchObject({ endpoint: 'sdapi/v1/img2img', referenceAsset: 'hero', denoising_strength: 0.35 });
    expect(result.meta).not.toHaveProperty('init_images');

    sd.reset();
    await sdwebuiProvider.generate(request(params(), { reference: { assetId: 'hero', image: reference } }), context());
    expect(sd.requests[0]!.body!['denoising_strength']).toBe(0.55);
  });

  it('reaches a server named by options.baseUrl over SDWEBUI_BASE_URL', async () => {
    process.env.SDWEBUI_BASE_URL = `http://127.0.0.1:${await deadPort()}`;
    const result = await sdwebuiProvider.generate(request(params({}, { baseUrl: `${sd.url}/` })), context());
    expect(result.requests).toBe(1);
  });

  it('cost is GPU seconds times the rate; plan estimates rate times expected seconds', async () => {
    const result = await sdwebuiProvider.generate(request(params({}, { costPerGpuSecond: 0.5 })), context());
    const seconds = result.meta['gpuSeconds'] as number;
    expect(result.costUsd).toBeCloseTo(seconds * 0.5, 6);
    const viaPricing = await sdwebuiProvider.generate(request(params()), context([], { sdwebui: { costPerGpuSecond: 2 } }));
    expect(viaPricing.costUsd).toBeCloseTo((viaPricing.meta['gpuSeconds'] as number) * 2, 6);
    expect(sdwebuiProvider.estimateCostUsd(params({}, { costPerGpuSecond: 0.001, expectedGpuSeconds: 12 }))).toBeCloseTo(0.012, 9);
    expect(sdwebuiProvider.estimateCostUsd(params({}, { costPerGpuSecond: 0.001 }))).toBeCloseTo(0.02, 9);
    expect(estimateGpuCost('sdwebui', {}, { sdwebui: { costPerGpuSecond: 0.01, expectedGpuSeconds: 3 } })).toBeCloseTo(0.03, 9);
    expect(sdwebuiProvider.estimateCostUsd(params())).toBe(0);
  });
});

describe('sdwebui: faults', () => {
  it('500 {error, detail} is retried, then the image arrives', async () => {
    sd.script('error', 'ok');
    const retries: Array<{ delayMs: number; reason: string }> = [];
    const result = await sdwebuiProvider.generate(request(params({ seed: 1 })), context(retries));
    expect(result.requests).toBe(2);
    expect(result.retries).toBe(1);
    expect(retries[0]?.reason).toContain('RuntimeError: Expected all tensors');
  });

  it('gives up after maxRetries with the WebUI\'s error in words', async () => {
    sd.script(() => ({ kind: 'error' }));
    const err = await failure(sdwebuiProvider.generate(request(params({}, { maxRetries: 2 })), context()));
    expect(err.code).toBe('E_PROVIDER_UNAVAILABLE');
    expect(err.message).toBe('SD WebUI answered HTTP 500: RuntimeError: Expected all tensors to be on the same device, but found at least two devices');
    expect((err as ProviderError).requests).toBe(3);
  });

  it('CUDA out of memory is not retried and says what to do', async () => {
    sd.script('oom');
    const err = await failure(sdwebuiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_GPU_OUT_OF_MEMORY');
    expect(err.retryable).toBe(false);
    expect(err.hint).toMatch(/smaller size/);
    expect(sd.requests).toHaveLength(1);
  });

  it('422 names the field; 404 says to start the WebUI with --api', async () => {
    sd.script({ kind: 'validation', field: 'sampler_name', msg: 'Sampler not found' });
    const err = await failure(sdwebuiProvider.generate(request(params({}, { sampler: 'Nope' })), context()));
    expect(err.message).toContain('sampler_name: Sampler not found');
    expect(err.retryable).toBe(false);

    sd.script({ kind: 'status', status: 404, body: { detail: 'Not Found' } });
    const missing = await failure(sdwebuiProvider.generate(request(params()), context()));
    expect(missing.code).toBe('E_NO_API');
    expect(missing.hint).toContain('--api');
  });

  it('connection refused is retried, then halts the provider with the fix', async () => {
    const port = await deadPort();
    const retries: Array<{ delayMs: number; reason: string }> = [];
    const err = await failure(sdwebuiProvider.generate(request(params({}, { baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 })), context(retries)));
    expect(err.code).toBe('E_CONNECTION');
    expect(err.message).toBe(`could not reach SD WebUI at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(err.hint).toContain('--api');
    expect(err.haltsProvider).toBe(true);
    expect((err as ProviderError).requests).toBe(2);
    expect(retries).toHaveLength(1);
  });

  it('invalid parameters are refused before anything is sent', async () => {
    const err = await failure(sdwebuiProvider.generate(request(params({ size: '100x75' })), context()));
    expect(err.code).toBe('E_INVALID_PARAMS');
    expect(err.hint).toBe('the nearest valid size is "104x72"');
    expect(sd.requests).toHaveLength(0);
  });
});

describe('sdwebui: validation', () => {
  it('checks sizes and options with did-you-mean', () => {
    expect(validateSdWebUiParams(params({ size: '1216x832' }), undefined)).toEqual([]);
    expect(validateSdWebUiParams(params({ size: 'auto-from-targets' }), undefined)).toEqual([]);
    const at = { file: 'assets.pipeline.yaml', line: 4, col: 3 };
    const typo = validateSdWebUiParams(params({}, { sampeler: 'Euler a' }), at);
    expect(typo[0]).toMatchObject({ code: 'E_UNKNOWN_OPTION', hint: 'did you mean "sampler"?', at });
    const bad = validateSdWebUiParams(params({}, { steps: 0, denoising_strength: 2, controlnet: { module: 'canny' } }), undefined);
    expect(bad.map((d) => d.message)).toEqual([
      'sdwebui option steps: 0 must be an integer from 1 to 150',
      'sdwebui option denoising_strength: 2 must be a number from 0 to 1',
      'sdwebui option controlnet: {"module":"canny"} must be a list of mappings (one per unit)',
    ]);
    expect(sdwebuiProvider.sizeForAspect?.(params(), 16 / 9)).toBe('1344x768');
  });
});

const KEY_BASE = '{ provider: sdwebui, model: current, size: 1216x832, seed: 7, negative_prompt: "text", steps: 30, sampler: "Euler a", cfg_scale: 7 }';

describe('sdwebui: cache key', () => {
  it('changes with the provider and each parameter, and not otherwise', async () => {
    const dir = await tempProject({});
    try {
      const base = await generateKey(dir, KEY_BASE);
      expect(await generateKey(dir, KEY_BASE)).toBe(base);
      const variants = [
        KEY_BASE.replace('sdwebui', 'procedural'),
        KEY_BASE.replace('model: current', 'model: juggernautXL_v9'),
        KEY_BASE.replace('1216x832', '832x1216'),
        KEY_BASE.replace('seed: 7', 'seed: 8'),
        KEY_BASE.replace('"text"', '"text, blur"'),
        KEY_BASE.replace('steps: 30', 'steps: 31'),
        KEY_BASE.replace('Euler a', 'DPM++ 2M'),
        KEY_BASE.replace('cfg_scale: 7', 'cfg_scale: 6'),
        KEY_BASE.replace(' }', ', options: { denoising_strength: 0.4 } }'),
      ];
      const keys = new Set([base]);
      for (const variant of variants) keys.add(await generateKey(dir, variant));
      expect(keys.size).toBe(variants.length + 1);
      // Reordered fields are the same parameters.
      expect(await generateKey(dir, '{ seed: 7, provider: sdwebui, size: 1216x832, model: current, cfg_scale: 7, sampler: "Euler a", steps: 30, negative_prompt: "text" }')).toBe(base);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('sdwebui: end to end through the CLI', () => {
  it('builds the deliverable and reports the provider call', async () => {
    await ensureBuilt(['src/providers/sdwebui.ts', 'src/providers/self-hosted.ts', 'src/providers/registry.ts', 'src/cli/main.ts']);
    const dir = await tempProject({ 'assets.pipeline.yaml': tinyManifest('{ provider: sdwebui, size: 64x64, seed: 99, steps: 4 }') });
    try {
      const run = await runCli(['build', '--json'], dir, { SDWEBUI_BASE_URL: sd.url });
      expect(run.code, run.stderr + run.stdout).toBe(0);
      const png = await sharp(path.join(dir, 'out/hero/thumb.png')).metadata();
      expect([png.width, png.height]).toEqual([64, 64]);
      const report = JSON.parse(await readFile(path.join(dir, 'out/pipeline_report.json'), 'utf8')) as { summary: { providerCalls: number; failed: number } };
      expect(report.summary).toMatchObject({ providerCalls: 1, failed: 0 });
      expect(sd.requests.map((r) => r.body?.['seed'])).toEqual([99]);

      const again = await runCli(['build', '--json'], dir, { SDWEBUI_BASE_URL: sd.url });
      expect(again.code).toBe(0);
      expect(sd.requests).toHaveLength(1); // cached: no second call
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
