/**
 * What a Gemini image costs: a per-image price table (estimates and budgets) and token prices
 * (the actual cost, from the response's `usageMetadata`), both overridable in the manifest.
 *
 * Source: Google's Gemini Developer API pricing page (ai.google.dev/gemini-api/docs/pricing),
 * standard (not batch) tier, USD, checked 2026-03:
 * - gemini-2.5-flash-image: $0.039 per image (1290 output tokens at $30 per 1M); input $0.30 per 1M.
 * - gemini-3.1-flash-image-preview: $0.045 (512), $0.067 (1K), $0.101 (2K), $0.151 (4K) per image
 *   (image output $60 per 1M tokens); input $0.50 per 1M.
 * - gemini-3-pro-image-preview: $0.134 per 1K or 2K image, $0.24 per 4K image (image output $120
 *   per 1M tokens); input $2 per 1M (an input image is 560 tokens, about $0.0011).
 * - gemini-3.1-flash-lite-image (Nano Banana 2 Lite, 1K only): no price table was found; Google's
 *   launch post (2026-06-30) puts it at half the cost of Nano Banana 2, so gpt4k assumes half of
 *   gemini-3.1-flash-image-preview's 1K price and token prices (checked 2026-12).
 * Text and thinking output: $2.50 / $3 / $12 per 1M respectively. Batch mode halves all of these;
 * gpt4k does not use it. An unknown Gemini image model is priced as the Pro model (a budget
 * should err high).
 *
 * Manifest overrides (`pricing:`), any level may be a flat USD-per-image number:
 *
 *     pricing:
 *       gemini:
 *         gemini-3-pro-image-preview: { "4K": 0.20, "2K": 0.12 }    # per resolution class
 *         gemini-2.5-flash-image: 0.03                               # per model
 */

import type { DeclaredModel, GenerateParams } from '../manifest/types.js';
import { geminiImageConfig, geminiModelSpec, type ImageSizeClass } from './gemini-models.js';

export const GEMINI_PRICES_CHECKED = '2026-12';

/** USD per 1M tokens. */
export interface GeminiTokenPrices {
  input: number;
  imageOutput: number;
  textOutput: number;
}

export interface GeminiModelPrices {
  /** Resolution class -> USD per output image ("1K" for single-size models). */
  perImage: Partial<Record<ImageSizeClass, number>>;
  tokens: GeminiTokenPrices;
}

export const GEMINI_PRICES: Record<string, GeminiModelPrices> = {
  'gemini-2.5-flash-image': {
    perImage: { '1K': 0.039 },
    tokens: { input: 0.3, imageOutput: 30, textOutput: 2.5 },
  },
  'gemini-3.1-flash-image-preview': {
    perImage: { '512': 0.045, '1K': 0.067, '2K': 0.101, '4K': 0.151 },
    tokens: { input: 0.5, imageOutput: 60, textOutput: 3 },
  },
  'gemini-3.1-flash-lite-image': {
    perImage: { '1K': 0.034 },
    tokens: { input: 0.25, imageOutput: 30, textOutput: 1.5 },
  },
  'gemini-3-pro-image-preview': {
    perImage: { '1K': 0.134, '2K': 0.134, '4K': 0.24 },
    tokens: { input: 2, imageOutput: 120, textOutput: 12 },
  },
};

/** The table id a model prices as: its own, or a declared model's `like`. */
function familyOf(model: string, declaration: DeclaredModel | undefined): string | undefined {
  const like = declaration?.id === model && declaration.provider === 'gemini' ? declaration.like : undefined;
  return geminiModelSpec(like ?? model)?.id;
}

export function geminiPricesFor(model: string, declaration?: DeclaredModel): GeminiModelPrices {
  const id = familyOf(model, declaration);
  return (id !== undefined ? GEMINI_PRICES[id] : undefined) ?? (GEMINI_PRICES['gemini-3-pro-image-preview'] as GeminiModelPrices);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flat(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The resolution class an image with these parameters is billed at. */
function billedClass(params: GenerateParams, width?: number, height?: number): ImageSizeClass {
  const m = /^(\d+)x(\d+)$/.exec(params.size);
  const w = width ?? Number(m?.[1] ?? 1024);
  const h = height ?? Number(m?.[2] ?? 1024);
  return geminiImageConfig(params, w, h).imageSize ?? '1K';
}

/** `pricing:` for the model, then (for estimates) its `models:` declaration's price, then `pricing:` for its family. */
function overridePerImage(params: GenerateParams, sizeClass: ImageSizeClass, pricing: Record<string, unknown> | undefined, use: 'estimate' | 'actual' = 'estimate'): number | undefined {
  const section = pricing?.['gemini'];
  if (flat(section) !== undefined) return flat(section);
  const overrides = isRecord(section) ? section : {};
  const declared = use === 'estimate' && params.modelDeclaration?.id === params.model ? params.modelDeclaration.price : undefined;
  const id = familyOf(params.model, params.modelDeclaration);
  const model = overrides[params.model] ?? declared ?? (id !== undefined ? overrides[id] : undefined);
  if (flat(model) !== undefined) return flat(model);
  if (!isRecord(model)) return undefined;
  return flat(model[sizeClass]);
}

/**
 * Estimated USD for one image: the manifest override, else the table for the resolution class the
 * size maps to.
 *
 * @example estimateGeminiCost({ provider: 'gemini', model: 'gemini-3-pro-image-preview', size: '4096x4096', quality: 'high', options: {} }) // 0.24
 */
export function estimateGeminiCost(params: GenerateParams, pricing?: Record<string, unknown>, width?: number, height?: number): number {
  const sizeClass = billedClass(params, width, height);
  const override = overridePerImage(params, sizeClass, pricing);
  if (override !== undefined) return override;
  const table = geminiPricesFor(params.model, params.modelDeclaration).perImage;
  return roundUsd(table[sizeClass] ?? Math.max(...Object.values(table)));
}

/** `usageMetadata` of a generateContent response, as far as cost needs it. */
export interface GeminiUsage {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  thoughtsTokenCount?: number;
  candidatesTokensDetails?: Array<{ modality?: string; tokenCount?: number }>;
}

/**
 * The actual USD of one response: a manifest per-image override when there is one, else the
 * token prices applied to `usageMetadata`, else (no usage) the per-image estimate.
 */
export function geminiActualCost(
  params: GenerateParams,
  usage: GeminiUsage | undefined,
  pricing: Record<string, unknown> | undefined,
  width: number,
  height: number,
): number {
  const override = overridePerImage(params, billedClass(params, width, height), pricing, 'actual');
  if (override !== undefined) return override;
  if (!usage || typeof usage.candidatesTokenCount !== 'number') return estimateGeminiCost(params, pricing, width, height);
  const tokens = geminiPricesFor(params.model, params.modelDeclaration).tokens;
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const imageOut = (usage.candidatesTokensDetails ?? [])
    .filter((d) => d.modality === 'IMAGE')
    .reduce((sum, d) => sum + n(d.tokenCount), 0);
  // Without a breakdown, every candidate token is an image token (IMAGE-only responses).
  const image = usage.candidatesTokensDetails ? imageOut : n(usage.candidatesTokenCount);
  const text = n(usage.candidatesTokenCount) - image + n(usage.thoughtsTokenCount);
  const usd = n(usage.promptTokenCount) * tokens.input + image * tokens.imageOutput + Math.max(0, text) * tokens.textOutput;
  return roundUsd(usd / 1_000_000);
}

function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
