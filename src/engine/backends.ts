import type { ManifestBackends } from '../manifest/backends.js';
import { loadManifest as loadWith, type LoadOptions } from '../manifest/load.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { getModelCatalog, getProvider, catalogProviders, providerNames } from '../providers/registry.js';
import { upscalerNames } from '../upscalers/registry.js';
import type { Diagnostic } from '../util/errors.js';
import type { Result } from '../util/result.js';

/**
 * The built-in backends as the manifest loader sees them (manifest/backends.ts): the provider
 * and upscale-engine registries (a provider registered with registerProvider included), each
 * provider's own parameter checks, and the model tables. manifest/ cannot import providers/ or
 * upscalers/ (a layer above it), so the loader is handed this.
 */
export const builtinBackends: ManifestBackends = {
  providerNames,
  upscalerNames,
  async validateGenerate(params, where): Promise<Diagnostic[]> {
    return (await getProvider(params.provider)).validate?.(params, where) ?? [];
  },
  async referenceLimitProblem(params, count) {
    return (await getProvider(params.provider)).referenceLimitProblem?.(params, count);
  },
  async modelCatalogs() {
    const catalogs = await Promise.all(catalogProviders().map((name) => getModelCatalog(name)));
    return catalogs.filter((catalog) => catalog !== undefined);
  },
};

/**
 * Loads assets.pipeline.yaml (manifest/load.ts) with the built-in backends unless others are
 * given: what index.ts exports, and what the CLI, watch and review load through.
 */
export function loadManifest(file: string, options: Partial<LoadOptions> = {}): Promise<Result<ResolvedManifest, Diagnostic[]>> {
  return loadWith(file, { ...options, backends: options.backends ?? builtinBackends });
}
