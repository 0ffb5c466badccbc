/**
 * The manifest-time checks of the openai provider, built on the model table
 * (openai-model-table.ts), so that nothing invalid ever reaches the API, and nothing blocks a
 * model the table does not know yet: an unknown `gpt-image-*` id is checked as its nearest
 * known relative, and what that relative would refuse is a warning, for the API to decide.
 *
 * `size` also takes `auto`; gpt4k adds `auto-from-targets`, which the graph resolves with
 * `chooseSizeForAspect` before the request is made.
 */

import { closest } from '../manifest/suggest.js';
import type { DeclaredModel, GenerateParams } from '../manifest/types.js';
import type { Diagnostic, SourcePosition } from '../util/errors.js';
import { positionOf, type FieldPositions } from './types.js';
import { checkOpenAiOptions } from './openai-options.js';
import { NEWEST_MODEL, OPENAI_MODELS, SDK_QUALITIES, type FlexibleSizeRules, type OpenAiModelSpec } from './openai-model-table.js';

export { OPENAI_MODELS, type FlexibleSizeRules, type OpenAiModelSpec } from './openai-model-table.js';
export { OPENAI_REQUEST_OPTIONS, OPENAI_TRANSPORT_OPTIONS } from './openai-options.js';

export const AUTO_FROM_TARGETS = 'auto-from-targets';

/**
 * The spec for a model id, dated snapshots included (`gpt-image-2-2026-04-21` is gpt-image-2).
 * Undefined for a model gpt4k does not know.
 */
export function openAiModelSpec(model: string): OpenAiModelSpec | undefined {
  const exact = OPENAI_MODELS.find((m) => m.id === model || m.snapshots.includes(model));
  if (exact) return exact;
  // A snapshot the table does not list yet. Longest id first, so gpt-image-1-mini-... is not
  // read as gpt-image-1.
  const byLength = [...OPENAI_MODELS].sort((a, b) => b.id.length - a.id.length);
  return byLength.find((m) => new RegExp(`^${escapeRegExp(m.id)}-\\d{4}-\\d{2}-\\d{2}$`).test(model));
}

/** A model's spec, whether the table knows it (`known`) or it is checked as a relative. */
export interface ResolvedModel {
  spec: OpenAiModelSpec;
  /** Checked strictly: the table knows it, or the manifest declares it. */
  known: boolean;
  /** For an unknown or declared model: the id it is checked (and priced) as. */
  like?: string;
  /** The manifest's `models:` section declares it. */
  declared?: boolean;
}

/**
 * The spec `model` is checked against: the manifest's declaration where there is one (see
 * `declaredSpec`); its own; or for an unknown GPT image id, the newest known model of the same
 * variant (`gpt-image-2.7-flare` is checked as gpt-image-2.6-flare, `gpt-image-3` as the newest
 * model). Undefined for an id that is no GPT image model.
 */
export function resolveOpenAiModel(model: string, declaration?: DeclaredModel): ResolvedModel | undefined {
  if (declaration && declaration.id === model && declaration.provider === 'openai') return declaredSpec(declaration);
  const spec = openAiModelSpec(model);
  if (spec) return { spec, known: true };
  if (!/^(chatgpt-)?gpt-image-/.test(model)) return undefined;
  const variant = variantOf(model);
  const current = OPENAI_MODELS.filter((m) => m.status.kind === 'current' || m.status.kind === 'preview');
  const relative =
    (variant ? current.find((m) => variantOf(m.id) === variant) : undefined) ??
    current.find((m) => m.id === NEWEST_MODEL) ??
    (current[0] as OpenAiModelSpec);
  return { spec: { ...relative, id: model, snapshots: [] }, known: false, like: relative.id };
}

/** The spec of the model a set of generate parameters names, its manifest declaration included. */
export function resolveParamsModel(params: Pick<GenerateParams, 'model' | 'modelDeclaration'>): ResolvedModel | undefined {
  return resolveOpenAiModel(params.model, params.modelDeclaration);
}

/**
 * A declared model's spec: the model it is `like` (else the table's own entry, else the nearest
 * relative), with what the declaration says in place of that model's sizes, qualities and
 * reference limit. A declared model is served: its status is current whatever its relative's.
 */
