/**
 * The `sdwebui` provider: Stable Diffusion on your own GPU through the AUTOMATIC1111 / Forge
 * HTTP API (start the WebUI with `--api`).
 *
 * - `POST /sdapi/v1/txt2img` for a prompt; `POST /sdapi/v1/img2img` when the asset has a style
 *   reference (sent as `init_images`, with `denoising_strength`, default 0.55).
 * - `seed` is sent unchanged, so a locked seed reproduces an image on the same checkpoint and
 *   settings; with no seed the server picks one (-1) and the seed it used is kept in the meta.
 * - `model` is the checkpoint (`override_settings.sd_model_checkpoint`, kept loaded afterwards).
 *   `current`, or a model of another provider inherited from `defaults.generate` (gpt-image-*,
 *   gemini-*), means "whatever checkpoint the server has loaded", so switching a manifest to
 *   sdwebui is a one-line change.
 * - ControlNet units in `controlnet` are passed through as given
 *   (`alwayson_scripts.controlnet.args`).
 *
 * It is self-hosted but still a remote HTTP call: `remote: true`, so its requests count in
 * `summary.providerCalls` and `--frozen` refuses them (CI must not depend on a GPU box being up).
 * Cost is GPU time: see self-hosted.ts.
 *
 * Options (`generate.options`, or directly under `generate:` for those the schema lists):
 *
 * | option             | default                  | sent as                                  |
 * |--------------------|--------------------------|------------------------------------------|
 * | negative_prompt    | ""                       | negative_prompt                          |
 * | steps              | 30                       | steps                                    |
 * | sampler            | the server's default     | sampler_name ("DPM++ 2M", "Euler a", ...)|
 * | scheduler          | the server's default     | scheduler ("Karras", ...; A1111 >= 1.9)  |
 * | cfg_scale          | 7                        | cfg_scale                                |
 * | denoising_strength | 0.55                     | denoising_strength (img2img only)        |
 * | controlnet         | none                     | alwayson_scripts.controlnet.args         |
 * | override_settings  | none                     | override_settings (merged)               |
 * | baseUrl            | $SDWEBUI_BASE_URL, else http://127.0.0.1:7860 | where the API lives |
 *
 * plus the retry, timeout and cost options of self-hosted.ts. `SDWEBUI_AUTH=user:pass` is sent
 * as HTTP basic auth for a WebUI started with `--api-auth`.
 */

import type { GenerateParams } from '../manifest/types.js';
import type { Diagnostic, SourcePosition } from '../util/errors.js';
import { AUTO_FROM_TARGETS } from './openai-models.js';
import { ProviderError, retrySettings, withRetry } from './retry.js';
import {
  baseUrlOf,
  check,
  checkImageBytes,
  checkOptions,
  type CheckedImage,
  clip,
  COMMON_OPTION_CHECKS,
  estimateGpuCost,
  fromBase64,
  gpuCost,
  haltIfUnreachable,
  parseWxH,
  readJson,
  readText,
  secondsSince,
  sendHttp,
  sizeNearMegapixel,
  statusError,
  throwIfInvalid,
  type OptionCheck,
  SELF_HOSTED_COMMON_OPTIONS,
} from './self-hosted.js';
import type { GenerateContext, GenerateRequest, GenerateResult, ImageProvider } from './types.js';

export const SDWEBUI_DEFAULT_BASE_URL = 'http://127.0.0.1:7860';
export const SDWEBUI_BASE_URL_ENV = 'SDWEBUI_BASE_URL';
export const SDWEBUI_AUTH_ENV = 'SDWEBUI_AUTH';
export const SDWEBUI_DEFAULTS = { steps: 30, cfg_scale: 7, denoising_strength: 0.55 } as const;

const SERVICE = 'SD WebUI';
const CONNECTION_HINT = `start the WebUI with --api (e.g. ./webui.sh --api), or point ${SDWEBUI_BASE_URL_ENV} / generate.options.baseUrl at it`;

const OPTION_CHECKS: Record<string, OptionCheck> = {
  negative_prompt: check.string(),
  steps: check.integer(1, 150),
  sampler: check.nonEmptyString(),
  scheduler: check.nonEmptyString(),
  cfg_scale: check.number(1, 30),
  denoising_strength: check.number(0, 1),
  controlnet: check.arrayOfObjects(),
  override_settings: check.object(),
  ...COMMON_OPTION_CHECKS,
};

/** Models that name no checkpoint: use the one the server has loaded. */
export function checkpointOf(model: string): string | undefined {
  if (model === '' || model === 'current') return undefined;
  if (/^(gpt-image|chatgpt-image|dall-e|gemini-)/i.test(model)) return undefined;
  return model;
}

