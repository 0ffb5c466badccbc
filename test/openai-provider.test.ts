/**
 * The openai provider, driven through the real OpenAI SDK against the images-API stand-in
 * (a real HTTP server). Nothing in-process is mocked.
 */

import { inspect } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GenerateParams } from '../src/manifest/types.js';
import { openaiProvider, checkImage, redact } from '../src/providers/openai.js';
import { chooseSizeForAspect, OPENAI_MODELS, validateOpenAiParams } from '../src/providers/openai-models.js';
import { estimateOpenAiCost, openAiActualCost, openAiEstimateBasis } from '../src/providers/pricing.js';
import { backoffDelayMs, parseRetryAfter, ProviderError, withRetry } from '../src/providers/retry.js';
import type { GenerateContext, GenerateRequest, GenerateResult } from '../src/providers/types.js';
import { GptError } from '../src/util/errors.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { failure } from './support/provider-calls.js';

const KEY = 'sk-test-gpt4k-SECRET-0123456789abcdef';
const savedEnv = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL };

let api: FakeOpenAI;

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});

beforeEach(() => {
  api.reset();
  process.env.OPENAI_API_KEY = KEY;
  process.env.OPENAI_BASE_URL = api.url;
});

afterAll(async () => {
  await api.close();
  restoreEnv('OPENAI_API_KEY', savedEnv.key);
  restoreEnv('OPENAI_BASE_URL', savedEnv.url);
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function params(overrides: Partial<GenerateParams> = {}, options: Record<string, unknown> = {}): GenerateParams {
  return {
    provider: 'openai',
    model: 'gpt-image-2',
    size: '1024x1024',
    quality: 'low',
    ...overrides,
    // Small delays keep the suite fast; the defaults are tested separately.
    options: { retryBaseDelayMs: 5, retryMaxDelayMs: 2000, ...overrides.options, ...options },
  };
}

function request(p: GenerateParams = params(), extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { assetId: 'hero', prompt: 'A teal coffee bag on white', params: p, width: 1024, height: 1024, ...extra };
}

interface Probe {
  context: GenerateContext;
  retries: Array<{ attempt: number; delayMs: number; reason: string }>;
  rateCalls: () => number;
  controller: AbortController;
}

function probe(pricing?: Record<string, unknown>): Probe {
  const controller = new AbortController();
  const retries: Probe['retries'] = [];
  let rate = 0;
  return {
    controller,
    retries,
    rateCalls: () => rate,
    context: {
      signal: controller.signal,
      projectRoot: process.cwd(),
      onRetry: (info) => retries.push(info),
      acquireRate: async () => {
        rate++;
      },
      pricing,
    },
  };
}

function expectNoKey(...things: unknown[]): void {
  for (const thing of things) {
    const texts = [
      JSON.stringify(thing) ?? '',
      inspect(thing, { depth: 10, showHidden: true }),
      thing instanceof Error ? `${thing.message}\n${thing.stack ?? ''}` : '',
    ];
    for (const text of texts) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain('SECRET-0123456789');
    }
  }
}

describe('openai provider: requests', () => {
  it('sends a generation with the parameters as documented, through OPENAI_BASE_URL', async () => {
    const p = probe();
    const result = await openaiProvider.generate(
      request(
        params(
          { size: '1536x1024', quality: 'high' },
          { background: 'opaque', output_format: 'webp', output_compression: 80, moderation: 'low' },
        ),
      ),
      p.context,
    );
    expect(api.requests).toHaveLength(1);
    const sent = api.requests[0]!;
    expect(sent.path).toBe('/v1/images/generations');
    expect(sent.headers['authorization']).toBe(`Bearer ${KEY}`);
    expect(sent.body).toEqual({
      model: 'gpt-image-2',
      prompt: 'A teal coffee bag on white',
      size: '1536x1024',
      quality: 'high',
      n: 1,
      background: 'opaque',
      output_format: 'webp',
      output_compression: 80,
      moderation: 'low',
    });
    expect(sent.body).not.toHaveProperty('response_format');

    const meta = await sharp(result.image).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 1536, 1024]);
    expect(result.revisedPrompt).toBe('A teal coffee bag on white (revised)');
    expect(result.usage).toMatchObject({ output_tokens: 6240 });
    expect(result.requests).toBe(1);
    expect(result.retries).toBe(0);
    expect(p.rateCalls()).toBe(1);
    expect(result.meta).toMatchObject({
      model: 'gpt-image-2',
      size: '1536x1024',
      quality: 'high',
      output_format: 'webp',
      endpoint: 'images/generations',
      requestIds: ['req_fake_0'],
      output: { format: 'webp', width: 1536, height: 1024 },
    });
    // 6240 image output tokens at $30/1M plus the prompt's text tokens at $5/1M.
    expect(result.costUsd).toBeCloseTo((6240 * 30 + 7 * 5) / 1e6, 6);
    expectNoKey(result.meta, { ...result, image: undefined });
  });

  it('reaches a gateway named by the baseURL option', async () => {
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9/v1'; // nothing listens there
    const result = await openaiProvider.generate(request(params({}, { baseURL: api.url })), probe().context);
    expect(result.requests).toBe(1);
    expect(api.requests).toHaveLength(1);
  });

  it('sends a style reference through images.edit as multipart with the PNG', async () => {
    const reference = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#0a7' } })
      .png()
      .toBuffer();
    const result = await openaiProvider.generate(
      request(params({ quality: 'medium' }, { moderation: 'low', input_fidelity: 'high' }), {
        reference: { assetId: 'hero', image: reference },
        assetId: 'sku-001',
      }),
      probe().context,
    );
    expect(api.requestsTo('edits')).toHaveLength(1);
    expect(api.requestsTo('generations')).toHaveLength(0);
    const sent = api.requests[0]!;
    expect(String(sent.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    expect(sent.body).toMatchObject({
      model: 'gpt-image-2',
      prompt: 'A teal coffee bag on white',
      size: '1024x1024',
      quality: 'medium',
      n: '1',
      input_fidelity: 'high',
    });
    expect(sent.body).not.toHaveProperty('moderation'); // the edits endpoint has none
    expect(sent.body).not.toHaveProperty('response_format');
    expect(sent.files).toHaveLength(1);
    expect(sent.files[0]).toMatchObject({ field: 'image', filename: 'hero.png', contentType: 'image/png' });
    expect(sent.files[0]!.bytes.equals(reference)).toBe(true);
    expect(result.meta).toMatchObject({ endpoint: 'images/edits', referenceAsset: 'hero' });
  });

  it('resolves size auto-from-targets from the request aspect before sending', async () => {
    await openaiProvider.generate(
      request(params({ size: 'auto-from-targets' }), { width: 3840, height: 2160 }),
      probe().context,
    );
    expect(api.requests[0]?.body?.['size']).toBe('2560x1440');
  });

  it('sends nothing when the parameters are invalid', async () => {
    const err = await failure(openaiProvider.generate(request(params({ quality: 'hd' })), probe().context));
    expect(err.code).toBe('E_INVALID_PARAMS');
    expect(err.hint).toBe('use "high"');
    const err2 = await failure(
      openaiProvider.generate(request(params({}, { response_format: 'b64_json' })), probe().context),
    );
    expect(err2.code).toBe('E_INVALID_PARAMS');
    expect(api.requests).toHaveLength(0);
  });
});

describe('openai provider: the API key', () => {
  it('says exactly what to set when the key is missing, and sends nothing', async () => {
    delete process.env.OPENAI_API_KEY;
    const err = await failure(openaiProvider.generate(request(), probe().context));
    expect(err.code).toBe('E_NO_API_KEY');
    expect(err.haltsProvider).toBe(true);
    expect(err.message).toContain('OPENAI_API_KEY');
    expect(err.hint).toContain('set OPENAI_API_KEY');
    expect(api.requests).toHaveLength(0);
  });

  it('reads the key from the variable named by apiKeyEnv', async () => {
    delete process.env.OPENAI_API_KEY;
    delete process.env.GPT4K_TEST_OPENAI_KEY;
    const named = params({}, { apiKeyEnv: 'GPT4K_TEST_OPENAI_KEY' });
    const err = await failure(openaiProvider.generate(request(named), probe().context));
    expect(err.code).toBe('E_NO_API_KEY');
    expect(err.hint).toContain('set GPT4K_TEST_OPENAI_KEY');
    process.env.GPT4K_TEST_OPENAI_KEY = KEY;
    try {
      const result = await openaiProvider.generate(request(named), probe().context);
      expect(result.requests).toBe(1);
      expect(api.requests.at(-1)?.headers['authorization']).toBe(`Bearer ${KEY}`);
    } finally {
      delete process.env.GPT4K_TEST_OPENAI_KEY;
    }
  });

  it('401: sent once, halts the provider, and the key (which the API quotes) is nowhere in the error', async () => {
    api.script('invalid_api_key');
    const p = probe();
    const err = await failure(openaiProvider.generate(request(), p.context));
    expect(api.requests).toHaveLength(1);
    expect(err.code).toBe('E_AUTH');
    expect(err.haltsProvider).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).status).toBe(401);
    expect((err as ProviderError).requests).toBe(1);
    expect(err.message).toContain('Incorrect API key provided');
    expect(err.cause).toBeUndefined();
    expect(p.retries).toHaveLength(0);
    expectNoKey(err);
  });

  it('a wrong key is refused by the server the same way', async () => {
    process.env.OPENAI_API_KEY = 'sk-wrong-key-that-must-not-leak-42';
    const err = await failure(openaiProvider.generate(request(), probe().context));
    expect(err.code).toBe('E_AUTH');
    expect(JSON.stringify(err)).not.toContain('sk-wrong-key-that-must-not-leak-42');
    expect(err.message).not.toContain('must-not-leak');
  });

  it('redact removes the key and key-shaped text', () => {
    expect(redact(`key ${KEY} and sk-proj-****abcd and Bearer xyz`, [KEY])).toBe(
      'key [redacted] and sk-[redacted] and Bearer [redacted]',
    );
  });
});

