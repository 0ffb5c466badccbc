/**
 * What each Gemini image model ("Nano Banana" family) makes, and the manifest-time checks built
 * on it, so nothing the model cannot do reaches the API.
 *
 * Gemini takes no pixel size: it takes an aspect ratio (`imageConfig.aspectRatio`) and, on the
 * Gemini 3 models, a resolution class (`imageConfig.imageSize`: 512, 1K, 2K, 4K). gpt4k maps the
 * manifest's `size: WxH` to the nearest aspect ratio the model makes (within 10%; beyond that it is
 * an error naming the nearest choice, because the renderer would crop too much) and to the smallest
 * resolution class that covers the requested long edge. `options.aspectRatio` / `options.imageSize`
 * set either explicitly.
 *
 * Output sizes, from Google's image-generation guide and model pages (ai.google.dev/gemini-api/docs,
 * checked 2026-12): gemini-2.5-flash-image makes ~1 megapixel only (1024x1024, 1344x768, ...);
 * gemini-3-pro-image-preview and gemini-3.1-flash-image-preview make 1K (1024x1024, 1376x768, ...),
 * 2K and 4K at 2x and 4x the edges; gemini-3.1-flash-image-preview adds 512 (half the edges) and the
 * 1:4, 4:1, 1:8 and 8:1 ratios (their pixel sizes here are approximate: ~1 megapixel at 1K);
 * gemini-3.1-flash-lite-image (Nano Banana 2 Lite, stable since 2026-06-30) makes 1K only, in the
 * same 14 ratios. `@google/genai` 3.6's model list names the stable ids beside the previews
 * (gemini-3-pro-image, gemini-3.1-flash-image, gemini-3.1-flash-lite-image): they are aliases here.
 */

import type { DeclaredModel, GenerateParams } from '../manifest/types.js';
import type { Diagnostic, SourcePosition } from '../util/errors.js';
import { positionOf, type FieldPositions } from './types.js';
import { closest } from '../manifest/suggest.js';
import { AUTO_FROM_TARGETS } from './openai-models.js';

export type ImageSizeClass = '512' | '1K' | '2K' | '4K';

export interface GeminiModelSpec {
  id: string;
  /** Other ids Google serves the same model under (stable or preview names). */
  aliases: readonly string[];
  /** Aspect ratio -> the 1K (or only) output size in pixels. */
  aspects: Readonly<Record<string, readonly [number, number]>>;
  /** Resolution classes `imageSize` takes; empty: the model has one size and takes no imageSize. */
  imageSizes: readonly ImageSizeClass[];
  /** Its name in Google's docs. */
  name: string;
  status: 'stable' | 'preview';
  /** Where the entry was read, and when it was last checked (YYYY-MM-DD). */
  source: string;
  checked: string;
}

const FLASH_25: GeminiModelSpec['aspects'] = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};

const GEMINI_3: GeminiModelSpec['aspects'] = {
  '1:1': [1024, 1024],
  '2:3': [848, 1264],
  '3:2': [1264, 848],
  '3:4': [896, 1200],
  '4:3': [1200, 896],
  '4:5': [928, 1152],
  '5:4': [1152, 928],
  '9:16': [768, 1376],
  '16:9': [1376, 768],
  '21:9': [1584, 672],
};

const EXTREME: GeminiModelSpec['aspects'] = {
  '1:4': [512, 2048],
  '4:1': [2048, 512],
  '1:8': [352, 2816],
  '8:1': [2816, 352],
};

const GUIDE = 'ai.google.dev/gemini-api/docs/image-generation and the model page';
const CHECKED = '2026-12-01';

export const GEMINI_MODELS: readonly GeminiModelSpec[] = [
  {
    id: 'gemini-2.5-flash-image',
    aliases: ['gemini-2.5-flash-image-preview'],
    aspects: FLASH_25,
    imageSizes: [],
    name: 'Nano Banana',
    status: 'stable',
    source: GUIDE,
    checked: CHECKED,
  },
  {
    id: 'gemini-3-pro-image-preview',
    aliases: ['gemini-3-pro-image', 'nano-banana-pro-preview'],
    aspects: GEMINI_3,
    imageSizes: ['1K', '2K', '4K'],
    name: 'Nano Banana Pro',
    status: 'preview',
    source: `${GUIDE}; stable id from @google/genai 3.6 Model`,
    checked: CHECKED,
  },
  {
    id: 'gemini-3.1-flash-image-preview',
    aliases: ['gemini-3.1-flash-image'],
    aspects: { ...GEMINI_3, ...EXTREME },
    imageSizes: ['512', '1K', '2K', '4K'],
    name: 'Nano Banana 2',
    status: 'preview',
    source: `${GUIDE}; stable id from @google/genai 3.6 Model`,
    checked: CHECKED,
  },
  {
    id: 'gemini-3.1-flash-lite-image',
    aliases: ['gemini-3.1-flash-lite-image-preview'],
    aspects: { ...GEMINI_3, ...EXTREME },
    imageSizes: ['1K'],
    name: 'Nano Banana 2 Lite',
    status: 'stable',
    source: 'ai.google.dev/gemini-api/docs/models/gemini-3.1-flash-lite-image (1K only, 14 ratios); @google/genai 3.6 Model',
    checked: CHECKED,
  },
];

