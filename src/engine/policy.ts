import type { BuildGraph } from '../graph/graph.js';
import type { Plan } from '../graph/plan.js';
import { getProvider } from '../providers/registry.js';
import { ExitCode, GptError } from '../util/errors.js';

/** Refusals that come before any work: --frozen and the budget (exit 3). */
export async function checkPolicy(graph: BuildGraph, plan: Plan, options: { frozen?: boolean; maxCostUsd?: number }): Promise<void> {
  const toGenerate = plan.nodes.filter((n) => n.kind === 'generate' && n.action === 'run');
  if (options.frozen) {
    const remote: string[] = [];
    for (const node of toGenerate) {
      const asset = graph.assets.get(node.asset);
      if (asset && (await getProvider(asset.generate.provider)).remote) remote.push(node.asset);
    }
    if (remote.length > 0) {
      throw new GptError('E_FROZEN', `--frozen: ${remote.length} asset(s) would need a provider call: ${remote.join(', ')}`, {
        hint: 'build them without --frozen (locally, with an API key) and share the cache, or restore the CI cache',
        exitCode: ExitCode.policy,
      });
    }
  }
  const budget = options.maxCostUsd ?? graph.manifest.limits.maxCostUsd;
  if (budget !== undefined && plan.summary.estimatedCostUsd > budget) {
    throw new GptError(
      'E_BUDGET',
      `the estimated cost $${plan.summary.estimatedCostUsd.toFixed(2)} for ${toGenerate.length} image(s) exceeds the budget of $${budget.toFixed(2)}`,
      { hint: 'raise limits.maxCostUsd or --max-cost, lower quality, or build fewer assets (gpt4k build ASSET...)', exitCode: ExitCode.policy },
    );
  }
}
