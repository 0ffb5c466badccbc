/**
 * What each OpenAI image model takes, as data: one entry per model, each with where it was read
 * and when. The checks built on it live in openai-models.ts, the prices in pricing.ts.
 *
 * The source of truth for parameter names and values is the installed `openai` SDK's own types
 * (node_modules/openai/resources/images.d.ts, 7.60.0, 2026-11-18): `ImageModel`, the `quality`
 * union (`low | medium | high | xhigh | max | auto`), `complexity` (`low | medium | high`), "up to
 * 16 images" for edits, and the shut-down notes on `gpt-image-1` and DALL·E. Where the SDK's
 * prose is silent (what gpt-image-2.6 takes beyond being listed) an entry says what it rests on.
 *
 * Sizes, as the SDK documents them for gpt-image-2 and the 2.5 models: any `WIDTHxHEIGHT` with
 * both edges multiples of 16, the aspect ratio between 1:3 and 3:1, at most 3840x2160; outputs
 * above 2560x1440 are experimental. gpt4k reads "at most 3840x2160" as a pixel budget plus an edge
 * limit, so a portrait 2160x3840 is as valid as the landscape. The older models make
 * 1024x1024, 1536x1024 and 1024x1536 only. Every model also takes `auto`.
 */

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

/** Whether a model is served, and if not since when and what replaces it. */
export type ModelStatus =
  | { kind: 'current' }
  | { kind: 'preview' }
  | { kind: 'deprecated'; shutdown?: string; successors: readonly string[] }
  | { kind: 'shut-down'; date: string; successors: readonly string[] };

export interface OpenAiModelSpec {
  id: string;
  /** Dated snapshot ids that behave as this model (`gpt-image-2.5-sunburst-2026-09-08`). */
  snapshots: readonly string[];
  /** A fixed list of `WxH` sizes, or the rules of a flexible-size model. */
  sizes: readonly string[] | FlexibleSizeRules;
  qualities: readonly string[];
  /** `background: transparent`: made, made as a preview, or not made. */
  transparentBackground: 'supported' | 'preview' | 'unsupported';
  /** The `complexity` parameter (planning effort, independent of quality) is documented. */
  complexity: boolean;
  /** Input images an edit takes (the style's references). */
  maxReferenceImages: number;
  status: ModelStatus;
  /** Where the entry was read. */
  source: string;
  /** When the entry was last checked against its source (YYYY-MM-DD). */
  checked: string;
}

/** Every quality value the SDK's request types allow for GPT image models. */
export const SDK_QUALITIES = ['low', 'medium', 'high', 'xhigh', 'max', 'auto'] as const;
export type SdkQuality = (typeof SDK_QUALITIES)[number];

const QUALITIES: readonly SdkQuality[] = ['low', 'medium', 'high', 'auto'];
const QUALITIES_2_5: readonly SdkQuality[] = ['low', 'medium', 'high', 'xhigh', 'max', 'auto'];
const LEGACY_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;

export const GPT_IMAGE_2_SIZES: FlexibleSizeRules = {
  multipleOf: 16,
  maxEdge: 3840,
  minPixels: 655_360,
  maxPixels: 3840 * 2160,
  maxAspect: 3,
  experimentalAbovePixels: 2560 * 1440,
};

const SDK = 'openai 7.60.0 resources/images.d.ts (ImageModel, ImageGenerateParams, ImageEditParams)';
const SDK_2_6 =
  'openai 7.60.0 ImageModel lists it; qualities, complexity and 16 references from OpenAI\'s Images 2.6 launch (2026-11-04) as docs.comfy.org and docs.apiyi.com relay it; sizes as 2.5';
const CHECKED = '2026-12-01';
const SUCCESSORS = ['gpt-image-2.5-sunburst', 'gpt-image-2.5-flare'] as const;

/** The 2.5 and 2.6 models: one shape, four ids. */
function flagship(id: string, snapshots: readonly string[], source: string): OpenAiModelSpec {
  return {
    id,
    snapshots,
    sizes: GPT_IMAGE_2_SIZES,
    qualities: QUALITIES_2_5,
    transparentBackground: 'supported',
    complexity: true,
    maxReferenceImages: 16,
    status: { kind: 'current' },
    source,
    checked: CHECKED,
  };
}

function legacy(id: string, status: ModelStatus = { kind: 'current' }): OpenAiModelSpec {
  return {
    id,
    snapshots: [],
    sizes: LEGACY_SIZES,
    qualities: QUALITIES,
    transparentBackground: 'supported',
    complexity: false,
    maxReferenceImages: 16,
    status,
    source: SDK,
    checked: CHECKED,
  };
}

/** Newest first: an unknown model is checked as the first entry of its variant. */
export const OPENAI_MODELS: readonly OpenAiModelSpec[] = [
  flagship('gpt-image-2.6-sunburst', [], SDK_2_6),
  flagship('gpt-image-2.6-flare', [], SDK_2_6),
  flagship('gpt-image-2.5-sunburst', ['gpt-image-2.5-sunburst-2026-09-08'], SDK),
  flagship('gpt-image-2.5-flare', ['gpt-image-2.5-flare-2026-09-08'], SDK),
  {
    id: 'gpt-image-2',
    snapshots: ['gpt-image-2-2026-04-21'],
    sizes: GPT_IMAGE_2_SIZES,
    qualities: QUALITIES,
    transparentBackground: 'preview',
    complexity: false,
    maxReferenceImages: 16,
    status: { kind: 'current' },
    source: SDK,
    checked: CHECKED,
  },
  legacy('gpt-image-1.5'),
  legacy('gpt-image-1-mini'),
  legacy('chatgpt-image-latest'),
  legacy('gpt-image-1', { kind: 'shut-down', date: '2026-10-23', successors: SUCCESSORS }),
  { ...legacy('dall-e-3', { kind: 'shut-down', date: '2026-05-12', successors: SUCCESSORS }), qualities: ['standard', 'hd'] },
  { ...legacy('dall-e-2', { kind: 'shut-down', date: '2026-05-12', successors: SUCCESSORS }), sizes: ['256x256', '512x512', '1024x1024'] },
];

/** The model an unknown id is checked as when nothing closer is known. */
export const NEWEST_MODEL = 'gpt-image-2.6-sunburst';
