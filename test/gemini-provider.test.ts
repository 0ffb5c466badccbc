/**
 * The gemini provider, driven through the real @google/genai SDK against a stand-in of the
 * Gemini API (a real HTTP server on 127.0.0.1), then the real CLI building a tiny project.
 */

import { inspect } from 'node:util';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadManifest, plan } from '../src/index.js';
import type { GenerateParams } from '../src/manifest/types.js';
import { geminiProvider, parseRetryDelay, redact } from '../src/providers/gemini.js';
import { geminiImageConfig, geminiSizeForAspect, validateGeminiParams } from '../src/providers/gemini-models.js';
import { estimateGeminiCost, geminiActualCost } from '../src/providers/gemini-pricing.js';
import { ProviderError } from '../src/providers/retry.js';
import type { GenerateRequest } from '../src/providers/types.js';
import { ensureBuilt, runCli, tempProject, tinyManifest, generateKey } from './support/cli-run.js';
import { startFakeGemini, type FakeGemini } from './support/fake-gemini.js';
import { callContext as context, failure } from './support/provider-calls.js';

const KEY = 'AIzaSyTEST-gpt4k-SECRET-0123456789abcdef';
const saved = { key: process.env.GEMINI_API_KEY, url: process.env.GOOGLE_GEMINI_BASE_URL };
let api: FakeGemini;

beforeAll(async () => {
  api = await startFakeGemini({ apiKey: KEY });
});
beforeEach(() => {
  api.reset();
  process.env.GEMINI_API_KEY = KEY;
  process.env.GOOGLE_GEMINI_BASE_URL = api.url;
});
afterAll(async () => {
  await api.close();
  restore('GEMINI_API_KEY', saved.key);
  restore('GOOGLE_GEMINI_BASE_URL', saved.url);
});

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function params(overrides: Partial<GenerateParams> = {}, options: Record<string, unknown> = {}): GenerateParams {
  return {
    provider: 'gemini',
    model: 'gemini-2.5-flash-image',
    size: '1536x1024',
    quality: 'high',
    ...overrides,
    options: { retryBaseDelayMs: 5, retryMaxDelayMs: 200, ...overrides.options, ...options },
  };
}

function request(p: GenerateParams, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  const [w, h] = p.size.split('x').map(Number);
  return { assetId: 'hero', prompt: 'A teal coffee bag on white', params: p, width: w || 1024, height: h || 1024, ...extra };
}

function expectNoKey(...things: unknown[]): void {
  for (const thing of things) {
    const text = `${JSON.stringify(thing) ?? ''}${inspect(thing, { depth: 10, showHidden: true })}`;
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('SECRET-0123456789');
  }
}

