/**
 * The `openai` provider: GPT image models through the official SDK, `images.generate` for a
 * prompt and `images.edit` (multipart, every reference image attached in order, up to the
 * model's limit) for a style's references. Requests are built as the SDK's own parameter types.
 *
 * The SDK's own retries are off (`maxRetries: 0`): `withRetry` is the one policy, so every
 * request actually sent passes `context.acquireRate` and is counted. What this file throws is
 * always a fresh `GptError`/`ProviderError` holding the status, the API's code and its message
 * with any key-like text removed, never the SDK's error (whose message may quote the key).
 */

import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  toFile,
} from 'openai';
import { apiKeyProblem, readApiKey, type ApiKeySpec } from './api-key.js';
import { checkImageBytes, type CheckedImage } from './check-image.js';
import type { GenerateParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import { AUTO_FROM_TARGETS, chooseSizeForAspect, referenceLimitProblem, validateOpenAiParams } from './openai-models.js';
import { OPENAI_TRANSPORT_OPTIONS } from './openai-models.js';
import { SDK_QUALITIES, type SdkQuality } from './openai-model-table.js';
import { estimateOpenAiCost, openAiActualCost, openAiEstimateBasis, type ImageUsage } from './pricing.js';
import { cancelled, parseRetryAfter, ProviderError, retrySettings, withRetry } from './retry.js';
import { referenceImages, type ReferenceImage, type GenerateContext, type GenerateRequest, type GenerateResult, type ImageProvider } from './types.js';

export const API_KEY: ApiKeySpec = { vendor: 'OpenAI', defaultEnv: 'OPENAI_API_KEY', example: 'sk-' };

export const openaiProvider: ImageProvider = {
  name: 'openai',
  remote: true,
  transportOptions: OPENAI_TRANSPORT_OPTIONS,

  fingerprint(params: GenerateParams): Record<string, string> {
    return { provider: 'openai', api: 'images', model: params.model };
  },

  validate: (params, { at, fieldAt }) => validateOpenAiParams(params, at, fieldAt),

  referenceLimitProblem(params: GenerateParams, count: number) {
    return referenceLimitProblem(params.model, count, params.modelDeclaration);
  },

  sizeForAspect(params: GenerateParams, aspect: number): string {
    return chooseSizeForAspect(params.model, aspect, params.modelDeclaration);
  },

  credentialProblem(params: GenerateParams): GptError | undefined {
    return apiKeyProblem(params.options, API_KEY);
  },

  estimateCostUsd(params: GenerateParams, pricing?: Record<string, unknown>): number {
    return estimateOpenAiCost(params, pricing);
  },

  costFromUsage(params: GenerateParams, usage: Record<string, unknown>, pricing?: Record<string, unknown>): number | undefined {
    return typeof usage['output_tokens'] === 'number' ? openAiActualCost(params, usage as ImageUsage, pricing) : undefined;
  },

  hasPriceOverride(params: GenerateParams, pricing?: Record<string, unknown>): boolean {
    return openAiEstimateBasis(params, pricing) === 'override';
  },

  generate: generateWithOpenAi,
};


async function generateWithOpenAi(request: GenerateRequest, context: GenerateContext): Promise<GenerateResult> {
  const params = request.params;
  const references = checkedReferences(request);
  const apiKey = readApiKey(params.options, API_KEY);
  const settings = retrySettings(params.options);
  const baseURL = typeof params.options['baseURL'] === 'string' ? params.options['baseURL'] : undefined;
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: settings.timeoutMs });

  const size =
    params.size === AUTO_FROM_TARGETS ? chooseSizeForAspect(params.model, request.width / request.height, params.modelDeclaration) : params.size;
  const sent = requestBody(params, size);
  const edit = references.length > 0;
  const endpoint = edit ? 'images/edits' : 'images/generations';
  const secrets = [apiKey];

  let requests = 0;
  let retries = 0;
  const requestIds: string[] = [];

  const send = async (): Promise<{ data: OpenAI.ImagesResponse; requestId: string | null }> => {
    await context.acquireRate?.();
    if (context.signal.aborted) throw cancelled();
    requests++;
    try {
      const { data, request_id } = await callImagesApi(client, sent, request.prompt, references, context.signal);
      if (request_id) requestIds.push(request_id);
      // The SDK hands back a non-JSON 200 as text: a proxy page or a wrong base URL, not the API.
      if (typeof data !== 'object' || data === null) throw notJsonAnswer(200, String(data), request_id ?? undefined);
      return { data, requestId: request_id };
    } catch (err) {
      const error = providerErrorFrom(err, secrets, settings.timeoutMs);
      if (error instanceof ProviderError && error.requestId) requestIds.push(error.requestId);
      throw error;
    }
  };

  try {
    const { data, image } = await withRetry(
      async () => {
        const { data, requestId } = await send();
        const image = await checkImage(data.data?.[0]?.b64_json, requestId);
        return { data, image };
      },
      {
        maxAttempts: settings.maxAttempts,
        baseDelayMs: settings.baseDelayMs,
        maxDelayMs: settings.maxDelayMs,
        signal: context.signal,
        onRetry: (info) => {
          retries++;
          context.onRetry?.(info);
        },
      },
    );
    const usage = data.usage as ImageUsage | undefined;
    const revisedPrompt = data.data?.[0]?.revised_prompt;
    return {
      image: image.bytes,
      revisedPrompt: typeof revisedPrompt === 'string' ? revisedPrompt : undefined,
      usage: usage as Record<string, unknown> | undefined,
      costUsd: openAiActualCost(params, usage, context.pricing, size),
      requests,
      retries,
      meta: resultMeta({ endpoint, sent, edit, references, image, data, requestIds }),
    };
  } catch (err) {
    if (err instanceof ProviderError) {
      err.requests = requests;
      err.retries = retries;
      throw err;
    }
    throw err instanceof GptError ? err : providerErrorFrom(err, secrets, settings.timeoutMs);
  }
}

