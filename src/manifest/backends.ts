import type { SourcePosition, Diagnostic } from '../util/errors.js';
import type { ModelCatalog } from './model-catalogs.js';
import type { GenerateParams, PositionedGenerateField } from './types.js';

/**
 * What the loader needs from the backends (providers and upscale engines), which live in a
 * layer above manifest/: the names `generate.provider` and `upscale.engine` may take, each
 * provider's own checks of its parameters, and the providers' model tables (for `models:`).
 * The built-in set is engine/backends.ts; callers pass it in (index.ts's loadManifest does).
 */
export interface ManifestBackends {
  /** The names `generate.provider` (and `--provider`, `models.*.provider`) may take. */
  providerNames(): string[];
  /** The names `upscale.engine` and `upscale.fallback` may take, besides "none". */
  upscalerNames(): string[];
  /**
   * The provider's manifest-time checks of `params` (params.provider is one of providerNames):
   * positions come from `at`, or for a problem with one value from where it was written.
   */
  validateGenerate(params: GenerateParams, where: GenerateCheckContext): Promise<Diagnostic[]>;
  /** What is wrong with sending `count` reference images with `params` (the model's limit), if anything. */
  referenceLimitProblem(params: GenerateParams, count: number): Promise<{ message: string; hint: string } | undefined>;
  /** Every provider's model table, in listing order (loaded without the providers' SDKs). */
  modelCatalogs(): Promise<ModelCatalog[]>;
}

/** Where a `generate:` being checked comes from. */
export interface GenerateCheckContext {
  /** The manifest's folder: files the options name (a ComfyUI workflow) resolve against it. */
  projectRoot: string;
  /** The asset's position. */
  at: SourcePosition | undefined;
  /** Where each positioned `generate:` value was written. */
  fieldAt: Partial<Record<PositionedGenerateField, SourcePosition>>;
}
