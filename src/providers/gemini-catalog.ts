/**
 * The gemini model table as the loader and `gpt4k models` see it (registry.ts: getModelCatalog).
 * Gemini takes aspect ratios and resolution classes, not sizes or qualities, so a declared Gemini
 * model says what it is `like` and, if it differs, its `price`. Loads no SDK.
 */

import type { DeclaredModel } from '../manifest/types.js';
import { declaredGeminiSpec, GEMINI_MODELS, geminiModelSpec, type GeminiModelSpec } from './gemini-models.js';
import { GEMINI_PRICES_CHECKED, geminiPricesFor } from './gemini-pricing.js';
import { declaredPrice, knownModelWarning } from './catalog-common.js';
import type { DeclarationProblem, ModelCatalog, ModelInfo } from './types.js';

export const geminiCatalog: ModelCatalog = {
  provider: 'gemini',
  knows: (id) => geminiModelSpec(id) !== undefined,
  ids: () => GEMINI_MODELS.flatMap((m) => [m.id, ...m.aliases]),
  checkDeclaration,
  list: (declared) => [
    ...GEMINI_MODELS.map((spec) => infoOf(spec, spec.id)),
    ...declared.filter((d) => d.provider === 'gemini').map(declaredInfo),
  ],
};

function checkDeclaration(model: DeclaredModel): DeclarationProblem[] {
  const problems: DeclarationProblem[] = [];
  for (const field of ['sizes', 'qualities', 'maxReferenceImages'] as const) {
    if (model[field] === undefined) continue;
    problems.push({
      field: [field],
      code: 'E_MODEL_DECLARATION',
      message: `a Gemini model takes no ${field === 'maxReferenceImages' ? 'reference limit' : field} gpt4k checks: it makes the aspect ratios and resolutions of the model it is like`,
      hint: 'declare like: (and price: if it differs) only',
      severity: 'error',
    });
  }
  const known = geminiModelSpec(model.id);
  if (known) problems.push(knownModelWarning(model.id, known.checked));
  return problems;
}

function declaredInfo(model: DeclaredModel): ModelInfo {
  const spec = declaredGeminiSpec(model.id, model) as GeminiModelSpec;
  const like = model.like ?? geminiModelSpec(model.id)?.id ?? GEMINI_MODELS[1]?.id;
  return {
    ...infoOf(spec, model.id, model),
    ...(model.price !== undefined ? { price: { basis: 'declared' as const, summary: declaredPrice(model.price) } } : {}),
    status: 'declared',
    checked: '-',
    declared: true,
    ...(like !== undefined ? { like } : {}),
  };
}

function infoOf(spec: GeminiModelSpec, id: string, declaration?: DeclaredModel): ModelInfo {
  const prices = geminiPricesFor(id, declaration);
  const perImage = Object.entries(prices.perImage).map(([size, usd]) => `${size} $${usd}`).join(', ');
  return {
    provider: 'gemini',
    id: spec.id,
    aliases: [...spec.aliases],
    sizes: { kind: 'aspects', aspectRatios: Object.keys(spec.aspects), imageSizes: spec.imageSizes.length > 0 ? [...spec.imageSizes] : ['1K'] },
    qualities: [],
    maxReferenceImages: null,
    price: { basis: 'tokens', summary: `${perImage} per image; $${prices.tokens.imageOutput} image out per 1M tokens (checked ${GEMINI_PRICES_CHECKED})` },
    status: spec.status === 'stable' ? 'current' : 'preview',
    checked: spec.checked,
    source: spec.source,
  };
}