/** The request's reference images, once its parameters pass the model's checks (and its reference limit). */
function checkedReferences(request: GenerateRequest): ReferenceImage[] {
  const params = request.params;
  const invalid = validateOpenAiParams(params, undefined).filter((d) => d.severity !== 'warning');
  if (invalid.length > 0) {
    const first = invalid[0]!;
    throw new GptError('E_INVALID_PARAMS', `${request.assetId}: ${first.message}`, {
      hint: first.hint,
      diagnostics: invalid,
    });
  }
  const references = referenceImages(request);
  const tooMany = referenceLimitProblem(params.model, references.length, params.modelDeclaration);
  if (tooMany) throw new GptError('E_TOO_MANY_REFERENCES', `${request.assetId}: ${tooMany.message}`, { hint: tooMany.hint });
  return references;
}

/** What was sent and what came back, for the report's provenance. */
function resultMeta(call: {
  endpoint: string;
  sent: SentBody;
  edit: boolean;
  references: ReferenceImage[];
  image: { format: string; width: number; height: number };
  data: OpenAI.ImagesResponse;
  requestIds: string[];
}): Record<string, unknown> {
  const { sent, references, image, data } = call;
  return {
    provider: 'openai',
    endpoint: call.endpoint,
    ...pickDefined(sentFields(sent, call.edit)),
    ...(references.length > 0 ? { referenceAsset: references[0]!.assetId } : {}),
    ...(references.length > 1 ? { referenceAssets: references.map((r) => r.assetId) } : {}),
    output: { format: image.format, width: image.width, height: image.height },
    response: pickDefined({
      size: data.size,
      quality: data.quality,
      background: data.background,
      output_format: data.output_format,
      created: data.created,
    }),
    requestIds: call.requestIds,
  };
}

/** One request: `images.generate`, or `images.edit` with every reference attached in order. */
async function callImagesApi(client: OpenAI, sent: SentBody, prompt: string, references: ReferenceImage[], signal: AbortSignal) {
  const { moderation, input_fidelity, ...shared } = sent;
  if (references.length === 0) {
    const body: OpenAI.ImageGenerateParamsNonStreaming = { ...shared, moderation, prompt };
    return client.images.generate(body, { signal }).withResponse();
  }
  const images = await Promise.all(
    references.map((ref) => toFile(ref.image, uploadName(ref.assetId, ref.contentType), { type: ref.contentType ?? 'image/png' })),
  );
  const body: OpenAI.ImageEditParamsNonStreaming = { ...shared, input_fidelity, prompt, image: images.length === 1 ? images[0]! : images };
  return client.images.edit(body, { signal }).withResponse();
}

/** The fields the endpoint actually takes: no moderation on edits, no input_fidelity on generations. */
function sentFields(sent: SentBody, edit: boolean): Record<string, unknown> {
  const { moderation, input_fidelity, ...shared } = sent;
  return edit ? { ...shared, input_fidelity } : { ...shared, moderation };
}

