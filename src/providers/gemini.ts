/**
 * The `gemini` provider: Google's image models (the "Nano Banana" family: gemini-2.5-flash-image,
 * gemini-3.1-flash-image-preview, gemini-3-pro-image-preview) through the official `@google/genai`
 * SDK, `models.generateContent` with `responseModalities: [IMAGE]` and `imageConfig`
 * ({ aspectRatio, imageSize }, mapped from the manifest's size in gemini-models.ts).
 *
 * - Key: GEMINI_API_KEY, or the variable named by `options.apiKeyEnv`.
 * - Endpoint: `options.baseUrl`, else GOOGLE_GEMINI_BASE_URL (read by the SDK itself), else Google.
 * - The style's references go in as inline image parts, in order, before the prompt text.
 * - `seed` is sent as `generationConfig.seed` when the manifest sets one.
 *
 * Retries follow retry.ts, the one policy: 429 RESOURCE_EXHAUSTED and 5xx are retried, waiting
 * what the API's `google.rpc.RetryInfo.retryDelay` asks (the SDK's errors keep the body, not the
 * headers); a daily or zero quota halts the provider; 401/403 (UNAUTHENTICATED,
 * PERMISSION_DENIED) and an invalid key halt the provider; a safety block (promptFeedback.blockReason,
 * finishReason SAFETY / IMAGE_SAFETY / PROHIBITED_CONTENT ...) is E_SAFETY_BLOCKED and not retried.
 * The SDK's own retries are off (it has none unless httpOptions.retryOptions is set).
 */

import { ApiError, type GenerateContentResponse } from '@google/genai';
import { apiKeyProblem, readApiKey, type ApiKeySpec } from './api-key.js';
import type { GenerateParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import { geminiSizeForAspect, validateGeminiParams, GEMINI_TRANSPORT_OPTIONS } from './gemini-models.js';
import { geminiBaseUrl, geminiClient, geminiContentRequest } from './gemini-request.js';
import { estimateGeminiCost, geminiActualCost, type GeminiUsage } from './gemini-pricing.js';
import { cancelled, ProviderError, retrySettings, withRetry } from './retry.js';
import { checkImageBytes, clip, errnoCode, fromBase64, throwIfInvalid, type CheckedImage } from './self-hosted.js';
import { referenceImages, type GenerateContext, type GenerateRequest, type GenerateResult, type ImageProvider } from './types.js';

export const GEMINI_API_KEY: ApiKeySpec = { vendor: 'Gemini', defaultEnv: 'GEMINI_API_KEY', example: 'AIza', source: 'a key from https://aistudio.google.com/apikey' };
const SERVICE = 'the Gemini API';

/** Finish reasons that mean "blocked by safety or policy": never retried. */
const BLOCKING_FINISH = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'PROHIBITED_CONTENT',
  'IMAGE_PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
]);

export const geminiProvider: ImageProvider = {
  name: 'gemini',
  remote: true,
  // Key variable, endpoint, timeouts, retries and GPU pricing never change the image.
  transportOptions: GEMINI_TRANSPORT_OPTIONS,

  fingerprint(params: GenerateParams): Record<string, string> {
    return { provider: 'gemini', api: 'generateContent', model: params.model };
  },

  validate: (params, { at, fieldAt }) => validateGeminiParams(params, at, fieldAt),

  sizeForAspect(params: GenerateParams, aspect: number): string {
    return geminiSizeForAspect(params.model, aspect, params.modelDeclaration);
  },

  credentialProblem(params: GenerateParams): GptError | undefined {
    return apiKeyProblem(params.options, GEMINI_API_KEY);
  },

  estimateCostUsd(params: GenerateParams, pricing?: Record<string, unknown>): number {
    return estimateGeminiCost(params, pricing);
  },

  generate: generateWithGemini,
};

