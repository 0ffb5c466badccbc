import type { SourcePosition } from '../util/errors.js';
import type { Located } from './positions.js';

/**
 * The manifest after loading, validation, defaults and includes: everything the graph needs,
 * with every path absolute and every reference checked. Code that needs a resolved manifest
 * cannot be handed a raw one.
 */
export interface ResolvedManifest {
  /** Absolute path of assets.pipeline.yaml. */
  file: string;
  /** Project root: the manifest's directory. Nothing is written outside it. */
  root: string;
  version: 1;
  /** Absolute path of the deliverables folder (inside root). */
  outputDir: string;
  limits: Limits;
  /** The manifest's `cache.remote` (a shared remote cache), as written: resolved with the flag and environment at build time. */
  remoteCache?: import('./raw.js').RawRemoteCache;
  styles: Map<string, ResolvedStyle>;
  /** Profile name -> where its bytes come from. */
  profiles: Map<string, ProfileRef>;
  targets: Map<string, ResolvedTarget>;
  /** In manifest order (includes after the manifest's own assets). */
  assets: ResolvedAsset[];
  /** Files the manifest was read from (manifest + includes), for watch and cache keys. */
  inputFiles: string[];
  /** Manifest `pricing:` overrides, per provider -> model -> quality -> size (USD per image). */
  pricing: Record<string, unknown>;
  /** `provenance:`: whether the deliverables' XMP carries the prompt itself (absent: only its hash). */
  provenance?: { prompt: boolean };
  warnings: import('../util/errors.js').Diagnostic[];
  /** The `modes:` the manifest declares (draft, ...), and the one applied (absent: none). */
  modes?: string[];
  /** The models the manifest's `models:` section declares, in the order written. */
  models?: DeclaredModel[];
  mode?: string;
}

export interface Limits {
  /** Provider requests at once. */
  generate: number;
  /** CPU-heavy jobs at once (default: the core count). */
  process: number;
  /** AI upscales at once per device. */
  gpu: number;
  /** Provider images per minute (token bucket); undefined: unlimited. */
  imagesPerMinute?: number;
  /** Refuse to start a build whose estimate exceeds this. */
  maxCostUsd?: number;
}

export interface GenerateParams {
  provider: string; // "procedural" | "openai" | ...
  model: string;
  /** "WIDTHxHEIGHT" as the provider takes it, or "auto-from-targets" resolved by the graph. */
  size: string;
  quality: string;
  seed?: number;
  /** Send through the provider's batch API (half price, answered within 24 h); not part of the cache key. */
  batch?: boolean;
  /** Any further provider parameters (background, output_format, moderation, ...). */
  options: Record<string, unknown>;
  /**
   * What the manifest's `models:` section says about `model`, when it declares it. Providers
   * check and price the model by it; it is no part of any cache key (the model id is).
   */
  modelDeclaration?: DeclaredModel;
}

/**
 * A model gpt4k does not know, as the manifest declares it (`models:`): what it is like and what
 * differs. Checked against the provider's model table when the manifest loads.
 */
export interface DeclaredModel {
  id: string;
  /** The provider that serves it: the one of `like`, or the one named. */
  provider: string;
  /** A model the provider's table knows; everything not declared here is that model's. */
  like?: string;
  /** WIDTHxHEIGHT sizes the model makes (openai). */
  sizes?: string[];
  qualities?: string[];
  maxReferenceImages?: number;
  /** USD per image for estimates: a number, or quality -> USD or quality -> size -> USD. */
  price?: number | Record<string, unknown>;
}

/** The `generate:` fields whose errors point at where the value was written. */
export type PositionedGenerateField = 'provider' | 'model' | 'size' | 'quality';

export interface UpscaleParams {
  engine: string; // "lanczos" | "realesrgan" | "none"
  scale: number;
  model?: string;
  sharpen?: boolean;
  tile?: 'auto' | number;
  binary?: string; // absolute
  models?: string; // absolute
  fallback?: string;
}

/** One entry of a style's `reference:`: another asset's image, or an image file in the project. */
export type StyleReference = { asset: string } | { file: string; given: string };

export interface ResolvedStyle {
  id: string;
  prefix: string;
  /** `reference: hero` as written (one asset id); a list sets only `references`. */
  reference?: string;
  /**
   * The edit's input images, in order: `reference: hero` is one asset entry; a list may mix
   * asset ids and image files in the project (absolute `file`).
   */
  references?: StyleReference[];
  whiteBalance?: string; // asset id
  /** Packshot cleanup for the style's assets (an asset's own `normalize:` wins). */
  normalize?: NormalizeParams;
  at?: SourcePosition;
}

