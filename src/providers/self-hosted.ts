/**
 * What the self-hosted providers (`sdwebui`, `comfyui`) share: HTTP calls to a server the user
 * runs, turned into `ProviderError`s the one retry policy understands, option checks with
 * positions, and cost as GPU time.
 *
 * Cost. A self-hosted image costs GPU time, not an invoice line. Each result reports
 * `meta.gpuSeconds` (the server's own execution time where it tells us, else the request's wall
 * time), and the cost is `gpuSeconds × costPerGpuSecond`. The rate comes from, first match wins:
 *
 *     pricing:                          # preferred: not part of any cache key
 *       sdwebui: { costPerGpuSecond: 0.0004, expectedGpuSeconds: 12 }
 *     generate:
 *       options: { costPerGpuSecond: 0.0004, expectedGpuSeconds: 12 }   # also works; options enter the key
 *
 * With no rate the cost is 0 (the GPU is yours). `plan` estimates `costPerGpuSecond ×
 * expectedGpuSeconds` (default {@link DEFAULT_GPU_SECONDS_PER_IMAGE}).
 */

import { checkImageBytes as checkImage, type CheckedImage } from './check-image.js';
import type { Diagnostic, SourcePosition } from '../util/errors.js';
import { closest } from '../manifest/suggest.js';
import { cancelled, parseRetryAfter, ProviderError } from './retry.js';

/** Seconds one image is assumed to take when the manifest gives no `expectedGpuSeconds`. */
export const DEFAULT_GPU_SECONDS_PER_IMAGE = 20;

/** Options every self-hosted provider takes: transport, retries and cost. */
export const SELF_HOSTED_COMMON_OPTIONS = [
  'baseUrl',
  'maxRetries',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'timeoutMs',
  'costPerGpuSecond',
  'expectedGpuSeconds',
] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The manifest's `pricing.<provider>` section, if it is an object. */
function pricingSection(provider: string, pricing: Record<string, unknown> | undefined): Record<string, unknown> {
  const section = pricing?.[provider];
  return isRecord(section) ? section : {};
}

/** USD per GPU-second for this provider: options, then `pricing.<provider>`, else 0. */
export function gpuRate(provider: string, options: Record<string, unknown>, pricing?: Record<string, unknown>): number {
  return nonNegative(options['costPerGpuSecond']) ?? nonNegative(pricingSection(provider, pricing)['costPerGpuSecond']) ?? 0;
}

/** Seconds one image is expected to take, for estimates. */
export function expectedGpuSeconds(provider: string, options: Record<string, unknown>, pricing?: Record<string, unknown>): number {
  return (
    nonNegative(options['expectedGpuSeconds']) ??
    nonNegative(pricingSection(provider, pricing)['expectedGpuSeconds']) ??
    DEFAULT_GPU_SECONDS_PER_IMAGE
  );
}

/**
 * `plan`'s estimate for one image: rate × expected seconds.
 *
 * @example estimateGpuCost('sdwebui', { costPerGpuSecond: 0.001, expectedGpuSeconds: 12 }) // 0.012
 */
export function estimateGpuCost(provider: string, options: Record<string, unknown>, pricing?: Record<string, unknown>): number {
  return roundUsd(gpuRate(provider, options, pricing) * expectedGpuSeconds(provider, options, pricing));
}

/** The cost of `seconds` of GPU time at the provider's rate. */
export function gpuCost(provider: string, seconds: number, options: Record<string, unknown>, pricing?: Record<string, unknown>): number {
  return roundUsd(gpuRate(provider, options, pricing) * seconds);
}

export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

export function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** The server's base URL: the option, then the environment variable, then the default; no trailing slash. */
export function baseUrlOf(options: Record<string, unknown>, envName: string, fallback: string): string {
  const fromOption = typeof options['baseUrl'] === 'string' ? options['baseUrl'] : undefined;
  const fromEnv = process.env[envName]?.trim();
  return (fromOption ?? (fromEnv ? fromEnv : undefined) ?? fallback).replace(/\/+$/, '');
}

export interface HttpCall {
  /** Words for messages: "SD WebUI", "ComfyUI". */
  service: string;
  method: 'GET' | 'POST';
  url: string;
  /** JSON-encoded unless it is FormData. */
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  /** What to check when the server cannot be reached. */
  connectionHint: string;
}

/**
 * Sends one request with Node's fetch. Any HTTP status comes back as a Response (the caller knows
 * the service's error bodies); a refused connection or a timeout becomes a retryable
 * `ProviderError`, and an abort becomes E_CANCELLED.
 */