describe('gemini: requests through the real SDK', () => {
  it('sends generateContent with IMAGE modality and the mapped aspect ratio, through GOOGLE_GEMINI_BASE_URL', async () => {
    const result = await geminiProvider.generate(request(params({ seed: 42 })), context());
    expect(api.requests).toHaveLength(1);
    const sent = api.requests[0]!;
    expect(sent.path).toBe('/v1beta/models/gemini-2.5-flash-image:generateContent');
    expect(sent.headers['x-goog-api-key']).toBe(KEY);
    expect(sent.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'A teal coffee bag on white' }] }],
      generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '3:2' }, seed: 42 },
    });
    // gemini-2.5-flash-image has one resolution: no imageSize is sent.
    expect((sent.body!['generationConfig'] as Record<string, unknown>)['imageConfig']).not.toHaveProperty('imageSize');
    const meta = await sharp(result.image).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 1024, 683]);
    expect(result.requests).toBe(1);
    expect(result.meta).toMatchObject({ provider: 'gemini', model: 'gemini-2.5-flash-image', imageConfig: { aspectRatio: '3:2' }, seed: 42, responseIds: ['fake-0'] });
    // 10 prompt tokens at $0.30/1M + 1290 image tokens at $30/1M.
    expect(result.costUsd).toBeCloseTo((10 * 0.3 + 1290 * 30) / 1e6, 6);
    expectNoKey(result.meta);
  });

  it('asks the Gemini 3 models for the smallest resolution class that covers the size', async () => {
    await geminiProvider.generate(request(params({ model: 'gemini-3-pro-image-preview', size: '1920x1080' })), context());
    await geminiProvider.generate(request(params({ model: 'gemini-3.1-flash-image-preview', size: '512x512' })), context());
    await geminiProvider.generate(request(params({ model: 'gemini-3-pro-image-preview', size: '1024x1024' }, { imageSize: '4K', aspectRatio: '4:5' })), context());
    const configs = api.requests.map((r) => (r.body!['generationConfig'] as Record<string, unknown>)['imageConfig']);
    expect(configs).toEqual([
      { aspectRatio: '16:9', imageSize: '2K' },
      { aspectRatio: '1:1', imageSize: '512' },
      { aspectRatio: '4:5', imageSize: '4K' },
    ]);
  });

  it('passes the style reference as an inline PNG part before the prompt', async () => {
    const reference = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0a7' } }).png().toBuffer();
    const result = await geminiProvider.generate(request(params(), { reference: { assetId: 'hero', image: reference }, assetId: 'sku' }), context());
    const parts = (api.requests[0]!.body!['contents'] as Array<{ parts: Array<Record<string, unknown>> }>)[0]!.parts;
    expect(parts).toHaveLength(2);
    expect(parts[0]).toMatchObject({ inlineData: { mimeType: 'image/png' } });
    expect(Buffer.from((parts[0]!['inlineData'] as { data: string }).data, 'base64').equals(reference)).toBe(true);
    expect(parts[1]).toEqual({ text: 'A teal coffee bag on white' });
    expect(result.meta['referenceAsset']).toBe('hero');
  });

  it('reaches the server named by options.baseUrl, and reads the key from apiKeyEnv', async () => {
    process.env.GOOGLE_GEMINI_BASE_URL = 'http://127.0.0.1:9';
    process.env.STUDIO_GEMINI_KEY = KEY;
    delete process.env.GEMINI_API_KEY;
    try {
      const result = await geminiProvider.generate(request(params({}, { baseUrl: api.url, apiKeyEnv: 'STUDIO_GEMINI_KEY' })), context());
      expect(result.requests).toBe(1);
    } finally {
      delete process.env.STUDIO_GEMINI_KEY;
    }
  });
});