export const sdwebuiProvider: ImageProvider = {
  name: 'sdwebui',
  remote: true,
  // Key variable, endpoint, timeouts, retries and GPU pricing never change the image.
  transportOptions: SELF_HOSTED_COMMON_OPTIONS,

  fingerprint(params: GenerateParams): Record<string, string> {
    return { provider: 'sdwebui', api: 'sdapi/v1', checkpoint: checkpointOf(params.model) ?? 'current' };
  },

  validate: (params, { at }) => validateSdWebUiParams(params, at),

  sizeForAspect(_params: GenerateParams, aspect: number): string {
    return sizeNearMegapixel(aspect);
  },

  estimateCostUsd(params: GenerateParams, pricing?: Record<string, unknown>): number {
    return estimateGpuCost('sdwebui', params.options, pricing);
  },

  generate: generateWithSdWebUi,
};

/** Manifest-time checks: a size the latent space can hold, and every option. */
export function validateSdWebUiParams(params: GenerateParams, at: SourcePosition | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (params.size !== AUTO_FROM_TARGETS) {
    const size = parseWxH(params.size);
    if (!size) {
      out.push({
        code: 'E_INVALID_SIZE',
        message: `size "${params.size}" is not WIDTHxHEIGHT: sdwebui needs pixel dimensions`,
        hint: `write it like "1216x832", or use "${AUTO_FROM_TARGETS}"`,
        at,
        severity: 'error',
      });
    } else if (size.width % 8 !== 0 || size.height % 8 !== 0 || Math.min(size.width, size.height) < 64 || Math.max(size.width, size.height) > 4096) {
      const fix = (n: number): number => Math.min(4096, Math.max(64, Math.round(n / 8) * 8));
      out.push({
        code: 'E_INVALID_SIZE',
        message: `size "${params.size}" is not a size Stable Diffusion makes: both edges must be multiples of 8, from 64 to 4096`,
        hint: `the nearest valid size is "${fix(size.width)}x${fix(size.height)}"`,
        at,
        severity: 'error',
      });
    }
  }
  out.push(...checkOptions('sdwebui', params.options, OPTION_CHECKS, at));
  return out;
}

/** The txt2img/img2img body, minus prompt and images (what the meta records). */
export function sdwebuiBody(params: GenerateParams, width: number, height: number, img2img: boolean): Record<string, unknown> {
  const o = params.options;
  const body: Record<string, unknown> = {
    negative_prompt: typeof o['negative_prompt'] === 'string' ? o['negative_prompt'] : '',
    seed: params.seed ?? -1,
    steps: typeof o['steps'] === 'number' ? o['steps'] : SDWEBUI_DEFAULTS.steps,
    cfg_scale: typeof o['cfg_scale'] === 'number' ? o['cfg_scale'] : SDWEBUI_DEFAULTS.cfg_scale,
    width,
    height,
    batch_size: 1,
    n_iter: 1,
  };
  if (typeof o['sampler'] === 'string') body['sampler_name'] = o['sampler'];
  if (typeof o['scheduler'] === 'string') body['scheduler'] = o['scheduler'];
  const overrides: Record<string, unknown> = isRecord(o['override_settings']) ? { ...o['override_settings'] } : {};
  const checkpoint = checkpointOf(params.model);
  if (checkpoint !== undefined) overrides['sd_model_checkpoint'] = checkpoint;
  if (Object.keys(overrides).length > 0) {
    body['override_settings'] = overrides;
    // The default (true) reloads the previous checkpoint after every image: minutes per asset.
    body['override_settings_restore_afterwards'] = false;
  }
  if (Array.isArray(o['controlnet']) && o['controlnet'].length > 0) {
    body['alwayson_scripts'] = { controlnet: { args: o['controlnet'] } };
  }
  if (img2img) {
    body['denoising_strength'] =
      typeof o['denoising_strength'] === 'number' ? o['denoising_strength'] : SDWEBUI_DEFAULTS.denoising_strength;
    body['resize_mode'] = 1; // crop and resize: the reference keeps its proportions
  }
  body['send_images'] = true;
  body['save_images'] = false;
  return body;
}

interface SdResponse {
  images?: unknown;
  info?: unknown;
}

