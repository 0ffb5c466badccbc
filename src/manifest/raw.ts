/**
 * The manifest as the schema has checked it, before defaults, includes and references are
 * resolved. Only code that runs after `validateSchema` may treat parsed data as these types.
 */

export interface RawGenerate {
  provider?: string;
  model?: string;
  size?: string;
  quality?: string;
  seed?: number;
  batch?: boolean;
  background?: string;
  output_format?: string;
  moderation?: string;
  output_compression?: number;
  options?: Record<string, unknown>;
}

export interface RawUpscale {
  engine?: string;
  scale?: 1 | 2 | 4;
  model?: string;
  sharpen?: boolean;
  tile?: 'auto' | number;
  binary?: string;
  models?: string;
  fallback?: string;
}

export interface RawColor {
  profile?: string;
  intent?: 'perceptual' | 'relative' | 'saturation' | 'absolute';
  bpc?: boolean;
}

export interface RawPrintTarget {
  paper: 'A0' | 'A1' | 'A2' | 'A3' | 'A4' | 'A5' | 'custom';
  width_mm?: number;
  height_mm?: number;
  orientation?: 'portrait' | 'landscape';
  dpi?: number;
  bleed_mm?: number;
  color?: RawColor;
  format?: 'tiff' | 'pdf' | 'png' | 'jpeg';
  fit?: 'cover' | 'contain' | 'fill';
  quality?: number;
  preflight?: 'error' | 'warn' | 'off';
  minDpi?: number;
  inkLimit?: number;
}

export interface RawScreenTarget {
  width: number;
  height: number;
  fit?: 'cover' | 'contain' | 'fill';
  format?: 'png' | 'jpeg';
  quality?: number;
  color?: RawColor;
}

/** A screen target sized by a named preset (uhd, 8k, dooh, instagram-square, ...). */
export interface RawPresetTarget {
  preset: string;
  orientation?: 'portrait' | 'landscape';
  fit?: 'cover' | 'contain' | 'fill';
  format?: 'png' | 'jpeg';
  quality?: number;
  color?: RawColor;
}

export type RawTarget = RawPrintTarget | RawScreenTarget | RawPresetTarget;

export interface RawNormalize {
  background?: 'white';
  threshold?: number;
}

/** `prompt:` as a structure, compiled in a fixed order (src/manifest/prompt-compile.ts). */
export interface RawStructuredPrompt {
  subject: string;
  composition?: string;
  style?: string;
  details?: string[];
  lighting?: string;
}

export type RawPrompt = string | RawStructuredPrompt;

/** A `modes:` entry: overrides applied to every asset when building in that mode. */
export interface RawMode {
  generate?: RawGenerate;
  upscale?: RawUpscale;
  targets?: string[];
  output?: string;
}

export interface RawStyle {
  prefix?: string;
  reference?: string | string[];
  whiteBalance?: string;
  normalize?: RawNormalize;
}

/** `metadata:` (defaults, an asset, a catalog's templates): rights and keywords for the XMP. */
export interface RawMetadata {
  copyright?: string;
  credit?: string;
  usageTerms?: string;
  keywords?: string[];
}

export interface RawAsset {
  prompt?: RawPrompt;
  normalize?: RawNormalize;
  style?: string;
  source?: string;
  generate?: RawGenerate;
  upscale?: RawUpscale;
  targets?: string[];
  variants?: number;
  metadata?: RawMetadata;
}

export interface RawBatchEntry extends Omit<RawAsset, 'source'> {
  id: string;
}

export interface RawInclude {
  file: string;
  style?: string;
  targets?: string[];
}

/** An include of a CSV or JSON Lines catalog: templates over its columns, one asset per row. */
export interface RawCatalogInclude extends RawInclude {
  id?: string;
  prompt?: RawPrompt;
  generate?: RawGenerate;
  upscale?: RawUpscale;
  normalize?: RawNormalize;
  metadata?: RawMetadata;
  delimiter?: string;
}

export interface RawManifest {
  version: 1;
  output?: string;
  defaults?: { generate?: RawGenerate; upscale?: RawUpscale; targets?: string[]; metadata?: RawMetadata };
  limits?: { generate?: number; process?: number; gpu?: number; imagesPerMinute?: number; maxCostUsd?: number };
  cache?: { remote?: RawRemoteCache };
  styles?: Record<string, RawStyle>;
  profiles?: Record<string, string>;
  pricing?: Record<string, unknown>;
  provenance?: { prompt?: boolean };
  targets?: Record<string, RawTarget>;
  assets?: Record<string, RawAsset>;
  include?: Array<string | RawCatalogInclude>;
  modes?: Record<string, RawMode>;
  models?: Record<string, RawModelDeclaration>;
}

export interface RawModelDeclaration {
  like?: string;
  provider?: string;
  sizes?: string[];
  qualities?: string[];
  maxReferenceImages?: number;
  price?: number | Record<string, unknown>;
}

export function isPrintTarget(target: RawTarget): target is RawPrintTarget {
  return 'paper' in target;
}

export function isPresetTarget(target: RawTarget): target is RawPresetTarget {
  return 'preset' in target;
}

/**
 * The manifest's `cache.remote`, as the schema checked it (resolved with --remote-cache and
 * the environment at build time, by cache/remote/config.ts, which has its own copy of this shape:
 * cache/ does not import manifest/).
 */
export interface RawRemoteCache {
  url?: string;
  backend?: 'http' | 'turborepo';
  read?: boolean;
  write?: boolean;
  timeoutMs?: number;
  uploads?: number;
  team?: string;
}
