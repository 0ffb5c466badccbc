import type { Store } from '../cache/store.js';
import type { GenerateParams, ResolvedManifest } from '../manifest/types.js';
import { batched, BATCH_DISCOUNTS } from '../providers/batch-types.js';
import { getProvider } from '../providers/registry.js';

/**
 * What a generation's estimate rests on: the project's own earlier images of the same provider,
 * model, quality and size (their reported tokens at today's prices), or, with none, the provider's
 * documented conservative figure. `plan` prints it beside the cost.
 */
export type EstimateBasis = { kind: 'history'; images: number } | { kind: 'no-history' };

export interface CostEstimate {
  usd: number;
  basis?: EstimateBasis;
}

/** One earlier generation as its action record keeps it (meta: provider, model, size, quality, usage). */
interface PastGeneration {
  params: { provider: string; model: string; size: string; quality: string };
  usage: Record<string, unknown>;
}

/**
 * Estimates per-image costs for one plan. The store's generate records are read once, and only
 * when the first generation to run asks (a plan with nothing to generate never reads them).
 */
export class CostEstimator {
  private history: Promise<PastGeneration[]> | undefined;

  constructor(private readonly store: Store, private readonly manifest: ResolvedManifest) {}

  /** USD for `calls` images with these parameters, and what the figure rests on. */
  async estimate(params: GenerateParams, calls: number): Promise<CostEstimate> {
    const provider = await getProvider(params.provider);
    const discount = batched(params) ? (BATCH_DISCOUNTS[params.provider] ?? 1) : 1;
    const pricing = this.manifest.pricing;
    const table = provider.estimateCostUsd(params, pricing);
    // Only token-priced providers have history to learn from; a manifest price wins over both.
    if (!provider.costFromUsage || provider.hasPriceOverride?.(params, pricing)) return { usd: calls * discount * table };
    const past = (await this.pastGenerations()).filter((g) => sameSettings(g.params, params));
    const costs = past.flatMap((g) => {
      const usd = provider.costFromUsage?.(params, g.usage, pricing);
      return usd === undefined ? [] : [usd];
    });
    if (costs.length === 0) return { usd: calls * discount * table, basis: { kind: 'no-history' } };
    const mean = costs.reduce((sum, usd) => sum + usd, 0) / costs.length;
    return { usd: calls * discount * mean, basis: { kind: 'history', images: costs.length } };
  }

  private pastGenerations(): Promise<PastGeneration[]> {
    this.history ??= (async () => {
      const records = (await this.store.generateRecords?.()) ?? [];
      return records.flatMap((record) => {
        const { provider, model, size, quality, usage } = record.meta;
        if (typeof provider !== 'string' || typeof model !== 'string' || typeof size !== 'string' || typeof quality !== 'string') return [];
        if (!usage || typeof usage !== 'object') return [];
        return [{ params: { provider, model, size, quality }, usage: usage as Record<string, unknown> }];
      });
    })();
    return this.history;
  }
}

function sameSettings(past: PastGeneration['params'], params: GenerateParams): boolean {
  return past.provider === params.provider && past.model === params.model && past.size === params.size && past.quality === params.quality;
}

/** "from 12 earlier images" / "no history", for plan's text. */
export function basisText(basis: EstimateBasis): string {
  return basis.kind === 'history' ? `from ${basis.images} earlier image${basis.images === 1 ? '' : 's'}` : 'no history';
}