async function generateWithGemini(request: GenerateRequest, context: GenerateContext): Promise<GenerateResult> {
  const params = request.params;
  throwIfInvalid(request.assetId, validateGeminiParams(params, undefined));
  const apiKey = readApiKey(params.options, GEMINI_API_KEY);
  const settings = retrySettings(params.options);
  const client = geminiClient(apiKey, { baseUrl: geminiBaseUrl(params), timeoutMs: settings.timeoutMs });
  const { model, contents, config, imageConfig } = geminiContentRequest(request);
  const references = referenceImages(request);
  const secrets = [apiKey];

  let requests = 0;
  let retries = 0;
  const responseIds: string[] = [];

  const attempt = async (): Promise<{ response: GenerateContentResponse; image: CheckedImage }> => {
    await context.acquireRate?.();
    if (context.signal.aborted) throw cancelled();
    requests++;
    let response: GenerateContentResponse;
    try {
      response = await client.models.generateContent({ model, contents, config: { ...config, abortSignal: context.signal } });
    } catch (err) {
      throw geminiErrorFrom(err, secrets, settings.timeoutMs, context.signal);
    }
    if (response.responseId) responseIds.push(response.responseId);
    return { response, image: await imageOf(response) };
  };

  try {
    const { response, image } = await withRetry(attempt, {
      maxAttempts: settings.maxAttempts,
      baseDelayMs: settings.baseDelayMs,
      maxDelayMs: settings.maxDelayMs,
      signal: context.signal,
      onRetry: (info) => {
        retries++;
        context.onRetry?.(info);
      },
    });
    const usage = response.usageMetadata as GeminiUsage | undefined;
    return {
      image: image.bytes,
      usage: usage as Record<string, unknown> | undefined,
      costUsd: geminiActualCost(params, usage, context.pricing, request.width, request.height),
      requests,
      retries,
      meta: {
        provider: 'gemini',
        endpoint: 'models.generateContent',
        model: params.model,
        ...(response.modelVersion ? { modelVersion: response.modelVersion } : {}),
        imageConfig,
        ...(params.seed !== undefined ? { seed: params.seed } : {}),
        referenceAsset: references[0]?.assetId,
        ...(references.length > 1 ? { referenceAssets: references.map((r) => r.assetId) } : {}),
        output: { format: image.format, width: image.width, height: image.height },
        responseIds,
      },
    };
  } catch (err) {
    if (err instanceof ProviderError) {
      err.requests = requests;
      err.retries = retries;
      throw err;
    }
    throw err instanceof GptError ? err : geminiErrorFrom(err, secrets, settings.timeoutMs, context.signal);
  }
}

/**
 * The image of a response, or why there is none: a safety block (not retried), or an answer
 * without an image (text only, NO_IMAGE, a broken image: retried).
 */
export async function imageOf(response: GenerateContentResponse): Promise<CheckedImage> {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    const why = response.promptFeedback?.blockReasonMessage;
    throw new ProviderError('E_SAFETY_BLOCKED', `Gemini blocked the prompt (blockReason ${blockReason})${why ? `: ${why}` : ''}`, {
      providerCode: String(blockReason),
      hint: 'reword the prompt (and the style prefix) to stay within Google\'s usage policies; it is not retried',
    });
  }
  const candidate = response.candidates?.[0];
  const finish = candidate?.finishReason ? String(candidate.finishReason) : undefined;
  if (finish && BLOCKING_FINISH.has(finish)) {
    const why = candidate?.finishMessage;
    throw new ProviderError('E_SAFETY_BLOCKED', `Gemini stopped without an image (finishReason ${finish})${why ? `: ${clip(why, 200)}` : ''}`, {
      providerCode: finish,
      hint: finish.includes('RECITATION')
        ? 'the image was too close to existing material: describe it in your own words; it is not retried'
        : 'the prompt or the image it produced was blocked by safety filters: reword the prompt; it is not retried',
    });
  }
  const found = (candidate?.content?.parts ?? []).find((p) => p.inlineData?.data && (p.inlineData.mimeType ?? 'image/').startsWith('image/'));
  if (!found) {
    const text = (candidate?.content?.parts ?? []).map((p) => p.text ?? '').join(' ').trim();
    throw new ProviderError(
      'E_NO_IMAGE',
      `Gemini answered without an image${finish ? ` (finishReason ${finish})` : ''}${text ? `: "${clip(text, 160)}"` : ''}`,
      { retryable: true, providerCode: finish, hint: 'gpt4k retries this; if it persists, make the prompt ask for an image explicitly' },
    );
  }
  return checkImageBytes(fromBase64(found.inlineData?.data), 'Gemini');
}

/** Google's error body: `{error: {code, message, status, details: [{@type, retryDelay | reason | violations}]}}`. */
interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<Record<string, unknown>>;
}

function parseErrorBody(text: string): GoogleErrorBody {
  try {
    const parsed = JSON.parse(text) as { error?: GoogleErrorBody };
    return typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : {};
  } catch {
    return { message: text };
  }
}

