/**
 * What an OpenAI image costs: a per-image price table (for estimates and budgets) and token
 * prices (for the actual cost, from the response's `usage`), both overridable in the manifest.
 *
 * Sources (USD, standard tier, checked 2026-05):
 * - gpt-image-1, gpt-image-1-mini, gpt-image-1.5: OpenAI's pricing page and image generation
 *   guide ("cost and latency" table of per-image output prices, 1024x1024 / 1024x1536 / 1536x1024).
 * - gpt-image-2: the same guide's output examples as reported at launch (2026-04-21):
 *   1024x1024 $0.006 / $0.053 / $0.211, 1536x1024 and 1024x1536 $0.005 / $0.041 / $0.165;
 *   tokens: text input $5, image input $8, image output $30 per 1M.
 * - gpt-image-2.5-sunburst / -flare (2026-09-08) and gpt-image-2.6-sunburst / -flare
 *   (2026-11-04): billed by tokens at gpt-image-2's prices ($5 / $8 / $30 per 1M; reported at
 *   each launch by docs.laozhang.ai and docs.apiyi.com, checked 2026-12), so low, medium and high
 *   are priced as gpt-image-2's. No per-image figure is published for `xhigh` and `max`: their
 *   output tokens depend on the image, so gpt4k assumes a conservative 2x (xhigh) and 3x (max)
 *   the high price, and `estimateBasis` says so; the actual cost always comes from `usage`.
 * Per-image prices cover the output image only; edits add the input image's tokens, which the
 * actual cost (from `usage`) includes.
 *
 * Sizes the table lacks (gpt-image-2 makes any size) are priced as the square price scaled by
 * pixel count, which for gpt-image-2 over-estimates a little: a budget should err high.
 * `quality: auto` is priced as high, `size: auto` as the dearest listed size, and an unresolved
 * `auto-from-targets` as the largest non-experimental size.
 *
 * Manifest overrides (`pricing:`), any level may be a flat USD-per-image number:
 *
 *     pricing:
 *       openai:
 *         gpt-image-2:
 *           high: { "1536x1024": 0.25 }   # per quality and size
 *           low: 0.01                     # per quality, any size
 *           tokens: { textInput: 5, imageInput: 8, imageOutput: 30 }   # USD per 1M tokens
 *         gpt-image-1-mini: 0.02          # per model
 *
 * A per-image override also replaces the token-based actual cost (a gateway that bills per
 * image); a `tokens` override replaces the token prices.
 */

import type { DeclaredModel, GenerateParams } from '../manifest/types.js';
import {
  AUTO_FROM_TARGETS,
  chooseSizeForAspect,
  formatSize,
  parseSize,
  resolveOpenAiModel,
  validSizes,
} from './openai-models.js';

/**
 * The table id a model prices as: its own, a snapshot's family, a declared model's `like`, or an
 * unknown model's relative.
 */
function familyOf(model: string, declaration?: DeclaredModel): string | undefined {
  const resolved = resolveOpenAiModel(model, declaration);
  return resolved ? (resolved.like ?? resolved.spec.id) : undefined;
}

export const PRICES_CHECKED = '2026-12';

type PricedQuality = 'low' | 'medium' | 'high' | 'xhigh' | 'max';

/** USD per 1M tokens. */
export interface TokenPrices {
  textInput: number;
  imageInput: number;
  imageOutput: number;
  /** Text output tokens (reasoning), where the model bills them. */
  textOutput?: number;
}

export interface ModelPrices {
  /** quality -> size -> USD per image; xhigh and max only on the models that take them. */
  perImage: Record<'low' | 'medium' | 'high', Record<string, number>> & Partial<Record<'xhigh' | 'max', Record<string, number>>>;
  /** Qualities whose per-image figure is gpt4k's conservative assumption, not a published price. */
  assumed?: readonly PricedQuality[];
  tokens: TokenPrices;
}

/** The conservative xhigh and max figures: the high row times 2 and 3. */
const XHIGH_FACTOR = 2;
const MAX_FACTOR = 3;

const legacy = (square: [number, number, number], oblong: [number, number, number]): ModelPrices['perImage'] => ({
  low: { '1024x1024': square[0], '1536x1024': oblong[0], '1024x1536': oblong[0] },
  medium: { '1024x1024': square[1], '1536x1024': oblong[1], '1024x1536': oblong[1] },
  high: { '1024x1024': square[2], '1536x1024': oblong[2], '1024x1536': oblong[2] },
});

const scaled = (row: Record<string, number>, factor: number): Record<string, number> =>
  Object.fromEntries(Object.entries(row).map(([size, usd]) => [size, Math.round(usd * factor * 1e6) / 1e6]));

