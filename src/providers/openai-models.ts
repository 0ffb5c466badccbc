/**
 * What each OpenAI image model accepts, and the manifest-time checks built on it, so that
 * nothing invalid ever reaches the API.
 *
 * Sizes, as OpenAI documents them:
 * - gpt-image-2 family: any `WIDTHxHEIGHT` with both edges multiples of 16, the long edge at most
 *   3840 px, the aspect ratio between 1:3 and 3:1, and between 655,360 and 8,294,400 (3840x2160)
 *   pixels in all; outputs above 2560x1440 pixels are experimental (they work, with variable
 *   results), so validation warns. We read "at most 3840x2160" as a pixel budget plus an edge
 *   limit, so a portrait 2160x3840 is as valid as the landscape.
 * - gpt-image-1, gpt-image-1-mini, gpt-image-1.5: 1024x1024, 1536x1024 and 1024x1536 only.
 * - every model also takes `auto`; gpt4k adds `auto-from-targets`, which the graph resolves with
 *   `chooseSizeForAspect` before the request is made.
 */

import { closest } from '../manifest/suggest.js';
import type { GenerateParams } from '../manifest/types.js';
import type { Diagnostic, SourcePosition } from '../util/errors.js';

export const AUTO_FROM_TARGETS = 'auto-from-targets';

export interface FlexibleSizeRules {
  multipleOf: number;
  maxEdge: number;
  minPixels: number;
  maxPixels: number;
  /** long edge / short edge */
  maxAspect: number;
  /** Above this many pixels the output is experimental. */
  experimentalAbovePixels: number;
}

export interface OpenAiModelSpec {
  id: string;
  /** A fixed list of `WxH` sizes, or the rules of a flexible-size model. */
  sizes: readonly string[] | FlexibleSizeRules;
  qualities: readonly string[];
  /** `background: transparent` is honoured. */
  transparentBackground: boolean;
}

const QUALITIES = ['low', 'medium', 'high', 'auto'] as const;
const LEGACY_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;

const GPT_IMAGE_2_SIZES: FlexibleSizeRules = {
  multipleOf: 16,
  maxEdge: 3840,
  minPixels: 655_360,
  maxPixels: 3840 * 2160,
  maxAspect: 3,
  experimentalAbovePixels: 2560 * 1440,
};

export const OPENAI_MODELS: readonly OpenAiModelSpec[] = [
  { id: 'gpt-image-2', sizes: GPT_IMAGE_2_SIZES, qualities: QUALITIES, transparentBackground: false },
  { id: 'gpt-image-1.5', sizes: LEGACY_SIZES, qualities: QUALITIES, transparentBackground: true },
  { id: 'gpt-image-1-mini', sizes: LEGACY_SIZES, qualities: QUALITIES, transparentBackground: true },
  { id: 'gpt-image-1', sizes: LEGACY_SIZES, qualities: QUALITIES, transparentBackground: true },
  { id: 'chatgpt-image-latest', sizes: LEGACY_SIZES, qualities: QUALITIES, transparentBackground: true },
];

/**
 * The spec for a model id, dated snapshots included (`gpt-image-2-2026-04-21` is gpt-image-2).
 * Undefined for a model gpt4k does not know.
 */
export function openAiModelSpec(model: string): OpenAiModelSpec | undefined {
  const exact = OPENAI_MODELS.find((m) => m.id === model);
  if (exact) return exact;
  // Longest id first, so gpt-image-1-mini-... is not read as gpt-image-1.
  const byLength = [...OPENAI_MODELS].sort((a, b) => b.id.length - a.id.length);
  return byLength.find((m) => new RegExp(`^${escapeRegExp(m.id)}-\\d{4}-\\d{2}-\\d{2}$`).test(model));
}

/** Options a request may carry, beyond model, prompt, size and quality. */
export const OPENAI_REQUEST_OPTIONS = [
  'background',
  'output_format',
  'output_compression',
  'moderation',
  'input_fidelity',
  'user',
] as const;

/**
 * Options that steer the transport, not the image: they must not change a cache key.
 * (The graph may leave these out of the generate node's key.)
 */