function declaredSpec(declaration: DeclaredModel): ResolvedModel {
  const base = (declaration.like !== undefined ? openAiModelSpec(declaration.like) : undefined) ?? resolveOpenAiModel(declaration.id)?.spec ?? newestSpec();
  const spec: OpenAiModelSpec = {
    ...base,
    id: declaration.id,
    snapshots: [],
    sizes: declaration.sizes ?? base.sizes,
    qualities: declaration.qualities ?? base.qualities,
    maxReferenceImages: declaration.maxReferenceImages ?? base.maxReferenceImages,
    status: { kind: 'current' },
    source: "the manifest's models: section",
  };
  return { spec, known: true, like: declaration.like ?? (base.id === declaration.id ? undefined : base.id), declared: true };
}

/** `sunburst` of gpt-image-2.6-sunburst-2026-11-04, `mini` of gpt-image-1-mini; undefined for gpt-image-2. */
function variantOf(model: string): string | undefined {
  const m = /^(?:chatgpt-)?gpt-image-[\d.]+-([a-z]+)/.exec(model);
  return m?.[1];
}

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
export function chooseSizeForAspect(model: string, aspect: number, declaration?: DeclaredModel): string {
  return formatSize(largestDependable(resolveOpenAiModel(model, declaration)?.spec ?? newestSpec(), aspect));
}

/** chooseSizeForAspect for a spec. */
function largestDependable(spec: OpenAiModelSpec, aspect: number): Size {
  const target = Number.isFinite(aspect) && aspect > 0 ? aspect : 1;
  const candidates = validSizes(spec, { experimental: false }).map((size) => ({
    size,
    error: Math.abs(Math.log(size.width / size.height / target)),
    pixels: size.width * size.height,
  }));
  if (candidates.length === 0) return { width: 1024, height: 1024 };
  const bestError = Math.min(...candidates.map((c) => c.error));
  const tolerance = isFixed(spec.sizes) ? 1e-9 : 0.01;
  const matching = candidates.filter((c) => c.error <= bestError + tolerance);
  matching.sort((a, b) => b.pixels - a.pixels || a.error - b.error);
  return matching[0]!.size;
}

/**
 * Manifest-time checks of `generate` parameters for the openai provider: the model (a shut-down
 * one is an error naming its successor), the quality, the size and every option, each error
 * with its fix. For a model the table does not know, what its nearest relative would refuse is
 * a warning: gpt4k's table must never be what blocks a model released after it.
 */
export function validateOpenAiParams(params: GenerateParams, at: SourcePosition | undefined, fieldAt?: FieldPositions): Diagnostic[] {
  const out: Diagnostic[] = [];
  const reporters = (where: SourcePosition | undefined): { error: Report; warn: Report } => ({
    error: (code, message, hint) => out.push({ code, message, hint, at: where, severity: 'error' }),
    warn: (code, message, hint) => out.push({ code, message, hint, at: where, severity: 'warning' }),
  });
  const { error, warn } = reporters(at);
  const onModel = reporters(positionOf('model', at, fieldAt));
  const onQuality = reporters(positionOf('quality', at, fieldAt));
  const onSize = reporters(positionOf('size', at, fieldAt));

  const model = params.model;
  const resolved = resolveParamsModel(params);
  if (!resolved) {
    const guess = closest(model, currentIds());
    onModel.error(
      'E_UNKNOWN_MODEL',
      `model "${model}" is not an OpenAI image model`,
      guess ? `did you mean "${guess}"?` : `use one of: ${currentIds().join(', ')}`,
    );
    return out;
  }
  const { spec, known } = resolved;
  if (!checkStatus(spec, onModel.error, onModel.warn)) return out;
  if (!known) {
    onModel.warn(
      'W_UNKNOWN_MODEL',
      `model "${model}" is not in gpt4k's table (checked ${spec.checked}); checking it as ${resolved.like}, and what that model would refuse is only a warning`,
      `the API decides; to check it strictly, declare it under models: (e.g. ${model}: { like: ${resolved.like} }), or update gpt4k, whose table will learn the model`,
    );
  }
  // For an unknown model, the relative's limits are a guess: warn instead of refusing.
  const lenient = (report: { warn: Report }): Report => (code, message, hint) => report.warn('W_UNKNOWN_MODEL', `${message} (as ${resolved.like}; ${code})`, hint);
  const strictOn = (report: { error: Report; warn: Report }): Report => (known ? report.error : lenient(report));

  const badQuality = qualityProblem(spec, params.quality);
  if (badQuality) {
    // A value outside the SDK's own quality type cannot be sent at all, known model or not.
    const sendable = (SDK_QUALITIES as readonly string[]).includes(params.quality);
    (sendable ? strictOn(onQuality) : onQuality.error)('E_INVALID_QUALITY', badQuality.message, badQuality.hint);
  }

  checkSize(spec, params.size, onSize.error, strictOn(onSize), onSize.warn);
  checkOpenAiOptions(spec, params.options, error, warn);
  return out;
}