const GPT_IMAGE_2_PER_IMAGE = legacy([0.006, 0.053, 0.211], [0.005, 0.041, 0.165]);
const GPT_IMAGE_2_TOKENS: TokenPrices = { textInput: 5, imageInput: 8, imageOutput: 30 };

/** The 2.5 and 2.6 models: gpt-image-2's prices, plus the assumed xhigh and max rows. */
const FLAGSHIP: ModelPrices = {
  perImage: {
    ...GPT_IMAGE_2_PER_IMAGE,
    xhigh: scaled(GPT_IMAGE_2_PER_IMAGE.high, XHIGH_FACTOR),
    max: scaled(GPT_IMAGE_2_PER_IMAGE.high, MAX_FACTOR),
  },
  assumed: ['xhigh', 'max'],
  tokens: GPT_IMAGE_2_TOKENS,
};

export const OPENAI_PRICES: Record<string, ModelPrices> = {
  'gpt-image-2.6-sunburst': FLAGSHIP,
  'gpt-image-2.6-flare': FLAGSHIP,
  'gpt-image-2.5-sunburst': FLAGSHIP,
  'gpt-image-2.5-flare': FLAGSHIP,
  'gpt-image-2': { perImage: GPT_IMAGE_2_PER_IMAGE, tokens: GPT_IMAGE_2_TOKENS },
  'gpt-image-1.5': {
    perImage: legacy([0.009, 0.034, 0.133], [0.013, 0.05, 0.2]),
    tokens: { textInput: 5, imageInput: 8, imageOutput: 32, textOutput: 10 },
  },
  'chatgpt-image-latest': {
    perImage: legacy([0.009, 0.034, 0.133], [0.013, 0.05, 0.2]),
    tokens: { textInput: 5, imageInput: 8, imageOutput: 32, textOutput: 10 },
  },
  'gpt-image-1': {
    perImage: legacy([0.011, 0.042, 0.167], [0.016, 0.063, 0.25]),
    tokens: { textInput: 5, imageInput: 10, imageOutput: 40 },
  },
  'gpt-image-1-mini': {
    perImage: legacy([0.005, 0.011, 0.036], [0.006, 0.015, 0.052]),
    tokens: { textInput: 2, imageInput: 2.5, imageOutput: 8 },
  },
};

/** The table entry for a model (snapshots and unknown gpt-image-* models price as their family). */
function pricesFor(model: string, declaration?: DeclaredModel): ModelPrices {
  const id = familyOf(model, declaration);
  return (id !== undefined ? OPENAI_PRICES[id] : undefined) ?? (OPENAI_PRICES['gpt-image-2'] as ModelPrices);
}

/** The size the price is looked up for: `auto` and `auto-from-targets` resolved pessimistically. */
function pricedSize(params: GenerateParams, prices: ModelPrices): string {
  if (params.size === 'auto') {
    const high = prices.perImage.high;
    return Object.keys(high).reduce((a, b) => ((high[b] ?? 0) > (high[a] ?? 0) ? b : a));
  }
  if (params.size === AUTO_FROM_TARGETS) {
    const spec = resolveOpenAiModel(params.model, params.modelDeclaration)?.spec;
    if (!spec) return chooseSizeForAspect('gpt-image-2', 1);
    const sizes = validSizes(spec, { experimental: false });
    const largest = sizes.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a), sizes[0]!);
    return formatSize(largest);
  }
  return params.size;
}

/**
 * The table row a quality is priced from: its own where the model has one; `auto` (and anything
 * unlisted) as the dearest quality the model takes, since auto may pick it.
 */
function pricedQuality(quality: string, prices: ModelPrices): PricedQuality {
  if (quality === 'low' || quality === 'medium' || quality === 'high') return quality;
  if ((quality === 'xhigh' || quality === 'max') && prices.perImage[quality]) return quality;
  return prices.perImage.max ? 'max' : prices.perImage.xhigh ? 'xhigh' : 'high';
}