/** The request as sent, minus prompt and images: the fields both endpoints share, typed as the SDK types them. */
interface SentBody {
  model: string;
  size: string;
  quality: SdkQuality;
  n: number;
  background?: 'transparent' | 'opaque' | 'auto';
  output_format?: 'png' | 'webp' | 'jpeg';
  output_compression?: number;
  complexity?: 'low' | 'medium' | 'high';
  safety_identifier?: string;
  user?: string;
  /** Generations only. */
  moderation?: 'low' | 'auto';
  /** Edits only. */
  input_fidelity?: 'high' | 'low';
}

/**
 * The request as sent (minus prompt and image): model, size, quality, n: 1 and the request
 * options the manifest set, each narrowed to the SDK's type (validation already refused any
 * other value). Never `response_format`: GPT image models always answer in base64.
 */
function requestBody(params: GenerateParams, size: string): SentBody {
  const o = params.options;
  const quality = oneOf(params.quality, SDK_QUALITIES);
  if (quality === undefined) throw new GptError('E_INVALID_QUALITY', `quality "${params.quality}" is not one the images API takes`);
  return {
    model: params.model,
    size,
    quality,
    n: 1,
    background: oneOf(o['background'], ['transparent', 'opaque', 'auto'] as const),
    output_format: oneOf(o['output_format'], ['png', 'webp', 'jpeg'] as const),
    output_compression: typeof o['output_compression'] === 'number' ? o['output_compression'] : undefined,
    complexity: oneOf(o['complexity'], ['low', 'medium', 'high'] as const),
    safety_identifier: typeof o['safety_identifier'] === 'string' ? o['safety_identifier'] : undefined,
    user: typeof o['user'] === 'string' ? o['user'] : undefined,
    moderation: oneOf(o['moderation'], ['low', 'auto'] as const),
    input_fidelity: oneOf(o['input_fidelity'], ['high', 'low'] as const),
  };
}

/** One request's JSON body as its endpoint takes it, images aside: what a Batch API line carries (openai-batch.ts). */
export function endpointBody(params: GenerateParams, size: string, edit: boolean, prompt: string): Record<string, unknown> {
  return { ...pickDefined(sentFields(requestBody(params, size), edit)), prompt };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
}

function uploadName(id: string, contentType: string | undefined): string {
  const ext = contentType === 'image/jpeg' ? 'jpg' : contentType === 'image/webp' ? 'webp' : 'png';
  return `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.${ext}`;
}

/**
 * Decodes the base64 image and proves it whole (check-image.ts). A 200 that fails here
 * (truncated or garbled) is worth another request.
 */
export async function checkImage(b64: unknown, requestId?: string | null): Promise<CheckedImage> {
  const bytes = typeof b64 === 'string' && b64.length > 0 ? Buffer.from(b64, 'base64') : undefined;
  return checkImageBytes(bytes, {
    answered: 'the images API answered 200',
    hint: 'gpt4k retries this automatically; if it persists, the gateway may be cutting responses short',
    status: 200,
    ...(requestId ? { requestId } : {}),
  });
}

