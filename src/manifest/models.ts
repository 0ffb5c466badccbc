import type { Diagnostics } from './context.js';
import type { ManifestBackends } from './backends.js';
import type { ModelCatalog } from './model-catalogs.js';
import type { SourceFile } from './positions.js';
import type { RawModelDeclaration } from './raw.js';
import { quote } from './schema.js';
import { didYouMean } from './suggest.js';
import type { DeclaredModel, ResolvedAsset } from './types.js';

/**
 * The manifest's `models:` section: models gpt4k does not know yet, declared by what they are
 * like and what differs. `like:` must name a model a provider's table knows (that provider serves
 * the declared one); each provider checks what the declaration says through its model catalog,
 * reached through the loader's backends (backends.ts), so this file knows no model table and imports no provider.
 */
export async function resolveDeclaredModels(
  raw: Record<string, RawModelDeclaration> | undefined,
  source: SourceFile,
  diagnostics: Diagnostics,
  backends: ManifestBackends,
): Promise<Map<string, DeclaredModel>> {
  const declared = new Map<string, DeclaredModel>();
  const entries = Object.entries(raw ?? {});
  if (entries.length === 0) return declared;
  const catalogs = await backends.modelCatalogs();
  const providers = backends.providerNames();
  for (const [id, entry] of entries) {
    const model = declaration(id, entry, { catalogs, providers }, source, diagnostics);
    if (!model) continue;
    const catalog = catalogs.find((c) => c.provider === model.provider);
    for (const problem of catalog?.checkDeclaration(model) ?? []) {
      const at = problem.field.length === 0 ? source.keyAt(['models', id]) : source.valueAt(['models', id, ...problem.field]);
      (problem.severity === 'warning' ? diagnostics.warn : diagnostics.error).call(diagnostics, problem.code, `models.${id}: ${problem.message}`, at, problem.hint);
    }
    declared.set(id, model);
  }
  return declared;
}

/** One declaration with its provider settled, or undefined (with errors) when it cannot be. */
function declaration(
  id: string,
  entry: RawModelDeclaration,
  { catalogs, providers }: { catalogs: ModelCatalog[]; providers: string[] },
  source: SourceFile,
  diagnostics: Diagnostics,
): DeclaredModel | undefined {
  const at = (field: string) => source.valueAt(['models', id, field]);
  let provider = entry.provider;
  if (provider !== undefined && !providers.includes(provider)) {
    diagnostics.error('E_UNKNOWN_PROVIDER', `models.${id}: unknown provider ${quote(provider)}`, at('provider'), didYouMean(provider, providers));
    return undefined;
  }
  if (entry.like !== undefined) {
    const owner = catalogs.find((c) => c.knows(entry.like as string));
    if (!owner) {
      const known = catalogs.filter((c) => provider === undefined || c.provider === provider).flatMap((c) => c.ids());
      diagnostics.error(
        'E_UNKNOWN_MODEL',
        `models.${id}: like ${quote(entry.like)} is not a model gpt4k knows`,
        at('like'),
        didYouMean(entry.like, known) ?? 'name a model `gpt4k models` lists',
      );
      return undefined;
    }
    if (provider !== undefined && provider !== owner.provider) {
      diagnostics.error(
        'E_CONFLICT',
        `models.${id}: provider ${quote(provider)} does not serve ${quote(entry.like)}, which is a ${owner.provider} model`,
        at('provider'),
        `drop provider: (the model is served by ${owner.provider}, as ${entry.like} is), or name a ${provider} model in like:`,
      );
      return undefined;
    }
    provider = owner.provider;
  }
  if (provider === undefined) {
    diagnostics.error(
      'E_MODEL_DECLARATION',
      `models.${id}: say what the model is like, or which provider serves it`,
      source.keyAt(['models', id]),
      'add like: with a model gpt4k knows (e.g. like: gpt-image-2.5-sunburst), or provider: openai',
    );
    return undefined;
  }
  const model: DeclaredModel = { id, provider };
  if (entry.like !== undefined) model.like = entry.like;
  if (entry.sizes !== undefined) model.sizes = [...entry.sizes];
  if (entry.qualities !== undefined) model.qualities = [...entry.qualities];
  if (entry.maxReferenceImages !== undefined) model.maxReferenceImages = entry.maxReferenceImages;
  if (entry.price !== undefined) model.price = entry.price;
  return model;
}

/** Hands each asset's provider what the manifest declares about the asset's model. */
export function attachDeclarations(assets: ResolvedAsset[], declared: Map<string, DeclaredModel>): void {
  if (declared.size === 0) return;
  for (const asset of assets) {
    const model = declared.get(asset.generate.model);
    if (model) asset.generate.modelDeclaration = model;
  }
}
