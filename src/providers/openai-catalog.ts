/**
 * The openai model table as the loader and `gpt4k models` see it (registry.ts: getModelCatalog):
 * what `like:` may name, what a declaration may say, and each model as a listing row. Loads the
 * table and the price table, never the SDK.
 */

import type { DeclaredModel } from '../manifest/types.js';
import { OPENAI_MODELS, SDK_QUALITIES, type OpenAiModelSpec } from './openai-model-table.js';
import { openAiModelSpec, resolveOpenAiModel } from './openai-models.js';
import { OPENAI_PRICES, PRICES_CHECKED } from './pricing.js';
import { declaredPrice, knownModelWarning } from './catalog-common.js';
import type { DeclarationProblem, ModelCatalog, ModelInfo } from './types.js';

export const openAiCatalog: ModelCatalog = {
  provider: 'openai',
  knows: (id) => openAiModelSpec(id) !== undefined,
  ids: () => OPENAI_MODELS.flatMap((m) => [m.id, ...m.snapshots]),
  checkDeclaration,
  list: (declared) => [
    ...OPENAI_MODELS.map((spec) => infoOf(spec)),
    ...declared.filter((d) => d.provider === 'openai').map((d) => declaredInfo(d)),
  ],
};

function checkDeclaration(model: DeclaredModel): DeclarationProblem[] {
  const problems: DeclarationProblem[] = [];
  (model.qualities ?? []).forEach((quality, i) => {
    if ((SDK_QUALITIES as readonly string[]).includes(quality)) return;
    problems.push({
      field: ['qualities', i],
      code: 'E_INVALID_QUALITY',
      message: `quality "${quality}" is not one the images API carries`,
      hint: `declare qualities from: ${SDK_QUALITIES.join(', ')}`,
      severity: 'error',
    });
  });
  const known = openAiModelSpec(model.id);
  if (known) problems.push(knownModelWarning(model.id, known.checked));
  return problems;
}

function declaredInfo(model: DeclaredModel): ModelInfo {
  const resolved = resolveOpenAiModel(model.id, model);
  const spec = resolved?.spec as OpenAiModelSpec;
  const like = resolved?.like;
  const info = infoOf(spec, like);
  return {
    ...info,
    aliases: [],
    ...(model.price !== undefined ? { price: { basis: 'declared' as const, summary: declaredPrice(model.price) } } : {}),
    status: 'declared',
    checked: '-',
    declared: true,
    ...(like !== undefined ? { like } : {}),
  };
}

/** A listing row; `pricedAs` is the model a declared one is priced as. */
function infoOf(spec: OpenAiModelSpec, pricedAs: string = spec.id): ModelInfo {
  const sizes: ModelInfo['sizes'] = Array.isArray(spec.sizes)
    ? { kind: 'list', values: [...(spec.sizes as readonly string[])] }
    : { kind: 'flexible', ...(spec.sizes as Exclude<OpenAiModelSpec['sizes'], readonly string[]>) };
  return {
    provider: 'openai',
    id: spec.id,
    aliases: [...spec.snapshots],
    sizes,
    qualities: [...spec.qualities],
    maxReferenceImages: spec.maxReferenceImages,
    price: priceOf(pricedAs),
    status: statusOf(spec),
    checked: spec.checked,
    source: spec.source,
  };
}

function statusOf(spec: OpenAiModelSpec): string {
  const status = spec.status;
  if (status.kind === 'shut-down') return `shut down ${status.date}`;
  if (status.kind === 'deprecated') return status.shutdown ? `deprecated (shuts down ${status.shutdown})` : 'deprecated';
  return status.kind;
}

/** Token prices (what is billed) and the high-quality square estimate (what plan uses). */
function priceOf(id: string): ModelInfo['price'] {
  const prices = OPENAI_PRICES[id];
  if (!prices) return { basis: 'per-image', summary: 'no price (not served)' };
  const t = prices.tokens;
  const high = prices.perImage.high['1024x1024'];
  const top = prices.perImage.max?.['1024x1024'];
  const estimate = `~$${high} high${top !== undefined ? `, ~$${top} max (assumed)` : ''} at 1024x1024`;
  return { basis: 'tokens', summary: `$${t.textInput} text in, $${t.imageInput} image in, $${t.imageOutput} image out per 1M tokens; ${estimate} (checked ${PRICES_CHECKED})` };
}

