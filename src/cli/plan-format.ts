import type { Plan, PlannedNode } from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { basisText } from '../graph/cost-estimate.js';
import { formatUsd } from './format.js';

export interface PlanFormatOptions {
  /** Also list cached steps, one per line, and source files. */
  verbose: boolean;
  /** `build --explain`: leave out the line that lists the assets with nothing to do. */
  onlyRuns: boolean;
  manifest?: ResolvedManifest;
}

/** How many cached assets the one-line summary names before it counts the rest. */
const CACHED_NAMES = 8;

/**
 * `gpt4k plan` for a person, grouped per asset: a header, then each step that runs with why,
 * and the estimated cost of each generation; assets with nothing to do fit on one line.
 *
 *     hero  ~$0.0420
 *       run      generate ~$0.0420  prompt: "...teal kraft paper" → "...green kraft paper"
 *                                   quality: low → high
 *       run      render:a3          upstream changed: generate runs
 *       restore  render:uhd         out/hero/uhd.png is missing: restored from the cache (no rework)
 *
 *     up to date: sku-001, sku-002 (all steps cached)
 *
 *     5 of 14 steps to run (1 of 3 assets), 1 image to generate, estimated $0.0420
 */
export function formatPlan(plan: Plan, options: PlanFormatOptions): string {
  // A pass-through step does no work whatever its action says: not worth a line.
  const groups = groupByAsset(plan.nodes.filter((n) => !n.passThrough));
  const blocks: string[] = [];
  const upToDate: string[] = [];
  for (const [asset, nodes] of groups) {
    const active = nodes.filter((n) => n.action !== 'cached' || isRestore(n));
    // A step the remote cache holds is worth a line where its asset has something to do.
    const shown = nodes.filter((n) => n.action !== 'cached' || isRestore(n) || (n.remote && active.length > 0) || (options.verbose && n.kind !== 'source'));
    if (active.length === 0) {
      if (options.verbose) blocks.push(formatAsset(asset, shown));
      else upToDate.push(asset);
      continue;
    }
    blocks.push(formatAsset(asset, shown));
  }
  const lines: string[] = [];
  if (blocks.length > 0) lines.push(blocks.join('\n\n'));
  if (upToDate.length > 0 && !options.onlyRuns) {
    const names = upToDate.length > CACHED_NAMES ? `${upToDate.slice(0, CACHED_NAMES).join(', ')} and ${upToDate.length - CACHED_NAMES} more` : upToDate.join(', ');
    lines.push(`up to date: ${names} (all steps cached)`);
  }
  lines.push(summaryLine(plan.nodes.filter((n) => !n.passThrough), plan.summary, groups.size));
  return lines.join('\n\n');
}

/** A cached render whose deliverable is copied back from the store: no work, but worth saying. */
function isRestore(node: PlannedNode): boolean {
  return node.action === 'cached' && node.kind === 'render' && node.reasons.length > 0;
}

function groupByAsset(nodes: PlannedNode[]): Map<string, PlannedNode[]> {
  const groups = new Map<string, PlannedNode[]>();
  for (const node of nodes) {
    const list = groups.get(node.asset) ?? [];
    list.push(node);
    groups.set(node.asset, list);
  }
  return groups;
}

const stepName = (node: PlannedNode) => (node.target ? `render:${node.target}` : node.kind);
const costOf = (node: PlannedNode, withBasis = true) =>
  node.estimatedCostUsd > 0 ? ` ~${formatUsd(node.estimatedCostUsd)}${withBasis && node.estimateBasis ? `, ${basisText(node.estimateBasis)}` : ''}` : '';
/** What the estimates of these nodes rest on, once: " (no history)", " (from 12 earlier images)". */
const basisOf = (nodes: PlannedNode[]) => {
  const texts = [...new Set(nodes.flatMap((n) => (n.estimatedCostUsd > 0 && n.estimateBasis ? [basisText(n.estimateBasis)] : [])))];
  return texts.length > 0 ? ` (${texts.join('; ')})` : '';
};

function formatAsset(asset: string, nodes: PlannedNode[]): string {
  const running = nodes.filter((n) => n.action === 'run');
  const cost = running.reduce((sum, n) => sum + n.estimatedCostUsd, 0);
  const header = `${asset}${cost > 0 ? `  ~${formatUsd(cost)}` : ''}`;
  // A new asset: every step says "new asset"; one line says it all.
  if (running.length > 0 && running.length === nodes.length && running.every((n) => n.reasons.length === 1 && n.reasons[0] === 'new asset')) {
    return `${header}\n  new asset: ${running.map((n) => `${stepName(n)}${costOf(n, false)}`).join(', ')}${basisOf(running)}`;
  }
  const names = nodes.map((n) => `${stepName(n)}${costOf(n)}`);
  const width = Math.max(...names.map((n) => n.length));
  const statuses = nodes.map((n) => (n.action !== 'cached' ? n.action : isRestore(n) ? 'restore' : n.remote ? 'cached (remote)' : 'cached'));
  const statusWidth = Math.max(7, ...statuses.map((s) => s.length));
  const lines = [header];
  nodes.forEach((node, i) => {
    const lead = `  ${(statuses[i] ?? '').padEnd(statusWidth)}  ${(names[i] ?? '').padEnd(width)}  `;
    const reasons = node.reasons.length > 0 ? node.reasons : [node.action === 'run' ? 'needed' : ''];
    lines.push(`${lead}${reasons[0]}`.trimEnd());
    for (const reason of reasons.slice(1)) lines.push(`${' '.repeat(lead.length)}${reason}`);
  });
  return lines.join('\n');
}

function summaryLine(nodes: PlannedNode[], s: Plan['summary'], assets: number): string {
  const restores = nodes.filter(isRestore).length;
  const restoreText = restores > 0 ? `, ${restores} deliverable${restores === 1 ? '' : 's'} to restore from the cache` : '';
  const run = nodes.filter((n) => n.action === 'run');
  const remote = nodes.filter((n) => n.remote).length;
  const remoteText = remote > 0 ? ` (${remote} on the remote cache)` : '';
  const pendingText = s.pending ? `, ${s.pending} image${s.pending === 1 ? '' : 's'} pending in a provider batch` : '';
  if (run.length === 0 && s.pending) return `nothing to run${pendingText}`;
  if (run.length === 0) return `nothing to do: all ${nodes.length} steps of ${assets} asset${assets === 1 ? '' : 's'} are cached${remoteText}${restoreText}`;
  const building = new Set(run.map((n) => n.asset)).size;
  const images = `${s.generate} image${s.generate === 1 ? '' : 's'} to generate`;
  return `${run.length} of ${nodes.length} steps to run (${building} of ${assets} asset${assets === 1 ? '' : 's'}), ${images}, estimated ${formatUsd(s.estimatedCostUsd)}${remote > 0 ? `, ${remote} step${remote === 1 ? '' : 's'} cached on the remote cache` : ''}${restoreText}${pendingText}`;
}
