import { getProvider, hasProvider, providerNames } from '../providers/registry.js';
import { ExitCode, GptError, manifestError } from '../util/errors.js';
import { closest } from './suggest.js';
import type { ResolvedAsset, ResolvedManifest } from './types.js';

/**
 * `--provider P`: every generated asset of the manifest made by provider P instead, with that
 * provider's own checks of the parameters (so nothing invalid reaches its API).
 */
export async function withProvider(manifest: ResolvedManifest, name: string): Promise<ResolvedManifest> {
  if (!hasProvider(name)) {
    const close = closest(name, providerNames());
    throw new GptError('E_UNKNOWN_PROVIDER', `--provider "${name}" is not a provider`, {
      hint: close ? `did you mean "${close}"?` : `providers: ${providerNames().join(', ')}`,
      exitCode: ExitCode.usage,
    });
  }
  const provider = await getProvider(name);
  const assets = manifest.assets.map((asset) => (asset.source ? asset : { ...asset, generate: { ...asset.generate, provider: name } }));
  const problems = assets.flatMap((asset) => (asset.source ? [] : (provider.validate?.(asset.generate, asset.at, fieldPositions(asset)) ?? []))).filter((d) => d.severity !== 'warning');
  if (problems.length > 0) throw manifestError(problems.map((d) => ({ ...d, message: `with --provider ${name}: ${d.message}` })));
  return { ...manifest, assets };
}

function fieldPositions(asset: ResolvedAsset): Record<string, { file: string; line: number; col: number }> {
  return Object.fromEntries(Object.entries(asset.generateAt ?? {}).map(([field, located]) => [field, located.at]));
}
