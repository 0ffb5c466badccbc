import path from 'node:path';
import { compilePrompt, type PromptSpec } from './prompt-compile.js';
import type { GenerateParams, NormalizeParams, PositionedGenerateField, ResolvedAsset, ResolvedStyle, UpscaleParams } from './types.js';
import { promptSpans, type FieldText } from './prompt-origin.js';
import type { ManifestBackends } from './backends.js';
import type { Diagnostics } from './context.js';
import { DEFAULTS, NO_UPSCALE } from './defaults.js';
import { isFile, isInside, staysInsideOnDisk } from './paths.js';
import type { DataPath, Located, SourceFile } from './positions.js';
import { resolveMetadata } from './metadata.js';
import type { RawAsset, RawGenerate, RawMetadata, RawNormalize, RawUpscale } from './raw.js';
import { quote } from './schema.js';
import { didYouMean } from './suggest.js';

/** An asset as declared, in the manifest or in an include file, with where it was declared. */
export interface AssetEntry {
  id: string;
  raw: RawAsset;
  source: SourceFile;
  /** Path of the asset's object inside `source`. */
  path: DataPath;
  /** Where the id is written: the key in the manifest, the `id` value in an include. */
  idAt: Located;
  /** Defaults from the include entry ({ file, style, targets }). */
  inherited?: { style?: string; targets?: string[] };
  /** "row 7 of skus.csv": an asset made from a catalog row. */
  label?: string;
  /** A catalog row's rendered prompt fields (key: JSON of the path inside `prompt`), with their origins. */
  fieldTexts?: Map<string, FieldText>;
}

export interface AssetScope {
  root: string;
  styles: Map<string, ResolvedStyle>;
  targetIds: string[];
  /** defaults.targets; undefined means every target. */
  defaultTargets: string[] | undefined;
  generate: GenerateParams;
  /** Where defaults.generate's positioned fields are written. */
  generateAt: GeneratePositions;
  upscale: UpscaleParams;
  /** defaults.metadata. */
  metadata: RawMetadata | undefined;
  diagnostics: Diagnostics;
  backends: ManifestBackends;
}

export type GeneratePositions = Partial<Record<PositionedGenerateField, Located>>;

const POSITIONED_FIELDS: readonly PositionedGenerateField[] = ['provider', 'model', 'size', 'quality'];

/**
 * Where each positioned field of a merged `generate` was written: the layer's own position for
 * the fields `over` (the `generate:` under `at`) sets, the earlier layers' for the rest.
 */
export function generatePositions(base: GeneratePositions, over: RawGenerate | undefined, source: SourceFile, at: DataPath): GeneratePositions {
  if (!over) return base;
  const positions = { ...base };
  for (const field of POSITIONED_FIELDS) {
    if (over[field] !== undefined) positions[field] = source.valueAt([...at, 'generate', field]);
  }
  return positions;
}

/** Keys of `generate:` that GenerateParams holds itself; the rest go to `options`. */
const CORE_GENERATE_KEYS = new Set(['provider', 'model', 'size', 'quality', 'seed', 'batch', 'options']);

export function mergeGenerate(base: GenerateParams, over: RawGenerate | undefined): GenerateParams {
  if (!over) return base;
  const merged: GenerateParams = {
    provider: over.provider ?? base.provider,
    model: over.model ?? base.model,
    size: over.size ?? base.size,
    quality: over.quality ?? base.quality,
    options: { ...base.options, ...over.options },
  };
  const seed = over.seed ?? base.seed;
  if (seed !== undefined) merged.seed = seed;
  const batch = over.batch ?? base.batch;
  if (batch !== undefined) merged.batch = batch;
  for (const [key, value] of Object.entries(over)) {
    if (!CORE_GENERATE_KEYS.has(key) && value !== undefined) merged.options[key] = value;
  }
  return merged;
}