export const DEFAULT_GEMINI_MODEL = 'gemini-2.5-flash-image';

/** An aspect this far (as a ratio) from the requested one is an error, not a mapping. */
export const ASPECT_TOLERANCE = 1.1;

const SCALE: Record<ImageSizeClass, number> = { '512': 0.5, '1K': 1, '2K': 2, '4K': 4 };

export function geminiModelSpec(model: string): GeminiModelSpec | undefined {
  return GEMINI_MODELS.find((m) => m.id === model || m.aliases.includes(model));
}

/** A model id gpt4k does not know but that looks like a Gemini image model: checked as the Pro model. */
function fallbackSpec(model: string): GeminiModelSpec {
  return { ...(GEMINI_MODELS[1] as GeminiModelSpec), id: model };
}

export function specOrFallback(model: string, declaration?: DeclaredModel): GeminiModelSpec {
  return declaredGeminiSpec(model, declaration) ?? geminiModelSpec(model) ?? fallbackSpec(model);
}

/**
 * A model the manifest's `models:` declares for gemini: the model it is `like` (else the table's
 * own entry, else the Pro model), under its own id. Undefined when `declaration` is not for it.
 */
export function declaredGeminiSpec(model: string, declaration: DeclaredModel | undefined): GeminiModelSpec | undefined {
  if (!declaration || declaration.id !== model || declaration.provider !== 'gemini') return undefined;
  const base = (declaration.like !== undefined ? geminiModelSpec(declaration.like) : undefined) ?? geminiModelSpec(model) ?? fallbackSpec(model);
  return { ...base, id: model, aliases: [], source: "the manifest's models: section" };
}

function ratioOf(aspect: string): number {
  const [w, h] = aspect.split(':').map(Number);
  return (w ?? 1) / (h ?? 1);
}

/** The model's aspect ratio closest to `ratio` (width / height), with how far off it is (>= 1). */
export function nearestAspect(spec: GeminiModelSpec, ratio: number): { aspect: string; off: number } {
  let best = '1:1';
  let bestError = Infinity;
  for (const aspect of Object.keys(spec.aspects)) {
    const error = Math.abs(Math.log(ratioOf(aspect) / ratio));
    if (error < bestError - 1e-12) {
      best = aspect;
      bestError = error;
    }
  }
  return { aspect: best, off: Math.exp(bestError) };
}

/** Output pixels for an aspect and resolution class. */
export function outputSize(spec: GeminiModelSpec, aspect: string, imageSize: ImageSizeClass | undefined): { width: number; height: number } {
  const [w, h] = spec.aspects[aspect] ?? [1024, 1024];
  const scale = imageSize ? SCALE[imageSize] : 1;
  return { width: Math.round(w * scale), height: Math.round(h * scale) };
}

/** The smallest resolution class whose long edge covers `longEdge`, else the largest. */
export function imageSizeFor(spec: GeminiModelSpec, aspect: string, longEdge: number): ImageSizeClass | undefined {
  if (spec.imageSizes.length === 0) return undefined;
  for (const size of spec.imageSizes) {
    const out = outputSize(spec, aspect, size);
    if (Math.max(out.width, out.height) >= longEdge) return size;
  }
  return spec.imageSizes[spec.imageSizes.length - 1];
}

/** What is sent as `imageConfig`, derived from the manifest (undefined fields are left out). */
export interface GeminiImageConfig {
  aspectRatio?: string;
  imageSize?: ImageSizeClass;
}

export function geminiImageConfig(params: GenerateParams, width: number, height: number): GeminiImageConfig {
  const spec = specOrFallback(params.model, params.modelDeclaration);
  const config: GeminiImageConfig = {};
  const explicitAspect = typeof params.options['aspectRatio'] === 'string' ? params.options['aspectRatio'] : undefined;
  const explicitSize = typeof params.options['imageSize'] === 'string' ? (params.options['imageSize'] as ImageSizeClass) : undefined;
  const size = parseSize(params.size);
  if (explicitAspect) config.aspectRatio = explicitAspect;
  else if (size) config.aspectRatio = nearestAspect(spec, size.width / size.height).aspect;
  else if (params.size !== 'auto') config.aspectRatio = nearestAspect(spec, width / height).aspect;
  if (explicitSize) config.imageSize = explicitSize;
  else if (config.aspectRatio && params.size !== 'auto') {
    const long = size ? Math.max(size.width, size.height) : Math.max(width, height);
    const chosen = imageSizeFor(spec, config.aspectRatio, long);
    if (chosen) config.imageSize = chosen;
  }
  return config;
}