describe('gemini: the API key', () => {
  it('says exactly what to set when the key is missing, and sends nothing', async () => {
    delete process.env.GEMINI_API_KEY;
    const err = await failure(geminiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_NO_API_KEY');
    expect(err.message).toBe('no Gemini API key: the environment variable GEMINI_API_KEY is not set');
    expect(err.hint).toContain('export GEMINI_API_KEY=');
    expect(err.haltsProvider).toBe(true);
    expect(api.requests).toHaveLength(0);
    const named = await failure(geminiProvider.generate(request(params({}, { apiKeyEnv: 'TEAM_KEY' })), context()));
    expect(named.hint).toContain('set TEAM_KEY (named by generate.options.apiKeyEnv)');
  });

  it('a wrong key (400 API_KEY_INVALID) halts the provider, sent once, key nowhere', async () => {
    process.env.GEMINI_API_KEY = 'AIzaSyWRONG-key-000000000000';
    const err = await failure(geminiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_AUTH');
    expect(err.haltsProvider).toBe(true);
    expect(api.requests).toHaveLength(1);
    expectNoKey(err, (err as ProviderError).toJSON());
    expect(redact('key AIzaSyWRONG-key-000000000000 and ?key=abc', [])).toBe('key AIza[redacted] and ?key=[redacted]');
  });

  it('403 PERMISSION_DENIED halts the provider', async () => {
    api.script('permission_denied');
    const err = await failure(geminiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_AUTH');
    expect(err.message).toContain('HTTP 403 PERMISSION_DENIED');
    expect(err.haltsProvider).toBe(true);
    expect(api.requests).toHaveLength(1);
  });
});

describe('gemini: retries and blocks', () => {
  it('429 RESOURCE_EXHAUSTED waits the RetryInfo delay, then succeeds', async () => {
    api.script({ kind: 'rate_limit', retryDelay: '0.12s' }, 'ok');
    const retries: Array<{ delayMs: number; reason: string }> = [];
    const result = await geminiProvider.generate(request(params()), context(retries));
    expect(result.requests).toBe(2);
    expect(result.retries).toBe(1);
    expect(retries[0]?.delayMs).toBe(120);
    expect(retries[0]?.reason).toContain('HTTP 429 RESOURCE_EXHAUSTED');
    expect(api.requests[1]!.receivedAt - api.requests[0]!.receivedAt).toBeGreaterThanOrEqual(100);
  });

  it('500 INTERNAL and 503 UNAVAILABLE are retried', async () => {
    api.script(500, 503, 'ok');
    const result = await geminiProvider.generate(request(params()), context());
    expect(result.requests).toBe(3);
    expect(api.requests.map((r) => r.status)).toEqual([500, 503, 200]);
  });

  it('gives up after maxRetries, reporting the requests sent', async () => {
    api.script(() => ({ kind: 'status', status: 503 }));
    const err = await failure(geminiProvider.generate(request(params({}, { maxRetries: 2 })), context()));
    expect(err.code).toBe('E_PROVIDER_UNAVAILABLE');
    expect(err.message).toBe('server error (HTTP 503 UNAVAILABLE): The model is overloaded. Please try again later.');
    expect((err as ProviderError).requests).toBe(3);
  });

  it('a daily (or zero) quota is not retried and halts the provider', async () => {
    api.script('daily_quota');
    const err = await failure(geminiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_QUOTA');
    expect(err.haltsProvider).toBe(true);
    expect(api.requests).toHaveLength(1);
  });

  it('finishReason IMAGE_SAFETY: E_SAFETY_BLOCKED, sent once', async () => {
    api.script('image_safety');
    const err = await failure(geminiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_SAFETY_BLOCKED');
    // The SDK drops the API's finishMessage on the Gemini API path: the reason is what is left.
    expect(err.message).toBe('Gemini stopped without an image (finishReason IMAGE_SAFETY)');
    expect(err.hint).toMatch(/blocked by safety filters: reword the prompt/);
    expect(err.retryable).toBe(false);
    expect(api.requests).toHaveLength(1);
  });

  it('promptFeedback.blockReason: E_SAFETY_BLOCKED, sent once', async () => {
    api.script('prompt_blocked');
    const err = await failure(geminiProvider.generate(request(params()), context()));
    expect(err.code).toBe('E_SAFETY_BLOCKED');
    expect(err.message).toBe('Gemini blocked the prompt (blockReason SAFETY)');
    expect(api.requests).toHaveLength(1);
  });

  it('an answer with text but no image is retried', async () => {
    api.script('text_only', 'ok');
    const retries: Array<{ delayMs: number; reason: string }> = [];
    const result = await geminiProvider.generate(request(params()), context(retries));
    expect(result.requests).toBe(2);
    expect(retries[0]?.reason).toContain('Gemini answered without an image (finishReason STOP)');
  });

  it('a refused connection is retried and reported without the key', async () => {
    process.env.GOOGLE_GEMINI_BASE_URL = 'http://127.0.0.1:9';
    const err = await failure(geminiProvider.generate(request(params({}, { maxRetries: 1 })), context()));
    expect(err.code).toBe('E_CONNECTION');
    expect((err as ProviderError).requests).toBe(2);
    expectNoKey(err);
  });

  it('parses RetryInfo delays', () => {
    expect(parseRetryDelay('37s')).toBe(37_000);
    expect(parseRetryDelay('0.5s')).toBe(500);
    expect(parseRetryDelay('soon')).toBeUndefined();
  });
});

describe('gemini: validation and mapping', () => {
  const at = { file: 'assets.pipeline.yaml', line: 5, col: 3 };
  it('maps sizes to the nearest aspect; an aspect the model lacks is an error with the nearest choice', () => {
    expect(validateGeminiParams(params({ size: '1920x1080' }), at)).toEqual([]);
    expect(validateGeminiParams(params({ size: '1000x1414' }), at)).toEqual([]); // A-series portrait -> 2:3
    const wide = validateGeminiParams(params({ size: '3000x1000' }), at);
    expect(wide[0]).toMatchObject({
      code: 'E_UNSUPPORTED_ASPECT',
      message: expect.stringContaining('size "3000x1000" has aspect 3.00:1, which gemini-2.5-flash-image does not make'),
      hint: 'the nearest is 21:9: use size "1536x672", or set options.aspectRatio: "21:9" and let the renderer crop',
      at,
    });
    // The 3.1 flash model makes 4:1, so 4000x1000 is fine there and not on the Pro model.
    expect(validateGeminiParams(params({ model: 'gemini-3.1-flash-image-preview', size: '4000x1000' }), at)).toEqual([]);
    expect(validateGeminiParams(params({ model: 'gemini-3-pro-image-preview', size: '4000x1000' }), at)[0]?.code).toBe('E_UNSUPPORTED_ASPECT');
    expect(validateGeminiParams(params({}, { aspectRatio: '2:1' }), at)[0]).toMatchObject({ code: 'E_UNSUPPORTED_ASPECT', hint: 'the nearest is "16:9"' });
  });

  it('imageSize only where the model takes it, with a capital K', () => {
    expect(validateGeminiParams(params({}, { imageSize: '2K' }), at)[0]).toMatchObject({ code: 'E_UNSUPPORTED_OPTION' });
    expect(validateGeminiParams(params({ model: 'gemini-3-pro-image-preview' }, { imageSize: '2k' }), at)[0]).toMatchObject({
      hint: 'write it with a capital K: "2K"',
    });
    expect(validateGeminiParams(params({ model: 'gemini-3-pro-image-preview' }, { imageSize: '512' }), at)[0]?.code).toBe('E_INVALID_OPTION');
  });

  it('an OpenAI model inherited from defaults names the fix; typos get a suggestion', () => {
    expect(validateGeminiParams(params({ model: 'gpt-image-2' }), at)[0]).toMatchObject({
      code: 'E_UNKNOWN_MODEL',
      message: 'model "gpt-image-2" is an OpenAI model; the gemini provider needs a Gemini image model',
    });
    expect(validateGeminiParams(params({ model: 'gemini-2.5-flash-imag' }), at)[0]?.hint).toBe('did you mean "gemini-2.5-flash-image"?');
    expect(validateGeminiParams(params({}, { imagesize: '2K' }), at)[0]?.hint).toBe('did you mean "imageSize"?');
  });

  it('invalid parameters are refused before anything is sent', async () => {
    const err = await failure(geminiProvider.generate(request(params({ size: '3000x1000' })), context()));
    expect(err.code).toBe('E_INVALID_PARAMS');
    expect(api.requests).toHaveLength(0);
  });

  it('sizeForAspect gives the model\'s own size; imageConfig follows the size', () => {
    expect(geminiSizeForAspect('gemini-2.5-flash-image', 16 / 9)).toBe('1344x768');
    expect(geminiSizeForAspect('gemini-3-pro-image-preview', 2 / 3)).toBe('1696x2528');
    expect(geminiImageConfig(params({ model: 'gemini-3-pro-image-preview', size: '1696x2528' }), 1696, 2528)).toEqual({ aspectRatio: '2:3', imageSize: '2K' });
    expect(geminiImageConfig(params({ model: 'gemini-3-pro-image-preview', size: 'auto' }), 1024, 1024)).toEqual({});
  });
});

describe('gemini: the models of December 2026', () => {
  const check = (p: GenerateParams) => validateGeminiParams(p, { file: 'assets.pipeline.yaml', line: 3, col: 5 });

  it('Nano Banana 2 Lite (gemini-3.1-flash-lite-image) builds through the real SDK at 1K, its only resolution', async () => {
    const p = params({ model: 'gemini-3.1-flash-lite-image', size: '1376x768' });
    expect(check(p)).toEqual([]);
    expect(check({ ...p, model: 'gemini-3.1-flash-lite-image-preview' })).toEqual([]);
    const result = await geminiProvider.generate(request(p), context());
    expect(api.requests[0]?.status).toBe(200);
    expect(api.requests[0]?.path).toBe('/v1beta/models/gemini-3.1-flash-lite-image:generateContent');
    expect((api.requests[0]?.body?.['generationConfig'] as Record<string, unknown>)['imageConfig']).toEqual({ aspectRatio: '16:9', imageSize: '1K' });
    expect(result.image.length).toBeGreaterThan(0);
    expect(estimateGeminiCost(p)).toBe(0.034);
    const [d] = check(params({ model: 'gemini-3.1-flash-lite-image' }, { imageSize: '2K' }));
    expect(d).toMatchObject({ code: 'E_INVALID_OPTION', severity: 'error' });
    expect(d?.message).toContain('(1K)');
  });

  it('the stable ids of Nano Banana Pro and Nano Banana 2 are known, and priced as their previews', () => {
    expect(check(params({ model: 'gemini-3-pro-image', size: '2752x1536' }))).toEqual([]);
    expect(check(params({ model: 'gemini-3.1-flash-image', size: '2048x512' }))).toEqual([]);
    expect(estimateGeminiCost(params({ model: 'gemini-3-pro-image', size: '4096x4096' }))).toBe(
      estimateGeminiCost(params({ model: 'gemini-3-pro-image-preview', size: '4096x4096' })),
    );
  });

  it('a newer Gemini image model is usable: warnings only, sent as written', async () => {
    const diagnostics = check(params({ model: 'gemini-4-flash-image', size: '2048x512' }));
    expect(diagnostics.length).toBeGreaterThan(1);
    expect(diagnostics.every((d) => d.severity === 'warning' && d.code === 'W_UNKNOWN_MODEL')).toBe(true);
    expect(diagnostics.map((d) => d.message).join('\n')).toContain('E_UNSUPPORTED_ASPECT');
  });

  it('several references go in as inline parts, in order, before the prompt', async () => {
    const a = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#123' } }).png().toBuffer();
    const b = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#456' } }).jpeg().toBuffer();
    const references = [{ assetId: 'hero', image: a }, { assetId: 'bottle-front.jpg', image: b, contentType: 'image/jpeg' as const }];
    const result = await geminiProvider.generate(request(params(), { references }), context());
    const parts = (api.requests[0]!.body!['contents'] as Array<{ parts: Array<Record<string, unknown>> }>)[0]!.parts;
    expect(parts.map((p) => (p['inlineData'] as { mimeType?: string } | undefined)?.mimeType ?? 'text')).toEqual(['image/png', 'image/jpeg', 'text']);
    expect(result.meta).toMatchObject({ referenceAsset: 'hero', referenceAssets: ['hero', 'bottle-front.jpg'] });
  });
});

describe('gemini: pricing', () => {
  it('estimates from the table by resolution class, with manifest overrides', () => {
    expect(estimateGeminiCost(params())).toBe(0.039);
    expect(estimateGeminiCost(params({ model: 'gemini-3-pro-image-preview', size: '1536x1024' }))).toBe(0.134);
    expect(estimateGeminiCost(params({ model: 'gemini-3-pro-image-preview', size: '4096x4096' }))).toBe(0.24);
    expect(estimateGeminiCost(params({ model: 'gemini-3.1-flash-image-preview', size: '512x512' }))).toBe(0.045);
    expect(estimateGeminiCost(params({ model: 'gemini-3-pro-image-preview', size: '4096x4096' }), { gemini: { 'gemini-3-pro-image-preview': { '4K': 0.2 } } })).toBe(0.2);
    expect(estimateGeminiCost(params(), { gemini: 0.01 })).toBe(0.01);
    expect(geminiProvider.estimateCostUsd(params({ model: 'gemini-3.1-flash-image-preview', size: '2048x2048' }))).toBe(0.101);
    expect(geminiActualCost(params(), undefined, undefined, 1536, 1024)).toBe(0.039);
  });
});

describe('gemini: cache key and plan', () => {
  it('changes with the provider and each parameter, and not otherwise', async () => {
    const base = '{ provider: gemini, model: gemini-3-pro-image-preview, size: 1376x768, seed: 3, options: { imageSize: "2K" } }';
    const dir = await tempProject({});
    try {
      const key = await generateKey(dir, base);
      expect(await generateKey(dir, base)).toBe(key);
      const variants = [
        // Another provider takes other options: validation rejects imageSize on openai.
        base.replace('provider: gemini', 'provider: openai').replace('gemini-3-pro-image-preview', 'gpt-image-2').replace('1376x768', '1536x1024').replace(', options: { imageSize: "2K" }', ''),
        base.replace('gemini-3-pro-image-preview', 'gemini-3.1-flash-image-preview'),
        base.replace('1376x768', '768x1376'),
        base.replace('seed: 3', 'seed: 4'),
        base.replace('"2K"', '"4K"'),
      ];
      const keys = new Set([key]);
      for (const variant of variants) keys.add(await generateKey(dir, variant));
      expect(keys.size).toBe(variants.length + 1);

      await writeFile(path.join(dir, 'assets.pipeline.yaml'), tinyManifest(base));
      const reloaded = await loadManifest(path.join(dir, 'assets.pipeline.yaml'));
      if (!reloaded.ok) throw new Error('manifest');
      const planned = await plan(reloaded.value);
      expect(planned.nodes.find((n) => n.id === 'hero/generate')?.estimatedCostUsd).toBe(0.134);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('gemini: end to end through the CLI', () => {
  it('builds the deliverable and reports the provider call', async () => {
    await ensureBuilt(['src/providers/gemini.ts', 'src/providers/gemini-models.ts', 'src/providers/gemini-pricing.ts', 'src/providers/registry.ts', 'src/cli/main.ts']);
    const dir = await tempProject({ 'assets.pipeline.yaml': tinyManifest('{ provider: gemini, model: gemini-3.1-flash-image-preview, size: 64x64 }') });
    try {
      const run = await runCli(['build', '--json'], dir, { GEMINI_API_KEY: KEY, GOOGLE_GEMINI_BASE_URL: api.url });
      expect(run.code, run.stderr + run.stdout).toBe(0);
      const png = await sharp(path.join(dir, 'out/hero/thumb.png')).metadata();
      expect([png.width, png.height]).toEqual([64, 64]);
      const report = JSON.parse(await readFile(path.join(dir, 'out/pipeline_report.json'), 'utf8')) as { summary: { providerCalls: number; failed: number; costUsd: number } };
      expect(report.summary).toMatchObject({ providerCalls: 1, failed: 0 });
      expect(report.summary.costUsd).toBeGreaterThan(0);
      expect(api.requests).toHaveLength(1);
      expect((api.requests[0]!.body!['generationConfig'] as Record<string, unknown>)['imageConfig']).toEqual({ aspectRatio: '1:1', imageSize: '512' });
      expect(JSON.stringify(report)).not.toContain(KEY);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