/** Merges upscale settings; binary and models paths become absolute (they may lie outside root). */
export function mergeUpscale(base: UpscaleParams, over: RawUpscale | undefined, root: string): UpscaleParams {
  if (!over) return base;
  const merged: UpscaleParams = { ...base };
  for (const [key, value] of Object.entries(over) as Array<[keyof RawUpscale, unknown]>) {
    if (value === undefined) continue;
    (merged as unknown as Record<string, unknown>)[key] = key === 'binary' || key === 'models' ? path.resolve(root, String(value)) : value;
  }
  return merged;
}

export const baseGenerate = (): GenerateParams => ({ ...DEFAULTS.generate, options: {} });
export const baseUpscale = (): UpscaleParams => ({ ...DEFAULTS.upscale });

/** Reports an unknown provider or engine named in `generate:` / `upscale:` at `path`. */
export function checkBackends(
  g: RawGenerate | undefined,
  u: RawUpscale | undefined,
  source: SourceFile,
  at: DataPath,
  diagnostics: Diagnostics,
  backends: ManifestBackends,
): void {
  const providerNames = backends.providerNames();
  if (g?.provider !== undefined && !providerNames.includes(g.provider)) {
    diagnostics.error(
      'E_UNKNOWN_PROVIDER',
      `unknown provider ${quote(g.provider)}`,
      source.valueAt([...at, 'generate', 'provider']),
      didYouMean(g.provider, providerNames),
    );
  }
  const upscalerNames = backends.upscalerNames();
  for (const field of ['engine', 'fallback'] as const) {
    const engine = u?.[field];
    if (engine === undefined || engine === NO_UPSCALE || upscalerNames.includes(engine)) continue;
    diagnostics.error(
      'E_UNKNOWN_ENGINE',
      `unknown upscale engine ${quote(engine)}${field === 'fallback' ? ' in fallback' : ''}`,
      source.valueAt([...at, 'upscale', field]),
      didYouMean(engine, [...upscalerNames, NO_UPSCALE]),
    );
  }
}

export function resolveAsset(entry: AssetEntry, scope: AssetScope): ResolvedAsset {
  const { raw, source } = entry;
  const { diagnostics } = scope;
  const valueAt = (...rest: Array<string | number>): Located => source.valueAt([...entry.path, ...rest]);

  checkBackends(raw.generate, raw.upscale, source, entry.path, diagnostics, scope.backends);

  const styleId = raw.style ?? entry.inherited?.style;
  const style = styleId === undefined ? undefined : scope.styles.get(styleId);
  // An include's style is checked once, where the include names it.
  if (raw.style !== undefined && !style) checkStyleName(raw.style, scope.styles, valueAt('style'), diagnostics);

  let sourceFile: string | undefined;
  if (raw.source !== undefined) sourceFile = resolveProjectImage(raw.source, scope.root, valueAt('source'), diagnostics);

  const compiled = compilePrompt(raw.prompt as PromptSpec | undefined);
  const ownPrompt = compiled.text;
  if (ownPrompt === '' && sourceFile === undefined && raw.source === undefined) {
    diagnostics.error(
      'E_MISSING_PROMPT',
      raw.prompt === undefined ? `asset ${quote(entry.id)} has neither a prompt nor a source` : `asset ${quote(entry.id)} has an empty prompt`,
      raw.prompt === undefined ? entry.idAt : valueAt('prompt'),
      'add prompt: "..." (what to generate), or source: path/to/image',
    );
  }
  if (raw.source !== undefined && raw.prompt !== undefined) {
    diagnostics.warn('W_PROMPT_IGNORED', `asset ${quote(entry.id)} has a source, so its prompt is not used`, valueAt('prompt'));
  }

  const targets = raw.targets ?? entry.inherited?.targets ?? scope.defaultTargets ?? scope.targetIds;
  if (raw.targets) checkTargetNames(raw.targets, scope.targetIds, source, [...entry.path, 'targets'], diagnostics);

  const prefix = style?.prefix.trim() ?? '';
  const asset: ResolvedAsset = {
    id: entry.id,
    // A source asset is never generated: no prompt, so no style prefix either.
    prompt: raw.source !== undefined ? ownPrompt : [prefix, ownPrompt].filter((s) => s !== '').join(' '),
    ownPrompt,
    generate: mergeGenerate(scope.generate, raw.generate),
    generateAt: generatePositions(scope.generateAt, raw.generate, source, entry.path),
    upscale: mergeUpscale(scope.upscale, raw.upscale, scope.root),
    targets: [...targets],
    at: entry.idAt.at,
  };
  if (styleId !== undefined && style) asset.style = styleId;
  if (raw.variants !== undefined && raw.variants > 1 && raw.source === undefined) asset.variants = raw.variants;
  if (sourceFile !== undefined) asset.source = sourceFile;
  const normalize = resolveNormalize(raw.normalize) ?? style?.normalize;
  if (normalize) asset.normalize = normalize;
  if (entry.label !== undefined) asset.origin = entry.label;
  const metadata = resolveMetadata(scope.metadata, raw.metadata);
  if (metadata) asset.metadata = metadata;
  if (raw.prompt !== undefined && raw.source === undefined) {
    const promptAt = valueAt('prompt');
    asset.promptAt = promptAt.at;
    asset.promptLine = promptAt.sourceLine;
    // Where each character of the prompt was written: only prompt lint asks (and its findings
    // are usually kept from the last run), so it is worked out on first use.
    let spans: ReturnType<typeof promptSpans> | undefined;
    Object.defineProperty(asset, 'promptSpans', {
      enumerable: true,
      configurable: true,
      get: () => (spans ??= promptSpans(compiled, source, [...entry.path, 'prompt'], entry.fieldTexts)),
    });
  }
  return asset;
}