/** "37s", "0.5s", "1.250s" (google.protobuf.Duration in JSON) -> milliseconds. */
export function parseRetryDelay(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** A fresh, key-free error for whatever the SDK threw. */
export function geminiErrorFrom(err: unknown, secrets: readonly string[], timeoutMs: number, signal: AbortSignal): GptError {
  if (err instanceof GptError) return err;
  if (signal.aborted) return cancelled();
  if (err instanceof ApiError) return fromApiError(err, secrets);
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === 'AbortError' || name === 'TimeoutError') {
    return new ProviderError('E_TIMEOUT', `${SERVICE} did not answer within ${Math.round(timeoutMs / 1000)} s`, {
      retryable: true,
      hint: 'raise generate.options.timeoutMs if large images need longer',
    });
  }
  const code = errnoCode(err);
  if (err instanceof TypeError || code !== undefined) {
    return new ProviderError('E_CONNECTION', redact(`could not reach ${SERVICE}${code ? ` (${code})` : ''}`, secrets), {
      retryable: true,
      providerCode: code,
      hint: 'check the network, and GOOGLE_GEMINI_BASE_URL / generate.options.baseUrl if you use a gateway',
    });
  }
  if (err instanceof SyntaxError) {
    return new ProviderError('E_BAD_RESPONSE', `${SERVICE} answered with a body that is not JSON`, { retryable: true });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError('E_GEMINI_UNEXPECTED', redact(`unexpected error from the Gemini SDK: ${clip(message, 300)}`, secrets));
}

function fromApiError(err: ApiError, secrets: readonly string[]): ProviderError {
  const status = err.status;
  const body = parseErrorBody(err.message);
  const apiStatus = typeof body.status === 'string' ? body.status : undefined;
  const apiMessage = redact(clip(typeof body.message === 'string' ? body.message : `HTTP ${status}`, 400), secrets);
  const details = Array.isArray(body.details) ? body.details : [];
  const reasons = details.map((d) => (typeof d['reason'] === 'string' ? d['reason'] : '')).filter((r) => r !== '');
  const tag = `HTTP ${status}${apiStatus ? ` ${apiStatus}` : ''}`;
  const common = { status, providerCode: reasons[0] ?? apiStatus };

  if (status === 401 || status === 403 || reasons.includes('API_KEY_INVALID') || apiStatus === 'UNAUTHENTICATED' || apiStatus === 'PERMISSION_DENIED') {
    return new ProviderError('E_AUTH', `Gemini refused the API key (${tag}): ${apiMessage}`, {
      ...common,
      haltsProvider: true,
      hint:
        status === 403 || apiStatus === 'PERMISSION_DENIED'
          ? 'the key lacks access to this model: check the Google Cloud project, that the Generative Language API is enabled, and billing for image models'
          : 'check the key in GEMINI_API_KEY (or the variable named by generate.options.apiKeyEnv)',
    });
  }
  if (status === 429 || apiStatus === 'RESOURCE_EXHAUSTED') {
    const quotaIds = details.flatMap((d) =>
      Array.isArray(d['violations']) ? (d['violations'] as Array<Record<string, unknown>>).map((v) => String(v['quotaId'] ?? '')) : [],
    );
    if (quotaIds.some((q) => /PerDay/i.test(q)) || /limit: 0\b/.test(apiMessage)) {
      return new ProviderError('E_QUOTA', `the Gemini quota for this model is used up (${tag}): ${apiMessage}`, {
        ...common,
        haltsProvider: true,
        hint: 'image models need a billed project (the free tier has no image quota); enable billing or wait for the daily quota to reset',
      });
    }
    const retryInfo = details.find((d) => String(d['@type'] ?? '').endsWith('google.rpc.RetryInfo'));
    return new ProviderError('E_RATE_LIMITED', `rate limited (${tag}): ${apiMessage}`, {
      ...common,
      retryable: true,
      retryAfterMs: parseRetryDelay(retryInfo?.['retryDelay']),
    });
  }
  if (status === 408 || status >= 500) {
    return new ProviderError('E_PROVIDER_UNAVAILABLE', `server error (${tag}): ${apiMessage}`, { ...common, retryable: true });
  }
  if (status === 404) {
    return new ProviderError('E_BAD_REQUEST', `Gemini does not know model or endpoint (${tag}): ${apiMessage}`, {
      ...common,
      hint: 'check generate.model (gemini-2.5-flash-image, gemini-3.1-flash-image-preview, gemini-3-pro-image-preview); it is not retried',
    });
  }
  return new ProviderError('E_BAD_REQUEST', `Gemini rejected the request (${tag}): ${apiMessage}`, {
    ...common,
    hint: 'this is not retried; fix the generate parameters named above',
  });
}

/** Removes the key, and anything shaped like a Google API key, from text meant for users. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.replace(/\bAIza[0-9A-Za-z_\-]{10,}/g, 'AIza[redacted]').replace(/([?&]key=)[^&\s"]+/g, '$1[redacted]');
}