export type ProfileRef =
  | { kind: 'builtin'; name: BuiltinProfileName }
  | { kind: 'file'; path: string; at?: SourcePosition };

export type Fit = 'cover' | 'contain' | 'fill';
export type OutputFormat = 'tiff' | 'pdf' | 'png' | 'jpeg';
export type RenderingIntent = 'perceptual' | 'relative' | 'saturation' | 'absolute';

export interface ColorSpec {
  /** Profile name (a key of `profiles`, or a built-in: srgb, fogra39, swop-tr005, libvips-cmyk). */
  profile: string;
  intent: RenderingIntent;
  bpc: boolean;
}

export interface ResolvedTarget {
  id: string;
  /** Exact output pixel size, bleed included. */
  width: number;
  height: number;
  /** Trim size in pixels (without bleed). */
  trimWidth: number;
  trimHeight: number;
  dpi?: number;
  bleedMm: number;
  paper?: string; // "A3", "custom"
  /** Screen preset name (uhd, 8k, dooh, ...), when the target is one. */
  preset?: string;
  orientation?: 'portrait' | 'landscape';
  /** Physical trim size, when the target is print. */
  widthMm?: number;
  heightMm?: number;
  fit: Fit;
  format: OutputFormat;
  color: ColorSpec;
  /** JPEG quality. */
  quality?: number;
  /** Preflight policy for print targets. */
  preflight: 'error' | 'warn' | 'off';
  minDpi?: number;
  inkLimit?: number;
  at?: SourcePosition;
}

export interface ResolvedAsset {
  id: string;
  /** The final prompt text: the style prefix, then the asset's prompt. */
  prompt: string;
  /** The asset's own prompt, before the style prefix. */
  ownPrompt: string;
  style?: string;
  /** Absolute path of an existing image used instead of a generated one. */
  source?: string;
  generate: GenerateParams;
  /**
   * Where each of `generate`'s provider, model, size and quality was written (defaults.generate,
   * the asset, an include or a mode), for errors about the value; absent: the built-in default.
   */
  generateAt?: Partial<Record<PositionedGenerateField, Located>>;
  upscale: UpscaleParams;
  targets: string[];
  /** Candidate images to generate (`variants:`); absent means 1. The lock file says which is used. */
  variants?: number;
  at?: SourcePosition;
  /** Packshot cleanup after normalize (`normalize: { background: white }`). */
  normalize?: NormalizeParams;
  /** Where the characters of `ownPrompt` were written, for prompt lint positions. */
  promptSpans?: PromptSpan[];
  /** Where the prompt is written (a catalog row's asset: its template in the manifest). */
  promptAt?: SourcePosition;
  promptLine?: string;
  /** "row 7 of skus.csv" for an asset made from a catalog row. */
  origin?: string;
  /** Rights and keywords for its deliverables' XMP (defaults.metadata, then its own); absent when none. */
  metadata?: AssetMetadata;
}

/** `metadata:` resolved: only fields with a value (docs/provenance.md says where each is written). */
export interface AssetMetadata {
  copyright?: string;
  credit?: string;
  usageTerms?: string;
  keywords?: string[];
}

/** `normalize: { background: white, threshold }`: push a near-white backdrop to pure white. */
export interface NormalizeParams {
  background: 'white';
  /** Largest distance to white (0-255, per channel) that counts as backdrop. */
  threshold: number;
}

/** A run of a prompt's characters [start, end) and where they were written. */
export interface PromptSpan {
  start: number;
  end: number;
  at: SourcePosition;
  sourceLine: string;
  /** The run sits on one line one column per character, so character start+k is at col+k. */
  exact: boolean;
}

/**
 * Built-in profiles: sRGB, the two CC0 press profiles gpt4k ships (icc/), and libvips' generic
 * CMYK. `cmyk` is the old name of `libvips-cmyk`, kept so existing manifests build unchanged.
 */
export const BUILTIN_PROFILES = ['srgb', 'fogra39', 'swop-tr005', 'libvips-cmyk', 'cmyk'] as const;
export type BuiltinProfileName = (typeof BUILTIN_PROFILES)[number];

/** The press profile a CMYK target gets when it names none. */
export const DEFAULT_PRESS_PROFILE: BuiltinProfileName = 'fogra39';

export function isBuiltinProfile(name: string): name is BuiltinProfileName {
  return (BUILTIN_PROFILES as readonly string[]).includes(name);
}

/** A target's profile by name: declared under `profiles:`, or a built-in. */
export function profileRefFor(manifest: Pick<ResolvedManifest, 'profiles'>, name: string): ProfileRef | undefined {
  const declared = manifest.profiles.get(name);
  if (declared) return declared;
  return isBuiltinProfile(name) ? { kind: 'builtin', name } : undefined;
}