export async function sendHttp(call: HttpCall): Promise<Response> {
  if (call.signal.aborted) throw cancelled();
  const timeout = AbortSignal.timeout(call.timeoutMs);
  const signal = AbortSignal.any([call.signal, timeout]);
  const isForm = call.body instanceof FormData;
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
  if (call.body !== undefined && !isForm) headers['content-type'] = 'application/json';
  try {
    return await fetch(call.url, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : isForm ? (call.body as FormData) : JSON.stringify(call.body),
      signal,
    });
  } catch (err) {
    if (call.signal.aborted) throw cancelled();
    if (timeout.aborted) {
      throw new ProviderError('E_TIMEOUT', `${call.service} did not answer ${call.method} ${pathOf(call.url)} within ${formatMs(call.timeoutMs)}`, {
        retryable: true,
        hint: 'raise generate.options.timeoutMs if images on this GPU take longer',
      });
    }
    throw connectionError(call, err);
  }
}

/** Reads a JSON body; a body that is not JSON is a retryable E_BAD_RESPONSE. */
export async function readJson(response: Response, service: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderError('E_BAD_RESPONSE', `${service} answered HTTP ${response.status} with a body that is not JSON: ${clip(text, 120)}`, {
      retryable: response.status === 200 || response.status >= 500,
      status: response.status,
    });
  }
}

/** Reads the body as text without failing (for error messages). */
export async function readText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return '';
  }
}

function connectionError(call: HttpCall, err: unknown): ProviderError {
  const code = errnoCode(err);
  return new ProviderError('E_CONNECTION', `could not reach ${call.service} at ${originOf(call.url)}${code ? ` (${code})` : ''}`, {
    retryable: true,
    hint: call.connectionHint,
    providerCode: code,
  });
}

/** `ECONNREFUSED` and friends, from fetch's TypeError("fetch failed") and its cause chain. */
export function errnoCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = (errors[0] as { code?: unknown }).code;
      if (typeof inner === 'string') return inner;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A non-2xx status as a ProviderError with the usual classes: 408/429/5xx retried (honouring
 * retry-after), 401/403 halting the provider, the rest not retried.
 */
export function statusError(
  service: string,
  response: Response,
  detail: string,
  options: { hint?: string; code?: string; retryable?: boolean } = {},
): ProviderError {
  const status = response.status;
  const tag = `HTTP ${status}`;
  if (status === 401 || status === 403) {
    return new ProviderError('E_AUTH', `${service} refused the request (${tag}): ${detail}`, {
      status,
      haltsProvider: true,
      hint: options.hint ?? 'check the server credentials (SDWEBUI_AUTH for --api-auth) or the proxy in front of it',
    });
  }
  const retryable = options.retryable ?? (status === 408 || status === 429 || status >= 500);
  return new ProviderError(options.code ?? (retryable ? 'E_PROVIDER_UNAVAILABLE' : 'E_BAD_REQUEST'), `${service} answered ${tag}: ${detail}`, {
    status,
    retryable,
    retryAfterMs: retryable ? parseRetryAfter(response.headers) : undefined,
    hint: options.hint ?? (retryable ? undefined : 'this is not retried; fix the generate parameters named above'),
  });
}