/** A shut-down model is an error, a deprecated one a warning; false when nothing else is worth checking. */
function checkStatus(spec: OpenAiModelSpec, error: Report, warn: Report): boolean {
  const status = spec.status;
  const instead = (ids: readonly string[]): string =>
    ids.length === 2 ? `use "${ids[0]}" (finals) or "${ids[1]}" (drafts)` : `use ${ids.map((id) => `"${id}"`).join(' or ')}`;
  if (status.kind === 'shut-down') {
    error('E_UNSUPPORTED_MODEL', `model "${spec.id}" was shut down on ${status.date}: OpenAI no longer serves it`, `${instead(status.successors)}; both make every size ${spec.id} made`);
    return false;
  }
  if (status.kind === 'deprecated') {
    const until = status.shutdown ? ` and shuts down on ${status.shutdown}` : '';
    warn('W_DEPRECATED_MODEL', `model "${spec.id}" is deprecated${until}`, instead(status.successors));
  }
  return true;
}

function currentIds(): string[] {
  return OPENAI_MODELS.filter((m) => m.status.kind !== 'shut-down').map((m) => m.id);
}

/** Why `quality` is not one `spec`'s model takes (E_INVALID_QUALITY), with the fix; undefined when it is. */
export function qualityProblem(spec: OpenAiModelSpec, quality: string): { message: string; hint: string } | undefined {
  if (spec.qualities.includes(quality)) return undefined;
  const retired = RETIRED_QUALITIES[quality];
  if (retired) return { message: `quality "${quality}" belonged to dall-e-3; ${spec.id} takes ${spec.qualities.join(', ')}`, hint: `use "${retired}"` };
  const takers = OPENAI_MODELS.filter((m) => m.status.kind === 'current' && m.qualities.includes(quality)).map((m) => m.id);
  if (takers.length > 0) {
    const best = spec.qualities.filter((q) => q !== 'auto').at(-1) ?? 'high';
    return {
      message: `quality "${quality}" is not a quality of ${spec.id} (it takes ${spec.qualities.join(', ')})`,
      hint: `use "${best}", or a model that takes "${quality}": ${takers.join(', ')}`,
    };
  }
  const guess = closest(quality, spec.qualities);
  return {
    message: `quality "${quality}" is not a quality of ${spec.id}`,
    hint: guess ? `did you mean "${guess}"? (${spec.qualities.join(', ')})` : `use one of: ${spec.qualities.join(', ')}`,
  };
}

/**
 * Why an edit with `count` input images is more than `model` takes (E_TOO_MANY_REFERENCES), or
 * undefined. An unknown model is held to its relative's limit: the request would be refused.
 */
export function referenceLimitProblem(model: string, count: number, declaration?: DeclaredModel): { message: string; hint: string } | undefined {
  const spec = resolveOpenAiModel(model, declaration)?.spec;
  if (!spec || count <= spec.maxReferenceImages) return undefined;
  return {
    message: `${count} reference images are more than ${model} takes in one edit (at most ${spec.maxReferenceImages})`,
    hint: `list at most ${spec.maxReferenceImages} references`,
  };
}

export type Report = (code: string, message: string, hint?: string) => void;

function checkSize(spec: OpenAiModelSpec, sizeText: string, error: Report, strict: Report, warn: Report): void {
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
    strict(
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
      `for dependable results use "${formatSize(largestDependable(spec, size.width / size.height))}" and let the upscaler do the rest`,
    );
  }
}

function newestSpec(): OpenAiModelSpec {
  return OPENAI_MODELS.find((m) => m.id === NEWEST_MODEL) as OpenAiModelSpec;
}

function isFixed(sizes: OpenAiModelSpec['sizes']): sizes is readonly string[] {
  return Array.isArray(sizes);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