describe('openai provider: retries', () => {
  it('429 with retry-after: waits what the server asks, then succeeds', async () => {
    api.script({ kind: 'rate_limit', retryAfter: 1 }, 'ok');
    const p = probe();
    const started = Date.now();
    const result = await openaiProvider.generate(request(), p.context);
    const elapsed = Date.now() - started;
    expect(api.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(p.retries).toHaveLength(1);
    expect(p.retries[0]).toMatchObject({ attempt: 1, delayMs: 1000 });
    expect(p.retries[0]!.reason).toContain('rate_limit_exceeded');
    expect(result.requests).toBe(2);
    expect(result.retries).toBe(1);
    expect(p.rateCalls()).toBe(2); // every request actually sent waits for the rate limit
    const gap = api.requests[1]!.receivedAt - api.requests[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(900);
  });

  it('429 with retry-after-ms is preferred, and capped by retryMaxDelayMs', async () => {
    api.script({ kind: 'rate_limit', retryAfterMs: 150, retryAfter: 30 }, { kind: 'rate_limit', retryAfter: 30 }, 'ok');
    const p = probe();
    const result = await openaiProvider.generate(request(params({}, { retryMaxDelayMs: 200 })), p.context);
    expect(result.requests).toBe(3);
    expect(p.retries.map((r) => r.delayMs)).toEqual([150, 200]);
  });

  it('500 and 503 are retried, then the image arrives', async () => {
    api.script(500, 503, 'ok');
    const p = probe();
    const result = await openaiProvider.generate(request(), p.context);
    expect(api.requests.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(result.retries).toBe(2);
    expect(result.requests).toBe(3);
    expect(p.retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(result.meta['requestIds']).toEqual(['req_fake_0', 'req_fake_1', 'req_fake_2']);
  });

  it('408 and 409 are retried', async () => {
    api.script(408, 409, 'ok');
    const result = await openaiProvider.generate(request(), probe().context);
    expect(result.requests).toBe(3);
  });

  it('a 200 whose image is truncated is retried', async () => {
    api.script('truncated', 'ok');
    const p = probe();
    const result = await openaiProvider.generate(request(), p.context);
    expect(api.requests.map((r) => r.behaviour)).toEqual(['truncated', 'ok']);
    expect(result.retries).toBe(1);
    expect(p.retries[0]!.reason).toContain('does not decode');
    expect((await sharp(result.image).metadata()).width).toBe(1024);
  });

  it('a 200 whose body is not JSON is retried', async () => {
    api.script('not_json', 'ok');
    const result = await openaiProvider.generate(request(), probe().context);
    expect(result.requests).toBe(2);
  });

  it('a timeout is retried', async () => {
    api.script('hang', 'ok');
    const p = probe();
    const result = await openaiProvider.generate(request(params({}, { timeoutMs: 300 })), p.context);
    expect(api.requests).toHaveLength(2);
    expect(api.requests[0]!.clientClosed).toBe(true);
    expect(result.retries).toBe(1);
    expect(p.retries[0]!.reason).toContain('did not answer within 300 ms');
  });

  it('gives up after maxRetries, reporting how many requests were sent', async () => {
    api.script(500, 500, 500, 500);
    const err = await failure(openaiProvider.generate(request(params({}, { maxRetries: 2 })), probe().context));
    expect(api.requests).toHaveLength(3);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.code).toBe('E_PROVIDER_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect((err as ProviderError).requests).toBe(3);
    expect((err as ProviderError).retries).toBe(2);
    expect(err.message).toContain('HTTP 500');
  });

  it('moderation_blocked: sent once, and the message says so', async () => {
    api.script('moderation_blocked');
    const p = probe();
    const err = await failure(openaiProvider.generate(request(), p.context));
    expect(api.requests).toHaveLength(1);
    expect(err.code).toBe('E_MODERATION_BLOCKED');
    expect(err.message).toContain('blocked by OpenAI\'s moderation');
    expect(err.hint).toContain('reword');
    expect(err.retryable).toBe(false);
    expect(err.haltsProvider).toBe(false);
    expect(p.retries).toHaveLength(0);
  });

  it('other 400s are not retried', async () => {
    api.script({ kind: 'status', status: 400, body: { error: { message: 'bad size', type: 'invalid_request_error', param: 'size', code: 'invalid_value' } } });
    const err = await failure(openaiProvider.generate(request(), probe().context));
    expect(api.requests).toHaveLength(1);
    expect(err.code).toBe('E_BAD_REQUEST');
    expect(err.message).toContain('parameter size');
  });

  it('429 insufficient_quota: sent once, halts the provider', async () => {
    api.script('insufficient_quota');
    const err = await failure(openaiProvider.generate(request(), probe().context));
    expect(api.requests).toHaveLength(1);
    expect(err.code).toBe('E_QUOTA');
    expect(err.haltsProvider).toBe(true);
    expect(err.retryable).toBe(false);
  });

  it('abort stops a request in flight at once', async () => {
    api.script('hang');
    const p = probe();
    const started = Date.now();
    setTimeout(() => p.controller.abort(), 100);
    const err = await failure(openaiProvider.generate(request(params({}, { timeoutMs: 60_000 })), p.context));
    expect(err.code).toBe('E_CANCELLED');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(api.requests).toHaveLength(1);
  });

  it('abort stops the wait between retries at once', async () => {
    api.script({ kind: 'rate_limit', retryAfter: 30 });
    const p = probe();
    const started = Date.now();
    setTimeout(() => p.controller.abort(), 150);
    const err = await failure(
      openaiProvider.generate(request(params({}, { retryMaxDelayMs: 30_000 })), p.context),
    );
    expect(err.code).toBe('E_CANCELLED');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(api.requests).toHaveLength(1);
  });

  it('an already aborted signal sends nothing', async () => {
    const p = probe();
    p.controller.abort();
    const err = await failure(openaiProvider.generate(request(), p.context));
    expect(err.code).toBe('E_CANCELLED');
    expect(api.requests).toHaveLength(0);
  });

  it('a connection refused is retried, then reported without the key', async () => {
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9/v1';
    const p = probe();
    const err = await failure(openaiProvider.generate(request(params({}, { maxRetries: 1 })), p.context));
    expect(err.code).toBe('E_CONNECTION');
    expect(p.retries).toHaveLength(1);
    expectNoKey(err);
  });
});

describe('retry policy', () => {
  it('backoff is full jitter under an exponential ceiling, capped', () => {
    const limits = { baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect(backoffDelayMs(1, limits, undefined, () => 0.999)).toBe(999);
    expect(backoffDelayMs(3, limits, undefined, () => 0.5)).toBe(2000);
    expect(backoffDelayMs(10, limits, undefined, () => 0.999)).toBe(59_940);
    expect(backoffDelayMs(1, limits, 120_000)).toBe(60_000);
    expect(backoffDelayMs(1, limits, 250)).toBe(250);
  });

  it('parses retry-after-ms, retry-after seconds and HTTP dates', () => {
    const h = (entries: Record<string, string>) => new Headers(entries);
    expect(parseRetryAfter(h({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
    expect(parseRetryAfter(h({ 'retry-after': '2' }))).toBe(2000);
    expect(parseRetryAfter(h({ 'retry-after': '0.5' }))).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3000);
    expect(parseRetryAfter(h({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(parseRetryAfter(h({}))).toBeUndefined();
  });

  it('withRetry stops at a non-retryable error and after maxAttempts', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new GptError('E_X', 'no', { retryable: false });
        },
        { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
      ),
    ).rejects.toThrow('no');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new GptError('E_X', 'again', { retryable: true });
        },
        { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 },
      ),
    ).rejects.toThrow('again');
    expect(calls).toBe(4);
  });
});

describe('validation', () => {
  const codes = (p: GenerateParams) => validateOpenAiParams(p, { file: 'assets.pipeline.yaml', line: 3, col: 5 });

  it('accepts a plain gpt-image-2 request', () => {
    expect(codes(params({ size: '2560x1440', quality: 'high' }, { output_format: 'png' }))).toEqual([]);
    expect(codes(params({ size: 'auto', quality: 'auto' }))).toEqual([]);
    expect(codes(params({ size: 'auto-from-targets' }))).toEqual([]);
  });

  it('retired qualities: hd -> high, standard -> medium', () => {
    const [hd] = codes(params({ quality: 'hd' }));
    expect(hd).toMatchObject({ code: 'E_INVALID_QUALITY', severity: 'error', hint: 'use "high"' });
    expect(hd?.at).toEqual({ file: 'assets.pipeline.yaml', line: 3, col: 5 });
    expect(codes(params({ quality: 'standard' }))[0]?.hint).toBe('use "medium"');
    expect(codes(params({ quality: 'hihg' }))[0]?.hint).toContain('did you mean "high"');
  });

  it('response_format is refused with the fix', () => {
    const [d] = codes(params({}, { response_format: 'b64_json' }));
    expect(d).toMatchObject({ severity: 'error', hint: 'GPT image models always return base64; remove it' });
    expect(d?.message).toContain('response_format');
  });

  it('a size the model lacks gets the nearest valid size', () => {
    const [d] = codes(params({ model: 'gpt-image-1.5', size: '1792x1024' }));
    expect(d).toMatchObject({ code: 'E_INVALID_SIZE', severity: 'error' });
    expect(d?.message).toContain('1792x1024');
    expect(d?.hint).toContain('"1536x1024"');
    expect(codes(params({ model: 'gpt-image-1.5', size: '1024x1792' }))[0]?.hint).toContain('"1024x1536"');
    // gpt-image-2 makes 1792x1024 (multiples of 16, within the limits).
    expect(codes(params({ size: '1792x1024' }))).toEqual([]);
    expect(codes(params({ size: '1000x1000' }))[0]?.hint).toContain('"1008x1008"');
    expect(codes(params({ size: '4096x2160' }))[0]?.hint).toContain('"3840x2160"');
    const wide = codes(params({ size: '3200x800' }))[0];
    expect(wide?.message).toContain('aspect ratio');
    expect(codes(params({ size: 'big' }))[0]?.code).toBe('E_INVALID_SIZE');
  });

  it('sizes above 2560x1440 are experimental: a warning', () => {
    const [d] = codes(params({ size: '3840x2160' }));
    expect(d).toMatchObject({ code: 'W_EXPERIMENTAL_SIZE', severity: 'warning' });
    expect(d?.hint).toContain('2560x1440');
    expect(codes(params({ size: '2160x3840' }))[0]?.severity).toBe('warning');
  });

  it('unknown options get a did-you-mean; bad values name the value', () => {
    const [d] = codes(params({}, { backgroud: 'opaque' }));
    expect(d).toMatchObject({ code: 'E_UNKNOWN_OPTION', hint: 'did you mean "background"?' });
    expect(codes(params({}, { output_format: 'gif' }))[0]?.message).toContain('"gif"');
    expect(codes(params({}, { output_compression: 50 }))[0]?.message).toContain('output_compression');
    expect(codes(params({}, { n: 2 }))[0]?.code).toBe('E_RETIRED_OPTION');
  });

  it('models: dall-e is retired, typos get a suggestion, snapshots are known', () => {
    expect(codes(params({ model: 'dall-e-3' }))[0]?.code).toBe('E_UNSUPPORTED_MODEL');
    expect(codes(params({ model: 'gpt-imag-2' }))[0]?.hint).toBe('did you mean "gpt-image-2"?');
    expect(codes(params({ model: 'gpt-image-2-2026-04-21', size: '2048x1152' }))).toEqual([]);
    expect(codes(params({ model: 'gpt-image-1-mini', size: '1536x1024' }))).toEqual([]);
    expect(codes(params({ model: 'gpt-image-9' }))[0]?.severity).toBe('warning');
  });

  it('the provider exposes the same checks', () => {
    expect(openaiProvider.validate?.(params({ quality: 'hd' }), { projectRoot: process.cwd(), at: undefined, fieldAt: {} })[0]?.hint).toBe('use "high"');
  });
});

describe('the models of December 2026 (openai 7.60 types)', () => {
  const at = { file: 'assets.pipeline.yaml', line: 3, col: 5 };
  const check = (p: GenerateParams) => validateOpenAiParams(p, at);
  const png = () => sharp({ create: { width: 32, height: 32, channels: 3, background: '#a70' } }).png().toBuffer();

  it('quality max on gpt-image-2.5-sunburst builds; the server receives quality max and complexity', async () => {
    const p = params({ model: 'gpt-image-2.5-sunburst', size: '1536x1024', quality: 'max' }, { complexity: 'high' });
    expect(check(p)).toEqual([]);
    const result = await openaiProvider.generate(request(p), probe().context);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.status).toBe(200);
    expect(api.requests[0]?.body).toMatchObject({ model: 'gpt-image-2.5-sunburst', quality: 'max', complexity: 'high', size: '1536x1024' });
    expect(result.meta).toMatchObject({ quality: 'max', complexity: 'high', response: { quality: 'max' } });
    // Without complexity the request carries none (the model's default applies).
    await openaiProvider.generate(request(params({ model: 'gpt-image-2.6-flare', quality: 'xhigh' })), probe().context);
    expect(api.requests[1]?.body).toMatchObject({ model: 'gpt-image-2.6-flare', quality: 'xhigh' });
    expect(api.requests[1]?.body).not.toHaveProperty('complexity');
  });

  it('gpt-image-1 is refused before any request, naming the shut-down date and the successors', async () => {
    const [d, ...rest] = check(params({ model: 'gpt-image-1' }));
    expect(rest).toEqual([]);
    expect(d).toMatchObject({ code: 'E_UNSUPPORTED_MODEL', severity: 'error', at });
    expect(d?.message).toBe('model "gpt-image-1" was shut down on 2026-10-23: OpenAI no longer serves it');
    expect(d?.hint).toContain('use "gpt-image-2.5-sunburst" (finals) or "gpt-image-2.5-flare" (drafts)');
    const err = await failure(openaiProvider.generate(request(params({ model: 'gpt-image-1' })), probe().context));
    expect(err.code).toBe('E_INVALID_PARAMS');
    expect(err.message).toContain('shut down on 2026-10-23');
    expect(api.requests).toHaveLength(0);
    expect(check(params({ model: 'dall-e-3' }))[0]?.message).toContain('shut down on 2026-05-12');
    expect(check(params({ model: 'gpt-image-1-2025-04-15' }))[0]?.code).toBe('E_UNSUPPORTED_MODEL');
  });

  it('the stand-in answers a shut-down model the way the API does: 404 model_not_found, not retried', async () => {
    // What a build would meet if it skipped validation (an older gpt4k): sent once, a clear error.
    const client = new (await import('openai')).default({ apiKey: KEY, baseURL: api.url, maxRetries: 0 });
    await expect(client.images.generate({ model: 'gpt-image-1', prompt: 'x' })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    expect(api.requests).toHaveLength(1);
  });

  it('xhigh and max are 2.5/2.6 qualities: gpt-image-2 with xhigh is an error naming the models that take it', async () => {
    const [d] = check(params({ quality: 'xhigh' }));
    expect(d).toMatchObject({ code: 'E_INVALID_QUALITY', severity: 'error', at });
    expect(d?.message).toBe('quality "xhigh" is not a quality of gpt-image-2 (it takes low, medium, high, auto)');
    expect(d?.hint).toContain('use "high", or a model that takes "xhigh": gpt-image-2.6-sunburst');
    expect(d?.hint).toContain('gpt-image-2.5-sunburst');
    expect((await failure(openaiProvider.generate(request(params({ quality: 'max' })), probe().context))).code).toBe('E_INVALID_PARAMS');
    expect(api.requests).toHaveLength(0);
    expect(check(params({ model: 'gpt-image-2.5-flare-2026-09-08', quality: 'max', size: '2048x1152' }))).toEqual([]);
  });

  it('complexity: low/medium/high; a warning on a model not documented to take it', () => {
    expect(check(params({ model: 'gpt-image-2.5-sunburst' }, { complexity: 'extreme' }))[0]).toMatchObject({ code: 'E_INVALID_OPTION', severity: 'error' });
    const [w] = check(params({}, { complexity: 'low' }));
    expect(w).toMatchObject({ code: 'W_UNSUPPORTED_OPTION', severity: 'warning' });
    expect(w?.message).toContain('gpt-image-2 is not documented to take complexity');
  });

  it('16 references are one edit on gpt-image-2.5-sunburst, in order; 17 are refused before any request', async () => {
    const image = await png();
    const references = Array.from({ length: 16 }, (_, i) => ({ assetId: `ref${i}`, image }));
    const p = params({ model: 'gpt-image-2.5-sunburst', quality: 'high' });
    const result = await openaiProvider.generate(request(p, { references }), probe().context);
    expect(api.requestsTo('edits')).toHaveLength(1);
    const sent = api.requests[0]!;
    expect(sent.status).toBe(200);
    expect(sent.files.map((f) => f.filename)).toEqual(references.map((r) => `${r.assetId}.png`));
    expect(sent.files.every((f) => f.field === 'image' || f.field === 'image[]')).toBe(true);
    expect(result.meta).toMatchObject({ endpoint: 'images/edits', referenceAsset: 'ref0', referenceAssets: references.map((r) => r.assetId) });

    const seventeen = [...references, { assetId: 'ref16', image }];
    const err = await failure(openaiProvider.generate(request(p, { references: seventeen }), probe().context));
    expect(err.code).toBe('E_TOO_MANY_REFERENCES');
    expect(err.message).toBe('hero: 17 reference images are more than gpt-image-2.5-sunburst takes in one edit (at most 16)');
    expect(api.requests).toHaveLength(1);
    // Every table entry says how many an edit takes.
    expect(OPENAI_MODELS.filter((m) => m.status.kind === 'current').every((m) => m.maxReferenceImages === 16)).toBe(true);
  });

  it('estimates for xhigh and max: a conservative figure above high, marked as assumed; actual cost from usage', async () => {
    const at1k = (quality: string, model = 'gpt-image-2.5-sunburst') => params({ model, size: '1024x1024', quality });
    expect(estimateOpenAiCost(at1k('high'))).toBe(0.211);
    expect(estimateOpenAiCost(at1k('xhigh'))).toBe(0.422);
    expect(estimateOpenAiCost(at1k('max'))).toBe(0.633);
    expect(openaiProvider.estimateCostUsd(at1k('max', 'gpt-image-2.6-flare'))).toBe(0.633);
    // auto may pick max on these models, so a budget counts it as max; on gpt-image-2 as high.
    expect(estimateOpenAiCost(at1k('auto'))).toBe(0.633);
    expect(estimateOpenAiCost(at1k('auto', 'gpt-image-2'))).toBe(0.211);
    expect(openAiEstimateBasis(at1k('max'))).toBe('assumed');
    expect(openAiEstimateBasis(at1k('high'))).toBe('published');
    expect(openAiEstimateBasis(at1k('max'), { openai: { 'gpt-image-2.5-sunburst': { max: 0.5 } } })).toBe('override');
    expect(estimateOpenAiCost(at1k('max'), { openai: { 'gpt-image-2.5-sunburst': { max: 0.5 } } })).toBe(0.5);
    const result = await openaiProvider.generate(request(at1k('max')), probe().context);
    const usage = api.requests[0] && (result.usage as { output_tokens: number; input_tokens: number });
    expect(result.costUsd).toBeCloseTo((usage!.input_tokens * 5 + usage!.output_tokens * 30) / 1e6, 6);
  });

  it('an unknown future model is usable: warnings only, checked as its nearest relative, sent as written', async () => {
    const p = params({ model: 'gpt-image-2.7-sunburst', size: '1536x1024', quality: 'max' }, { complexity: 'medium' });
    const diagnostics = check(p);
    expect(diagnostics.map((d) => d.severity)).toEqual(['warning']);
    expect(diagnostics[0]).toMatchObject({ code: 'W_UNKNOWN_MODEL', at });
    expect(diagnostics[0]?.message).toContain('checking it as gpt-image-2.6-sunburst');
    const result = await openaiProvider.generate(request(p), probe().context);
    expect(api.requests[0]?.body).toMatchObject({ model: 'gpt-image-2.7-sunburst', quality: 'max', complexity: 'medium' });
    expect(result.image.length).toBeGreaterThan(0);
    expect(estimateOpenAiCost(p)).toBe(estimateOpenAiCost({ ...p, model: 'gpt-image-2.6-sunburst' }));
    // What the relative would refuse is a warning too, for the API to decide.
    const odd = check(params({ model: 'gpt-image-3', size: '4096x4096' }));
    expect(odd.every((d) => d.severity === 'warning')).toBe(true);
    expect(odd.map((d) => d.message).join('\n')).toContain('E_INVALID_SIZE');
    // A flare id is checked as a flare; a quality no GPT image model has is still an error.
    expect(check(params({ model: 'gpt-image-2.7-flare' }))[0]?.message).toContain('as gpt-image-2.6-flare');
    expect(check(params({ model: 'gpt-image-2.7-flare', quality: 'ultra' })).some((d) => d.severity === 'error')).toBe(true);
  });

  it('every table entry names its source and the date it was checked', () => {
    for (const model of OPENAI_MODELS) {
      expect(model.source.length, model.id).toBeGreaterThan(10);
      expect(model.checked, model.id).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });
});

describe('chooseSizeForAspect', () => {
  it('picks the largest non-experimental gpt-image-2 size for the aspect', () => {
    expect(chooseSizeForAspect('gpt-image-2', 16 / 9)).toBe('2560x1440');
    expect(chooseSizeForAspect('gpt-image-2', 9 / 16)).toBe('1440x2560');
    expect(chooseSizeForAspect('gpt-image-2', 1)).toBe('1920x1920');
  });

  it('matches an A3 portrait with bleed closely, within the experimental limit', () => {
    const aspect = 3578 / 5031;
    const size = chooseSizeForAspect('gpt-image-2', aspect);
    const [w, h] = size.split('x').map(Number) as [number, number];
    expect(w % 16).toBe(0);
    expect(h % 16).toBe(0);
    expect(w * h).toBeLessThanOrEqual(2560 * 1440);
    expect(w * h).toBeGreaterThan(3_500_000);
    expect(Math.abs(w / h / aspect - 1)).toBeLessThan(0.01);
  });

  it('clamps aspects beyond 3:1', () => {
    const [w, h] = chooseSizeForAspect('gpt-image-2', 8).split('x').map(Number) as [number, number];
    expect(w / h).toBeLessThanOrEqual(3);
    expect(w / h).toBeGreaterThan(2.9);
  });

  it('is the provider\'s sizeForAspect', () => {
    expect(openaiProvider.sizeForAspect?.(params(), 16 / 9)).toBe('2560x1440');
    expect(openaiProvider.sizeForAspect?.(params({ model: 'gpt-image-1' }), 16 / 9)).toBe('1536x1024');
  });

  it('picks among the fixed sizes of gpt-image-1', () => {
    expect(chooseSizeForAspect('gpt-image-1', 16 / 9)).toBe('1536x1024');
    expect(chooseSizeForAspect('gpt-image-1', 0.7)).toBe('1024x1536');
    expect(chooseSizeForAspect('gpt-image-1', 1.1)).toBe('1024x1024');
  });
});

describe('pricing', () => {
  it('estimates from the documented table', () => {
    expect(estimateOpenAiCost(params({ model: 'gpt-image-1', size: '1536x1024', quality: 'high' }))).toBe(0.25);
    expect(estimateOpenAiCost(params({ model: 'gpt-image-1-mini', size: '1024x1024', quality: 'low' }))).toBe(0.005);
    expect(estimateOpenAiCost(params({ size: '1024x1024', quality: 'high' }))).toBe(0.211);
    expect(openaiProvider.estimateCostUsd(params({ size: '1024x1536', quality: 'medium' }))).toBe(0.041);
    // auto quality prices as high; sizes off the table scale with pixels.
    expect(estimateOpenAiCost(params({ size: '1024x1024', quality: 'auto' }))).toBe(0.211);
    expect(estimateOpenAiCost(params({ size: '2048x1024', quality: 'high' }))).toBeCloseTo(0.422, 6);
    expect(estimateOpenAiCost(params({ size: 'auto-from-targets', quality: 'high' }))).toBeGreaterThan(0.211);
  });

  it('honours manifest overrides, nested or flat', () => {
    const high = params({ size: '1536x1024', quality: 'high' });
    expect(estimateOpenAiCost(high, { openai: { 'gpt-image-2': { high: { '1536x1024': 0.3 } } } })).toBe(0.3);
    expect(estimateOpenAiCost(high, { openai: { 'gpt-image-2': { high: 0.28 } } })).toBe(0.28);
    expect(estimateOpenAiCost(high, { openai: { 'gpt-image-2': 0.1 } })).toBe(0.1);
    expect(estimateOpenAiCost(high, { openai: 0.07 })).toBe(0.07);
    // An override for another size or model leaves the table in charge.
    expect(estimateOpenAiCost(high, { openai: { 'gpt-image-2': { high: { '1024x1024': 9 } } } })).toBe(0.165);
    expect(estimateOpenAiCost(high, { procedural: 0 })).toBe(0.165);
  });

  it('actual cost comes from usage tokens, or the override', () => {
    const p = params({ size: '1024x1024', quality: 'high' });
    const usage = { input_tokens: 10, input_tokens_details: { text_tokens: 10, image_tokens: 0 }, output_tokens: 4160 };
    expect(openAiActualCost(p, usage)).toBeCloseTo((10 * 5 + 4160 * 30) / 1e6, 6);
    expect(openAiActualCost(p, undefined)).toBe(0.211);
    expect(openAiActualCost(p, usage, { openai: { 'gpt-image-2': { tokens: { imageOutput: 40 } } } })).toBeCloseTo(
      (10 * 5 + 4160 * 40) / 1e6,
      6,
    );
    expect(openAiActualCost(p, usage, { openai: { 'gpt-image-2': 0.5 } })).toBe(0.5);
  });

  it('the provider reports the overridden cost for a real response', async () => {
    const result: GenerateResult = await openaiProvider.generate(
      request(params({ quality: 'high' })),
      probe({ openai: { 'gpt-image-2': { high: { '1024x1024': 0.33 } } } }).context,
    );
    expect(result.costUsd).toBe(0.33);
  });
});

describe('checkImage', () => {
  it('rejects a truncated PNG and accepts a whole one', async () => {
    const png = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    await expect(checkImage(png.toString('base64'))).resolves.toMatchObject({ format: 'png', width: 256 });
    const cut = png.subarray(0, Math.floor(png.length / 2)).toString('base64');
    await expect(checkImage(cut)).rejects.toMatchObject({ code: 'E_BAD_IMAGE', retryable: true });
    await expect(checkImage(Buffer.from('not an image').toString('base64'))).rejects.toMatchObject({
      code: 'E_BAD_IMAGE',
    });
    await expect(checkImage(undefined)).rejects.toMatchObject({ code: 'E_BAD_IMAGE' });
  });
});