/**
 * A source image (or a style's reference file) must exist and lie inside the project (its bytes
 * end up in out/, or go to a provider).
 */
export function resolveProjectImage(value: string, root: string, at: Located, diagnostics: Diagnostics, what = 'source'): string | undefined {
  const file = path.resolve(root, value);
  if (!isInside(root, file) || !staysInsideOnDisk(root, file)) {
    diagnostics.error('E_PATH_ESCAPE', `${what} ${quote(value)} is outside the project directory${isInside(root, file) ? ' (through a symlink)' : ''}`, at, `keep ${what} images under ${root}`);
    return undefined;
  }
  if (!isFile(file)) {
    diagnostics.error('E_MISSING_FILE', `${what === 'source' ? 'source image' : what} ${quote(value)} does not exist`, at, `looked for ${file}`);
    return undefined;
  }
  return file;
}

export function checkStyleName(name: string, styles: Map<string, ResolvedStyle>, at: Located, diagnostics: Diagnostics): void {
  if (styles.has(name)) return;
  diagnostics.error('E_UNKNOWN_STYLE', `unknown style ${quote(name)}`, at, didYouMean(name, styles.keys()) ?? (styles.size === 0 ? 'declare it under styles:' : undefined));
}

export function checkTargetNames(names: string[], known: string[], source: SourceFile, at: DataPath, diagnostics: Diagnostics): void {
  names.forEach((name, i) => {
    if (known.includes(name)) return;
    diagnostics.error(
      'E_UNKNOWN_TARGET',
      `unknown target ${quote(name)}`,
      source.valueAt([...at, i]),
      didYouMean(name, known) ?? (known.length === 0 ? 'declare it under targets:' : undefined),
    );
  });
}

/** Default `normalize.threshold`: backdrop pixels are within this of pure white on every channel. */
export const DEFAULT_CLEANUP_THRESHOLD = 24;

export function resolveNormalize(raw: RawNormalize | undefined): NormalizeParams | undefined {
  if (raw?.background !== 'white') return undefined;
  return { background: 'white', threshold: raw.threshold ?? DEFAULT_CLEANUP_THRESHOLD };
}