async function generateWithSdWebUi(request: GenerateRequest, context: GenerateContext): Promise<GenerateResult> {
  const params = request.params;
  throwIfInvalid(request.assetId, validateSdWebUiParams(params, undefined));
  const settings = retrySettings(params.options);
  const baseUrl = baseUrlOf(params.options, SDWEBUI_BASE_URL_ENV, SDWEBUI_DEFAULT_BASE_URL);
  const endpoint = request.reference ? 'img2img' : 'txt2img';
  const sent = sdwebuiBody(params, request.width, request.height, request.reference !== undefined);
  const body: Record<string, unknown> = { prompt: request.prompt, ...sent };
  if (request.reference) body['init_images'] = [request.reference.image.toString('base64')];
  const headers: Record<string, string> = {};
  const auth = process.env[SDWEBUI_AUTH_ENV]?.trim();
  if (auth) headers['authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`;

  let requests = 0;
  let retries = 0;
  let gpuSeconds = 0;

  const attempt = async (): Promise<{ image: CheckedImage; info: Record<string, unknown> }> => {
    await context.acquireRate?.();
    requests++;
    const start = performance.now();
    const response = await sendHttp({
      service: SERVICE,
      method: 'POST',
      url: `${baseUrl}/sdapi/v1/${endpoint}`,
      body,
      headers,
      timeoutMs: settings.timeoutMs,
      signal: context.signal,
      connectionHint: CONNECTION_HINT,
    });
    if (!response.ok) throw await sdwebuiError(response, endpoint);
    const data = (await readJson(response, SERVICE)) as SdResponse;
    gpuSeconds = secondsSince(start);
    const first = Array.isArray(data.images) ? (data.images[0] as unknown) : undefined;
    // ControlNet appends its detected maps after the image: the first one is the picture.
    const image = await checkImageBytes(fromBase64(first), SERVICE);
    return { image, info: parseInfo(data.info) };
  };

  try {
    const { image, info } = await withRetry(attempt, {
      maxAttempts: settings.maxAttempts,
      baseDelayMs: settings.baseDelayMs,
      maxDelayMs: settings.maxDelayMs,
      signal: context.signal,
      onRetry: (info) => {
        retries++;
        context.onRetry?.(info);
      },
    });
    return {
      image: image.bytes,
      costUsd: gpuCost('sdwebui', gpuSeconds, params.options, context.pricing),
      requests,
      retries,
      meta: {
        provider: 'sdwebui',
        endpoint: `sdapi/v1/${endpoint}`,
        ...sent,
        requestedSeed: params.seed ?? null,
        seed: typeof info['seed'] === 'number' ? info['seed'] : sent['seed'],
        checkpoint: typeof info['sd_model_name'] === 'string' ? info['sd_model_name'] : (checkpointOf(params.model) ?? null),
        checkpointHash: typeof info['sd_model_hash'] === 'string' ? info['sd_model_hash'] : null,
        referenceAsset: request.reference?.assetId,
        gpuSeconds,
        output: { format: image.format, width: image.width, height: image.height },
      },
    };
  } catch (err) {
    const error = haltIfUnreachable(err);
    if (error instanceof ProviderError) {
      error.requests = requests;
      error.retries = retries;
    }
    throw error;
  }
}

/**
 * The WebUI's error bodies: `{error, detail, body, errors}` from its exception handler (500),
 * FastAPI's `{detail: [{loc, msg}]}` (422), and `{detail: "Not Found"}` when --api is off.
 */
async function sdwebuiError(response: Response, endpoint: string): Promise<ProviderError> {
  const text = await readText(response);
  let parsed: Record<string, unknown> = {};
  try {
    const value = JSON.parse(text) as unknown;
    if (isRecord(value)) parsed = value;
  } catch {
    // not JSON: the text itself is the detail
  }
  const status = response.status;
  if (status === 404) {
    return statusError(SERVICE, response, `/sdapi/v1/${endpoint} not found`, {
      hint: 'the WebUI is running without its API: restart it with --api (COMMANDLINE_ARGS="--api")',
      code: 'E_NO_API',
    });
  }
  if (status === 422 && Array.isArray(parsed['detail'])) {
    const problems = (parsed['detail'] as unknown[])
      .filter(isRecord)
      .map((d) => `${Array.isArray(d['loc']) ? (d['loc'] as unknown[]).slice(1).join('.') : '?'}: ${String(d['msg'] ?? '')}`);
    return statusError(SERVICE, response, `the request was rejected: ${problems.join('; ')}`);
  }
  const kind = typeof parsed['error'] === 'string' ? parsed['error'] : undefined;
  const words = [parsed['errors'], parsed['detail'], parsed['body']].find((v) => typeof v === 'string' && v.trim() !== '') as string | undefined;
  const detail = clip(kind ? `${kind}${words ? `: ${words}` : ''}` : words ?? (text || `HTTP ${status}`), 300);
  if (/OutOfMemory|out of memory/i.test(`${kind ?? ''} ${words ?? ''}`)) {
    return statusError(SERVICE, response, detail, {
      code: 'E_GPU_OUT_OF_MEMORY',
      retryable: false,
      hint: 'the GPU ran out of memory: use a smaller size (the upscaler does the rest), fewer ControlNet units, or start the WebUI with --medvram',
    });
  }
  return statusError(SERVICE, response, detail);
}

function parseInfo(info: unknown): Record<string, unknown> {
  if (isRecord(info)) return info;
  if (typeof info !== 'string') return {};
  try {
    const value = JSON.parse(info) as unknown;
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