export const OPENAI_TRANSPORT_OPTIONS = [
  'apiKeyEnv',
  'baseURL',
  'maxRetries',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'timeoutMs',
  'batchPollMs',
] as const;

const KNOWN_OPTIONS: readonly string[] = [...OPENAI_REQUEST_OPTIONS, ...OPENAI_TRANSPORT_OPTIONS];

/** Parameters of retired models, with the fix. */
const RETIRED_OPTIONS: Record<string, string> = {
  response_format: 'GPT image models always return base64; remove it',
  style: 'the "style" parameter belonged to dall-e-3; describe the style in the prompt instead',
  n: 'gpt4k makes one image per asset; remove it',
};

const RETIRED_QUALITIES: Record<string, string> = { hd: 'high', standard: 'medium' };

export interface Size {
  width: number;
  height: number;
}

export function parseSize(size: string): Size | undefined {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(size.trim());
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

export function formatSize(size: Size): string {
  return `${size.width}x${size.height}`;
}

/** Why `size` is not valid for `spec`, or undefined when it is. */
export function sizeProblem(spec: OpenAiModelSpec, size: Size): string | undefined {
  const rules = spec.sizes;
  if (isFixed(rules)) {
    return rules.includes(formatSize(size)) ? undefined : `${spec.id} makes only ${rules.join(', ')} (or auto)`;
  }
  const { width, height } = size;
  if (width % rules.multipleOf !== 0 || height % rules.multipleOf !== 0) {
    return `both edges must be multiples of ${rules.multipleOf}`;
  }
  if (Math.max(width, height) > rules.maxEdge) return `the long edge must be at most ${rules.maxEdge} px`;
  if (Math.max(width, height) / Math.min(width, height) > rules.maxAspect) {
    return `the aspect ratio must be between 1:${rules.maxAspect} and ${rules.maxAspect}:1`;
  }
  const pixels = width * height;
  if (pixels > rules.maxPixels) return `at most ${rules.maxPixels.toLocaleString('en-US')} pixels (3840x2160)`;
  if (pixels < rules.minPixels) return `at least ${rules.minPixels.toLocaleString('en-US')} pixels`;
  return undefined;
}

export function isExperimentalSize(spec: OpenAiModelSpec, size: Size): boolean {
  const rules = spec.sizes;
  return !isFixed(rules) && size.width * size.height > rules.experimentalAbovePixels;
}

/** Every valid size of a model (for flexible models: every multiple-of-16 pair within the rules). */
export function validSizes(spec: OpenAiModelSpec, options: { experimental: boolean }): Size[] {
  const rules = spec.sizes;
  if (isFixed(rules)) return rules.map((s) => parseSize(s)).filter((s): s is Size => s !== undefined);
  const memoKey = `${JSON.stringify(rules)}|${options.experimental}`;
  const memo = sizeMemo.get(memoKey);
  if (memo) return memo;
  const out: Size[] = [];
  for (let width = rules.multipleOf; width <= rules.maxEdge; width += rules.multipleOf) {
    for (let height = rules.multipleOf; height <= rules.maxEdge; height += rules.multipleOf) {
      const size = { width, height };
      if (sizeProblem(spec, size) !== undefined) continue;
      if (!options.experimental && isExperimentalSize(spec, size)) continue;
      out.push(size);
    }
  }
  sizeMemo.set(memoKey, out);
  return out;
}

const sizeMemo = new Map<string, Size[]>();

/** The valid size closest to `wanted` (edge ratios compared on a log scale). */
export function nearestValidSize(spec: OpenAiModelSpec, wanted: Size): string {
  let best: Size | undefined;
  let bestScore = Infinity;
  for (const size of validSizes(spec, { experimental: true })) {
    const score = Math.abs(Math.log(size.width / wanted.width)) + Math.abs(Math.log(size.height / wanted.height));
    if (score < bestScore - 1e-12) {
      best = size;
      bestScore = score;
    }
  }
  return best ? formatSize(best) : '1024x1024';
}

/**
 * The largest non-experimental size of `model` whose aspect ratio (width / height) best matches
 * `aspect`: the least upscaling and cropping for the asset's targets. Aspects beyond what the
 * model makes are clamped to its range. Sizes within 1% of the best match count as matching, so
 * a large near-exact size wins over a small exact one.
 *
 * @example chooseSizeForAspect('gpt-image-2', 16 / 9) // "2560x1440"
 */
export function chooseSizeForAspect(model: string, aspect: number): string {
  const spec = openAiModelSpec(model) ?? fallbackSpec(model);
  const target = Number.isFinite(aspect) && aspect > 0 ? aspect : 1;
  const candidates = validSizes(spec, { experimental: false }).map((size) => ({
    size,
    error: Math.abs(Math.log(size.width / size.height / target)),
    pixels: size.width * size.height,
  }));
  if (candidates.length === 0) return '1024x1024';
  const bestError = Math.min(...candidates.map((c) => c.error));
  const tolerance = isFixed(spec.sizes) ? 1e-9 : 0.01;
  const matching = candidates.filter((c) => c.error <= bestError + tolerance);
  matching.sort((a, b) => b.pixels - a.pixels || a.error - b.error);
  return formatSize(matching[0]!.size);
}

/**
 * Manifest-time checks of `generate` parameters for the openai provider: the model, the quality,
 * the size and every option, each error with its fix.
 */
export function validateOpenAiParams(params: GenerateParams, at: SourcePosition | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const error = (code: string, message: string, hint?: string): void => {
    out.push({ code, message, hint, at, severity: 'error' });
  };
  const warn = (code: string, message: string, hint?: string): void => {
    out.push({ code, message, hint, at, severity: 'warning' });
  };

  const model = params.model;
  let spec = openAiModelSpec(model);
  if (!spec) {
    if (/^dall-e/i.test(model)) {
      error('E_UNSUPPORTED_MODEL', `model "${model}" is not supported: DALL·E models are retired`, 'use "gpt-image-2"');
      return out;
    }
    if (/^gpt-image-/.test(model)) {
      warn(
        'W_UNKNOWN_MODEL',
        `model "${model}" is not in gpt4k's table; checking it as gpt-image-2`,
        'if the API rejects a size or option, report it so the table can learn the model',
      );
      spec = fallbackSpec(model);
    } else {
      const guess = closest(model, OPENAI_MODELS.map((m) => m.id));
      error(
        'E_UNKNOWN_MODEL',
        `model "${model}" is not an OpenAI image model`,
        guess ? `did you mean "${guess}"?` : `use one of: ${OPENAI_MODELS.map((m) => m.id).join(', ')}`,
      );
      return out;
    }
  }

  const badQuality = qualityProblem(spec, params.quality);
  if (badQuality) error('E_INVALID_QUALITY', badQuality.message, badQuality.hint);

  checkSize(spec, params.size, error, warn);
  checkOptions(spec, params.options, error, warn);
  return out;
}

/** Why `quality` is not one `spec`'s model takes (E_INVALID_QUALITY), with the fix; undefined when it is. */
export function qualityProblem(spec: OpenAiModelSpec, quality: string): { message: string; hint: string } | undefined {
  if (spec.qualities.includes(quality)) return undefined;
  const retired = RETIRED_QUALITIES[quality];
  if (retired) return { message: `quality "${quality}" belonged to dall-e-3; ${spec.id} takes ${spec.qualities.join(', ')}`, hint: `use "${retired}"` };
  const guess = closest(quality, spec.qualities);
  return {
    message: `quality "${quality}" is not a quality of ${spec.id}`,
    hint: guess ? `did you mean "${guess}"? (${spec.qualities.join(', ')})` : `use one of: ${spec.qualities.join(', ')}`,
  };
}

type Report = (code: string, message: string, hint?: string) => void;

function checkSize(spec: OpenAiModelSpec, sizeText: string, error: Report, warn: Report): void {
  if (sizeText === 'auto' || sizeText === AUTO_FROM_TARGETS) return;
  const size = parseSize(sizeText);
  if (!size) {
    error(
      'E_INVALID_SIZE',
      `size "${sizeText}" is not WIDTHxHEIGHT`,
      `write it like "1536x1024", or use "auto" or "${AUTO_FROM_TARGETS}"`,
    );
    return;
  }
  const problem = sizeProblem(spec, size);
  if (problem) {
    error(
      'E_INVALID_SIZE',
      `size "${sizeText}" is not a size ${spec.id} makes: ${problem}`,
      `the nearest valid size is "${nearestValidSize(spec, size)}"`,
    );
    return;
  }
  if (isExperimentalSize(spec, size)) {
    const rules = spec.sizes as FlexibleSizeRules;
    warn(
      'W_EXPERIMENTAL_SIZE',
      `size "${sizeText}" is above ${rules.experimentalAbovePixels.toLocaleString('en-US')} pixels (2560x1440): ${spec.id} output there is experimental`,
      `for dependable results use "${chooseSizeForAspect(spec.id, size.width / size.height)}" and let the upscaler do the rest`,
    );
  }
}

function checkOptions(spec: OpenAiModelSpec, options: Record<string, unknown>, error: Report, warn: Report): void {
  for (const [name, value] of Object.entries(options)) {
    const retired = RETIRED_OPTIONS[name];
    if (retired) {
      error('E_RETIRED_OPTION', `option "${name}" is not accepted by ${spec.id}`, retired);
      continue;
    }
    if (!KNOWN_OPTIONS.includes(name)) {
      const guess = closest(name, KNOWN_OPTIONS);
      error(
        'E_UNKNOWN_OPTION',
        `unknown openai option "${name}"`,
        guess ? `did you mean "${guess}"?` : `known options: ${KNOWN_OPTIONS.join(', ')}`,
      );
      continue;
    }
    const problem = optionProblem(name, value);
    if (problem) error('E_INVALID_OPTION', `option ${name}: ${JSON.stringify(value)} ${problem}`);
  }
  const format = options['output_format'];
  if (options['output_compression'] !== undefined && format !== 'jpeg' && format !== 'webp') {
    error(
      'E_INVALID_OPTION',
      'option output_compression applies only to output_format jpeg or webp',
      'set output_format: jpeg (or webp), or remove output_compression',
    );
  }
  if (options['background'] === 'transparent') {
    if (format === 'jpeg') {
      error('E_INVALID_OPTION', 'background "transparent" needs output_format png or webp, not jpeg', 'use output_format: png');
    } else if (!spec.transparentBackground) {
      warn(
        'W_UNSUPPORTED_OPTION',
        `${spec.id} does not currently make transparent backgrounds`,
        'use gpt-image-1.5 for transparent cut-outs, or background: opaque',
      );
    }
  }
}

function optionProblem(name: string, value: unknown): string | undefined {
  const oneOf = (values: readonly string[]): string | undefined =>
    typeof value === 'string' && values.includes(value) ? undefined : `must be one of ${values.join(', ')}`;
  const number = (min: number, max = Infinity, integer = true): string | undefined =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value))
      ? undefined
      : `must be ${integer ? 'an integer' : 'a number'} ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}`;
  switch (name) {
    case 'background':
      return oneOf(['transparent', 'opaque', 'auto']);
    case 'output_format':
      return oneOf(['png', 'jpeg', 'webp']);
    case 'output_compression':
      return number(0, 100);
    case 'moderation':
      return oneOf(['auto', 'low']);
    case 'input_fidelity':
      return oneOf(['high', 'low']);
    case 'user':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'apiKeyEnv':
      return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)
        ? undefined
        : 'must name an environment variable (letters, digits, _)';
    case 'baseURL':
      return typeof value === 'string' && /^https?:\/\//.test(value) ? undefined : 'must be an http(s) URL';
    case 'maxRetries':
      return number(0, 100);
    case 'retryBaseDelayMs':
    case 'retryMaxDelayMs':
      return number(0);
    case 'timeoutMs':
      return number(1, Infinity, false);
    default:
      return undefined;
  }
}

/** A model id gpt4k does not know but that looks like a GPT image model: check it as gpt-image-2. */
function fallbackSpec(model: string): OpenAiModelSpec {
  return { ...(OPENAI_MODELS[0] as OpenAiModelSpec), id: model };
}

function isFixed(sizes: OpenAiModelSpec['sizes']): sizes is readonly string[] {
  return Array.isArray(sizes);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