/**
 * For `size: auto-from-targets`: the model's own output size for the aspect nearest `aspect`, at
 * 2K where the model has it (4K costs nearly twice as much, and the upscaler does the rest), else
 * its one size.
 *
 * @example geminiSizeForAspect('gemini-2.5-flash-image', 16 / 9) // "1344x768"
 */
export function geminiSizeForAspect(model: string, aspect: number, declaration?: DeclaredModel): string {
  const spec = specOrFallback(model, declaration);
  const { aspect: nearest } = nearestAspect(spec, Number.isFinite(aspect) && aspect > 0 ? aspect : 1);
  const size = outputSize(spec, nearest, spec.imageSizes.includes('2K') ? '2K' : spec.imageSizes[spec.imageSizes.length - 1]);
  return `${size.width}x${size.height}`;
}

function parseSize(size: string): { width: number; height: number } | undefined {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(size.trim());
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

/** Options that change how a request travels, not the image: left out of cache keys. */
export const GEMINI_TRANSPORT_OPTIONS = ['apiKeyEnv', 'baseUrl', 'maxRetries', 'retryBaseDelayMs', 'retryMaxDelayMs', 'timeoutMs', 'batchPollMs'] as const;

/** Options the gemini provider takes. */
export const GEMINI_OPTIONS = [
  'aspectRatio',
  'imageSize',
  'apiKeyEnv',
  'baseUrl',
  'maxRetries',
  'retryBaseDelayMs',
  'retryMaxDelayMs',
  'timeoutMs',
  'batchPollMs',
] as const;

/**
 * Manifest-time checks of `generate` for the gemini provider: the model, the size (as an aspect
 * and resolution the model makes) and every option, each error with its fix.
 */
export function validateGeminiParams(params: GenerateParams, at: SourcePosition | undefined, fieldAt?: FieldPositions): Diagnostic[] {
  const out: Diagnostic[] = [];
  const reporter = (severity: 'error' | 'warning', where: SourcePosition | undefined) => (code: string, message: string, hint?: string): void => {
    out.push({ code, message, hint, at: where, severity });
  };
  const error = reporter('error', at);
  const warn = reporter('warning', at);
  const modelAt = positionOf('model', at, fieldAt);
  const sizeAt = positionOf('size', at, fieldAt);
  const ids = GEMINI_MODELS.map((m) => m.id);
  const declared = declaredGeminiSpec(params.model, params.modelDeclaration);
  let spec = declared ?? geminiModelSpec(params.model);
  if (!spec) {
    if (/^gemini-.*image/.test(params.model)) {
      reporter('warning', modelAt)(
        'W_UNKNOWN_MODEL',
        `model "${params.model}" is not in gpt4k's Gemini table (checked ${CHECKED}); checking it as gemini-3-pro-image-preview, and what that model would refuse is only a warning`,
        `the API decides; to check it strictly, declare it under models: (e.g. ${params.model}: { like: gemini-3-pro-image-preview }), or update gpt4k, whose table will learn the model`,
      );
      spec = fallbackSpec(params.model);
    } else {
      const guess = closest(params.model, ids);
      reporter('error', modelAt)(
        'E_UNKNOWN_MODEL',
        /^(gpt-image|chatgpt-image|dall-e)/.test(params.model)
          ? `model "${params.model}" is an OpenAI model; the gemini provider needs a Gemini image model`
          : `model "${params.model}" is not a Gemini image model`,
        guess ? `did you mean "${guess}"?` : `set model: ${DEFAULT_GEMINI_MODEL} (or ${ids.slice(1).join(', ')})`,
      );
      checkOptions(params.options, undefined, error, error);
      return out;
    }
  }
  // For an unknown model the relative's aspects and sizes are a guess: warn instead of refusing.
  const known = declared !== undefined || geminiModelSpec(params.model) !== undefined;
  const strict = known ? error : (code: string, message: string, hint?: string): void => warn('W_UNKNOWN_MODEL', `${message} (${code})`, hint);
  const strictOnSize = known ? reporter('error', sizeAt) : (code: string, message: string, hint?: string): void => reporter('warning', sizeAt)('W_UNKNOWN_MODEL', `${message} (${code})`, hint);
  checkOptions(params.options, spec, error, strict);
  const aspectOption = params.options['aspectRatio'];
  if (typeof aspectOption !== 'string' && params.size !== 'auto' && params.size !== AUTO_FROM_TARGETS) {
    const size = parseSize(params.size);
    if (!size) {
      reporter('error', sizeAt)('E_INVALID_SIZE', `size "${params.size}" is not WIDTHxHEIGHT`, `write it like "1344x768", or use "auto" or "${AUTO_FROM_TARGETS}"`);
    } else {
      const ratio = size.width / size.height;
      const { aspect, off } = nearestAspect(spec, ratio);
      if (off > ASPECT_TOLERANCE) {
        const example = outputSize(spec, aspect, spec.imageSizes.includes('2K') ? '2K' : undefined);
        strictOnSize(
          'E_UNSUPPORTED_ASPECT',
          `size "${params.size}" has aspect ${ratio.toFixed(2)}:1, which ${spec.id} does not make (it makes ${Object.keys(spec.aspects).join(', ')})`,
          `the nearest is ${aspect}: use size "${example.width}x${example.height}", or set options.aspectRatio: "${aspect}" and let the renderer crop`,
        );
      }
    }
  }
  return out;
}

function checkOptions(
  options: Record<string, unknown>,
  spec: GeminiModelSpec | undefined,
  error: (code: string, message: string, hint?: string) => void,
  strict: (code: string, message: string, hint?: string) => void,
): void {
  for (const [name, value] of Object.entries(options)) {
    if (!(GEMINI_OPTIONS as readonly string[]).includes(name)) {
      const guess = closest(name, GEMINI_OPTIONS);
      error('E_UNKNOWN_OPTION', `unknown gemini option "${name}"`, guess ? `did you mean "${guess}"?` : `known options: ${GEMINI_OPTIONS.join(', ')}`);
      continue;
    }
    const problem = optionProblem(name, value);
    if (problem) {
      error('E_INVALID_OPTION', `gemini option ${name}: ${JSON.stringify(value)} ${problem}`);
      continue;
    }
    if (!spec) continue;
    if (name === 'aspectRatio') {
      const aspect = value as string;
      if (!Object.hasOwn(spec.aspects, aspect)) {
        const parsed = /^(\d+):(\d+)$/.exec(aspect);
        const nearest = parsed ? nearestAspect(spec, Number(parsed[1]) / Number(parsed[2])).aspect : undefined;
        strict(
          'E_UNSUPPORTED_ASPECT',
          `aspectRatio "${aspect}" is not an aspect ratio ${spec.id} makes (it makes ${Object.keys(spec.aspects).join(', ')})`,
          nearest ? `the nearest is "${nearest}"` : 'write it like "16:9"',
        );
      }
    }
    if (name === 'imageSize') {
      const size = value as string;
      if (spec.imageSizes.length === 0) {
        strict(
          'E_UNSUPPORTED_OPTION',
          `${spec.id} makes one resolution (about 1 megapixel) and takes no imageSize`,
          'remove imageSize (the upscaler does the rest), or use gemini-3-pro-image-preview or gemini-3.1-flash-image-preview for 2K and 4K',
        );
      } else if (!(spec.imageSizes as readonly string[]).includes(size)) {
        const upper = size.toUpperCase();
        strict(
          'E_INVALID_OPTION',
          `imageSize "${size}" is not a resolution ${spec.id} makes (${spec.imageSizes.join(', ')})`,
          (spec.imageSizes as readonly string[]).includes(upper) ? `write it with a capital K: "${upper}"` : `use one of: ${spec.imageSizes.join(', ')}`,
        );
      }
    }
  }
}

function optionProblem(name: string, value: unknown): string | undefined {
  const number = (min: number, integer: boolean): string | undefined =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && (!integer || Number.isInteger(value))
      ? undefined
      : `must be ${integer ? 'an integer' : 'a number'} >= ${min}`;
  switch (name) {
    case 'aspectRatio':
      return typeof value === 'string' && /^\d+:\d+$/.test(value) ? undefined : 'must be a ratio like "16:9"';
    case 'imageSize':
      return typeof value === 'string' ? undefined : 'must be one of "512", "1K", "2K", "4K" (a string)';
    case 'apiKeyEnv':
      return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value)
        ? undefined
        : 'must name an environment variable (letters, digits, _)';
    case 'baseUrl':
      return typeof value === 'string' && /^https?:\/\//.test(value) ? undefined : 'must be an http(s) URL';
    case 'maxRetries':
      return number(0, true);
    case 'retryBaseDelayMs':
    case 'retryMaxDelayMs':
      return number(0, false);
    case 'timeoutMs':
    case 'batchPollMs':
      return number(1, false);
    default:
      return undefined;
  }
}