/** The openai section of the manifest's `pricing:`, whether given whole or already narrowed. */
function openAiOverrides(pricing: Record<string, unknown> | undefined): unknown {
  if (pricing === undefined) return undefined;
  return Object.hasOwn(pricing, 'openai') ? pricing['openai'] : pricing;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flatPrice(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * A manifest per-image price for these parameters, the most specific level that has one:
 * `pricing:` for the model, then (for estimates) the price its `models:` declaration gives, then
 * `pricing:` for the model it prices as.
 */
function overridePerImage(params: GenerateParams, size: string, pricing: Record<string, unknown> | undefined, use: 'estimate' | 'actual' = 'estimate'): number | undefined {
  const openai = openAiOverrides(pricing);
  const flat = flatPrice(openai);
  if (flat !== undefined) return flat;
  const section = isRecord(openai) ? openai : {};
  const declared = use === 'estimate' && params.modelDeclaration?.id === params.model ? params.modelDeclaration.price : undefined;
  const family = familyOf(params.model, params.modelDeclaration);
  const model = section[params.model] ?? declared ?? (family !== undefined ? section[family] : undefined);
  if (flatPrice(model) !== undefined) return flatPrice(model);
  if (!isRecord(model)) return undefined;
  const quality = model[params.quality] ?? model[pricedQuality(params.quality, pricesFor(params.model, params.modelDeclaration))];
  if (flatPrice(quality) !== undefined) return flatPrice(quality);
  if (!isRecord(quality)) return undefined;
  return flatPrice(quality[size]);
}

function overrideTokens(params: GenerateParams, pricing: Record<string, unknown> | undefined): Partial<TokenPrices> {
  const openai = openAiOverrides(pricing);
  if (!isRecord(openai)) return {};
  const family = familyOf(params.model, params.modelDeclaration);
  const model = openai[params.model] ?? (family !== undefined ? openai[family] : undefined);
  if (!isRecord(model) || !isRecord(model['tokens'])) return {};
  const out: Partial<TokenPrices> = {};
  for (const key of ['textInput', 'imageInput', 'imageOutput', 'textOutput'] as const) {
    const v = flatPrice(model['tokens'][key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function tablePerImage(prices: ModelPrices, quality: PricedQuality, size: string): number {
  const row = prices.perImage[quality] ?? prices.perImage.high;
  const listed = row[size];
  if (listed !== undefined) return listed;
  const parsed = parseSize(size);
  const square = row['1024x1024'] ?? 0;
  if (!parsed) return Math.max(...Object.values(row));
  return square * ((parsed.width * parsed.height) / (1024 * 1024));
}

/**
 * Estimated USD for one image with these parameters: the manifest's override where it has one,
 * else the documented table.
 *
 * @example estimateOpenAiCost({ provider: 'openai', model: 'gpt-image-1', size: '1536x1024', quality: 'high', options: {} }) // 0.25
 */
export function estimateOpenAiCost(params: GenerateParams, pricing?: Record<string, unknown>): number {
  const prices = pricesFor(params.model, params.modelDeclaration);
  const size = pricedSize(params, prices);
  const override = overridePerImage(params, size, pricing);
  if (override !== undefined) return override;
  return roundUsd(tablePerImage(prices, pricedQuality(params.quality, prices), size));
}

/**
 * What an estimate rests on, for `plan` to say: a manifest `override`, a `published` per-image
 * price, or gpt4k's conservative `assumed` figure (xhigh and max, and auto on the models that
 * take them).
 */
export function openAiEstimateBasis(params: GenerateParams, pricing?: Record<string, unknown>): 'override' | 'published' | 'assumed' {
  const prices = pricesFor(params.model, params.modelDeclaration);
  if (overridePerImage(params, pricedSize(params, prices), pricing) !== undefined) return 'override';
  return prices.assumed?.includes(pricedQuality(params.quality, prices)) ? 'assumed' : 'published';
}

/** The `usage` object of an images response, as far as cost needs it. */
export interface ImageUsage {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { text_tokens?: number; image_tokens?: number };
  output_tokens_details?: { text_tokens?: number; image_tokens?: number };
}

/**
 * The actual USD of one response: a manifest per-image override when there is one, else the
 * token prices applied to `usage`, else (no usage) the per-image estimate.
 */
export function openAiActualCost(
  params: GenerateParams,
  usage: ImageUsage | undefined,
  pricing?: Record<string, unknown>,
  sentSize?: string,
): number {
  const sized = sentSize !== undefined ? { ...params, size: sentSize } : params;
  const prices = pricesFor(params.model, params.modelDeclaration);
  // A declared model's price is an estimate: what it really cost comes from the usage.
  const override = overridePerImage(sized, pricedSize(sized, prices), pricing, 'actual');
  if (override !== undefined) return override;
  if (!usage || typeof usage.output_tokens !== 'number') return estimateOpenAiCost(sized, pricing);
  const tokens = { ...prices.tokens, ...overrideTokens(params, pricing) };
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const inputText = usage.input_tokens_details
    ? n(usage.input_tokens_details.text_tokens)
    : n(usage.input_tokens);
  const inputImage = n(usage.input_tokens_details?.image_tokens);
  const outputText = n(usage.output_tokens_details?.text_tokens);
  const outputImage = usage.output_tokens_details
    ? n(usage.output_tokens_details.image_tokens)
    : n(usage.output_tokens);
  const usd =
    inputText * tokens.textInput +
    inputImage * tokens.imageInput +
    outputImage * tokens.imageOutput +
    outputText * (tokens.textOutput ?? tokens.textInput);
  return roundUsd(usd / 1_000_000);
}

function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
