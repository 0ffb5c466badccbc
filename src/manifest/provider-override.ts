import { ExitCode, GptError, manifestError } from '../util/errors.js';
import type { ManifestBackends } from './backends.js';
import { closest } from './suggest.js';
import type { ResolvedAsset, ResolvedManifest } from './types.js';

/**
 * `--provider P`: every generated asset of the manifest made by provider P instead, with that
 * provider's own checks of the parameters (so nothing invalid reaches its API).
 */
export async function withProvider(manifest: ResolvedManifest, name: string, backends: ManifestBackends): Promise<ResolvedManifest> {
  const providerNames = backends.providerNames();
  if (!providerNames.includes(name)) {
    const close = closest(name, providerNames);
    throw new GptError('E_UNKNOWN_PROVIDER', `--provider "${name}" is not a provider`, {
      hint: close ? `did you mean "${close}"?` : `providers: ${providerNames.join(', ')}`,
      exitCode: ExitCode.usage,
    });
  }
  const assets = manifest.assets.map((asset) => (asset.source ? asset : { ...asset, generate: { ...asset.generate, provider: name } }));
  const checks = await Promise.all(
    assets.map((asset) => (asset.source ? [] : backends.validateGenerate(asset.generate, { projectRoot: manifest.root, at: asset.at, fieldAt: fieldPositions(asset) }))),
  );
  const problems = checks.flat().filter((d) => d.severity !== 'warning');
  if (problems.length > 0) throw manifestError(problems.map((d) => ({ ...d, message: `with --provider ${name}: ${d.message}` })));
  return { ...manifest, assets };
}

function fieldPositions(asset: ResolvedAsset): Record<string, { file: string; line: number; col: number }> {
  return Object.fromEntries(Object.entries(asset.generateAt ?? {}).map(([field, located]) => [field, located.at]));
}
