import type { GenerateParams, ResolvedAsset } from '../manifest/types.js';
import { getProvider } from '../providers/registry.js';
import { referenceFields, type GenerateContext, type GenerateResult, type ReferenceImage } from '../providers/types.js';
import { parseSize } from '../graph/keys.js';

/** Asks the asset's provider for its image; the engine commits it to the store at once. */
export async function runGenerate(
  asset: ResolvedAsset,
  params: GenerateParams,
  references: ReferenceImage[],
  context: GenerateContext,
): Promise<GenerateResult> {
  const provider = await getProvider(params.provider);
  const { width, height } = parseSize(params.size);
  return provider.generate(
    { assetId: asset.id, prompt: asset.prompt, params, width, height, ...referenceFields(references) },
    context,
  );
}
