import type { Plan } from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { formatUsd } from './format.js';

/** `gpt4k plan` for a person: each step that runs, why, and what it costs. */
export function formatPlan(plan: Plan, options: { verbose: boolean; onlyRuns: boolean; manifest?: ResolvedManifest }): string {
  const lines: string[] = [];
  for (const node of plan.nodes) {
    if (node.action === 'cached' && node.reasons.length === 0 && !options.verbose) continue;
    if (options.onlyRuns && node.action !== 'run' && node.reasons.length === 0) continue;
    const cost = node.estimatedCostUsd > 0 ? `  ~${formatUsd(node.estimatedCostUsd)}` : '';
    const name = node.target ? `${node.asset} render:${node.target}` : `${node.asset} ${node.kind}`;
    lines.push(`${node.action === 'run' ? 'run   ' : 'cached'} ${name}${cost}`);
    for (const reason of node.reasons) lines.push(`         ${reason}`);
  }
  const s = plan.summary;
  if (lines.length === 0) lines.push('nothing to do: every step is cached');
  lines.push(`${s.run} of ${s.nodes} steps to run, ${s.generate} image(s) to generate, estimated ${formatUsd(s.estimatedCostUsd)}`);
  return lines.join('\n');
}