/** Retries a failed request after giving up: the server is not there, so stop sending to it. */
export function haltIfUnreachable(err: unknown): unknown {
  if (!(err instanceof ProviderError) || err.code !== 'E_CONNECTION') return err;
  const halted = new ProviderError(err.code, err.message, {
    hint: err.hint,
    haltsProvider: true,
    providerCode: err.providerCode,
  });
  halted.requests = err.requests;
  halted.retries = err.retries;
  return halted;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

/** Milliseconds elapsed since `start` (from performance.now()), as seconds. */
export function secondsSince(start: number): number {
  return roundSeconds((performance.now() - start) / 1000);
}

// ---- option checks -------------------------------------------------------------------------

/** A check of one option's value: the problem in words, or undefined when it is fine. */
export type OptionCheck = (value: unknown) => string | undefined;

export const check = {
  string: (): OptionCheck => (v) => (typeof v === 'string' ? undefined : 'must be a string'),
  nonEmptyString: (): OptionCheck => (v) => (typeof v === 'string' && v.trim() !== '' ? undefined : 'must be a non-empty string'),
  integer:
    (min: number, max = Infinity): OptionCheck =>
    (v) =>
      typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
        ? undefined
        : `must be an integer ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}`,
  number:
    (min: number, max = Infinity): OptionCheck =>
    (v) =>
      typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max
        ? undefined
        : `must be a number ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}`,
  url: (): OptionCheck => (v) => (typeof v === 'string' && /^https?:\/\/[^\s]+$/.test(v) ? undefined : 'must be an http(s) URL'),
  envName: (): OptionCheck => (v) =>
    typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'must name an environment variable (letters, digits, _)',
  object: (): OptionCheck => (v) => (isRecord(v) ? undefined : 'must be a mapping (key: value)'),
  arrayOfObjects: (): OptionCheck => (v) =>
    Array.isArray(v) && v.every(isRecord) ? undefined : 'must be a list of mappings (one per unit)',
  oneOf:
    (values: readonly string[]): OptionCheck =>
    (v) =>
      typeof v === 'string' && values.includes(v) ? undefined : `must be one of ${values.join(', ')}`,
} as const;

/** Common checks for the options every self-hosted provider takes. */
export const COMMON_OPTION_CHECKS: Record<(typeof SELF_HOSTED_COMMON_OPTIONS)[number], OptionCheck> = {
  baseUrl: check.url(),
  maxRetries: check.integer(0, 100),
  retryBaseDelayMs: check.number(0),
  retryMaxDelayMs: check.number(0),
  timeoutMs: check.number(1),
  costPerGpuSecond: check.number(0),
  expectedGpuSeconds: check.number(0),
};

/**
 * Every option checked against `checks`: unknown names get a did-you-mean, bad values name the
 * value and what was expected. One diagnostic per problem, all at `at`.
 */
export function checkOptions(
  provider: string,
  options: Record<string, unknown>,
  checks: Record<string, OptionCheck>,
  at: SourcePosition | undefined,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const known = Object.keys(checks);
  for (const [name, value] of Object.entries(options)) {
    const checkValue = checks[name];
    if (!checkValue) {
      const guess = closest(name, known);
      out.push({
        code: 'E_UNKNOWN_OPTION',
        message: `unknown ${provider} option "${name}"`,
        hint: guess ? `did you mean "${guess}"?` : `known options: ${known.join(', ')}`,
        at,
        severity: 'error',
      });
      continue;
    }
    const problem = checkValue(value);
    if (problem) {
      out.push({ code: 'E_INVALID_OPTION', message: `${provider} option ${name}: ${JSON.stringify(value)} ${problem}`, at, severity: 'error' });
    }
  }
  return out;
}

/** Throws the first error among `diagnostics` as E_INVALID_PARAMS (before anything is sent). */
export function throwIfInvalid(assetId: string, diagnostics: Diagnostic[]): void {
  const errors = diagnostics.filter((d) => d.severity !== 'warning');
  const first = errors[0];
  if (!first) return;
  throw new ProviderError('E_INVALID_PARAMS', `${assetId}: ${first.message}`, { hint: first.hint });
}

/** `WIDTHxHEIGHT` parsed, or undefined. */
export function parseWxH(size: string): { width: number; height: number } | undefined {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(size.trim());
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/**
 * A size near one megapixel (what SD 1.x/SDXL/Flux checkpoints are trained around) with edges
 * that are multiples of 64, for `size: auto-from-targets`.
 *
 * @example sizeNearMegapixel(16 / 9) // "1344x768"
 */
export function sizeNearMegapixel(aspect: number, pixels = 1024 * 1024): string {
  const a = Number.isFinite(aspect) && aspect > 0 ? Math.min(4, Math.max(0.25, aspect)) : 1;
  const round64 = (n: number): number => Math.max(64, Math.round(n / 64) * 64);
  const width = round64(Math.sqrt(pixels * a));
  const height = round64(Math.sqrt(pixels / a));
  return `${width}x${height}`;
}

export type { CheckedImage } from './check-image.js';

/** A self-hosted server's image, proved whole (see check-image.ts). */
export function checkImageBytes(bytes: Buffer | undefined, service: string): Promise<CheckedImage> {
  return checkImage(bytes, { answered: `${service} answered`, hint: 'gpt4k retries this automatically; if it persists, check the server log' });
}

/** Base64 (optionally a data: URL) to bytes; undefined when it is not a string. */
export function fromBase64(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1;
  return Buffer.from(comma >= 0 ? value.slice(comma + 1) : value, 'base64');
}
