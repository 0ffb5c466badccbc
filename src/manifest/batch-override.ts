import type { ResolvedManifest } from './types.js';

/**
 * `--batch`: every generated asset asks for its provider's batch API, as `generate.batch: true`
 * would. Not part of any cache key, so cached images stay cached.
 */
export function withBatch(manifest: ResolvedManifest): ResolvedManifest {
  const assets = manifest.assets.map((asset) => (asset.source ? asset : { ...asset, generate: { ...asset.generate, batch: true } }));
  return { ...manifest, assets };
}