/** A fresh, key-free error for whatever the SDK threw. */
export function providerErrorFrom(err: unknown, secrets: readonly string[], timeoutMs: number): GptError {
  if (err instanceof GptError) return err;
  if (err instanceof APIUserAbortError) return cancelled();
  if (err instanceof APIConnectionTimeoutError) {
    return new ProviderError('E_TIMEOUT', `the images API did not answer within ${formatSeconds(timeoutMs)}`, {
      retryable: true,
      hint: 'raise generate.options.timeoutMs if large or high-quality images need longer',
    });
  }
  if (err instanceof APIConnectionError) {
    const cause = err.cause instanceof Error ? describeCause(err.cause) : '';
    return new ProviderError('E_CONNECTION', redact(`could not reach the images API${cause}`, secrets), {
      retryable: true,
      hint: 'check the network, and OPENAI_BASE_URL if you use a gateway',
    });
  }
  if (err instanceof APIError && typeof err.status === 'number') return fromHttpError(err, secrets);
  if (err instanceof SyntaxError) {
    return new ProviderError('E_BAD_RESPONSE', 'the images API answered with a body that is not JSON', {
      retryable: true,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError('E_OPENAI_UNEXPECTED', redact(`unexpected error from the OpenAI SDK: ${message}`, secrets));
}

/**
 * A 200 whose body is not JSON came from something other than the images API (an HTML page from
 * a proxy, a captive portal, a web server at a wrong OPENAI_BASE_URL): sending again gets the same
 * page, so it is not retried and stops the provider for this build.
 */
function notJsonAnswer(status: number, text: string, requestId: string | undefined): ProviderError {
  return new ProviderError('E_BAD_RESPONSE', `the images API answered ${status} with ${describeBody(text)}, not JSON: something other than the API answered`, {
    status,
    haltsProvider: true,
    ...(requestId ? { requestId } : {}),
    hint: 'check OPENAI_BASE_URL (it must end in /v1 of an OpenAI-compatible API) and any proxy in between',
  });
}

/** "an HTML page (title "502 Bad Gateway")", or "a text body", never the body itself. */
function describeBody(text: string): string {
  if (!/^\s*(<!doctype html|<html|<head|<body|<\?xml)/i.test(text) && !/<\/(html|body|title)>/i.test(text)) return 'a text body';
  const title = /<title>([^<]{1,80})<\/title>/i.exec(text)?.[1]?.trim();
  return title ? `an HTML page (titled "${title}")` : 'an HTML page';
}

/** The SDK's message of an error whose body was not JSON: "502 <!DOCTYPE html>..." (status first). */
function nonJsonErrorText(err: APIError): string | undefined {
  if (typeof err.error === 'object' && err.error !== null) return undefined;
  const text = err.message.replace(/^\d{3}\s*/, '');
  return /[<]/.test(text) ? text : undefined;
}

function fromHttpError(err: APIError, secrets: readonly string[]): ProviderError {
  const status = err.status as number;
  const body = (typeof err.error === 'object' && err.error !== null ? err.error : {}) as Record<string, unknown>;
  const pageText = nonJsonErrorText(err);
  const code = typeof body['code'] === 'string' ? body['code'] : typeof err.code === 'string' ? err.code : undefined;
  const type = typeof body['type'] === 'string' ? body['type'] : undefined;
  const apiMessage = redact(
    typeof body['message'] === 'string'
      ? body['message']
      : pageText !== undefined
        ? `${describeBody(pageText)} instead of the API's JSON (a proxy or gateway between gpt4k and the API answered; check OPENAI_BASE_URL if this persists)`
        : `HTTP ${status}`,
    secrets,
  );
  const requestId = err.requestID ?? undefined;
  const common = { status, providerCode: code ?? type, requestId };
  const tag = `HTTP ${status}${code ? ` ${code}` : ''}`;

  if (status === 400 && code === 'moderation_blocked') {
    return new ProviderError(
      'E_MODERATION_BLOCKED',
      `the prompt was blocked by OpenAI's moderation (moderation_blocked): ${apiMessage}`,
      {
        ...common,
        hint: 'reword the prompt (and the style prefix) to stay within the usage policies; it is not retried',
      },
    );
  }
  if (status === 401 || status === 403) {
    return new ProviderError('E_AUTH', `OpenAI refused the API key (${tag}): ${apiMessage}`, {
      ...common,
      haltsProvider: true,
      hint:
        status === 401
          ? 'check the key in OPENAI_API_KEY (or the variable named by generate.options.apiKeyEnv)'
          : 'the key lacks access: check the project and that the organization is verified for GPT image models',
    });
  }
  if (status === 429 && (code === 'insufficient_quota' || type === 'insufficient_quota')) {
    return new ProviderError('E_QUOTA', `the OpenAI account has no quota left (${tag}): ${apiMessage}`, {
      ...common,
      haltsProvider: true,
      hint: 'add credit or raise the spending limit in the OpenAI billing settings, then build again',
    });
  }
  const retryAfterMs = parseRetryAfter(err.headers);
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    const what = status === 429 ? 'rate limited' : status >= 500 ? 'server error' : 'request not completed';
    return new ProviderError(status === 429 ? 'E_RATE_LIMITED' : 'E_PROVIDER_UNAVAILABLE', `${what} (${tag}): ${apiMessage}`, {
      ...common,
      retryable: true,
      retryAfterMs,
    });
  }
  const param = typeof body['param'] === 'string' ? ` (parameter ${body['param']})` : '';
  return new ProviderError('E_BAD_REQUEST', `OpenAI rejected the request (${tag})${param}: ${apiMessage}`, {
    ...common,
    hint: 'this is not retried; fix the generate parameters named above',
  });
}

/** Removes the key, and anything shaped like a key, from text meant for users. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.replace(/\bsk-[A-Za-z0-9_*.\-]{3,}/g, 'sk-[redacted]').replace(/Bearer\s+\S+/gi, 'Bearer [redacted]');
}

function describeCause(cause: Error): string {
  const code = (cause as { code?: unknown }).code ?? (cause.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? ` (${code})` : `: ${cause.message}`;
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

function pickDefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
