import type { BuildGraph } from '../graph/graph.js';
import type { NodeDecision } from '../graph/plan.js';
import type { PipelineReport, ReportAsset, ReportOutput, ReportStep, StepStatus } from '../report/types.js';
import type { GptError } from '../util/errors.js';

/** What happened to one node in one build: one shape per status. */
export type NodeOutcome = BuiltOutcome | CachedOutcome | FailedOutcome | SkippedOutcome | PendingOutcome;

interface OutcomeBase {
  ms: number;
  /** Warnings said while the node was being worked on (also sent as events). */
  warnings?: string[];
}

/** Usage of a paid or remote provider: counted even when the node did not succeed. */
export interface ProviderUsage {
  /** Requests actually sent (retries included). */
  requests?: number;
  retries?: number;
}

export interface BuiltOutcome extends OutcomeBase, ProviderUsage {
  status: 'built';
  key: string;
  decision: NodeDecision;
  /** Content hash of the output (or the key-derived name of a cheap intermediate). */
  outputHash: string;
  reasons: string[];
  costUsd?: number;
  meta?: Record<string, unknown>;
  /** Renders: the deliverable. */
  output?: ReportOutput;
}

export interface CachedOutcome extends OutcomeBase {
  status: 'cached';
  key: string;
  decision: NodeDecision;
  outputHash: string;
  meta?: Record<string, unknown>;
  /** Renders: the deliverable, and whether it had to be copied back into out/. */
  output?: ReportOutput;
  restored?: boolean;
}

export interface FailedOutcome extends OutcomeBase, ProviderUsage {
  status: 'failed';
  key?: string;
  error: GptError;
}

export interface SkippedOutcome extends OutcomeBase, ProviderUsage {
  status: 'skipped';
  key?: string;
  reason: string;
}

/**
 * Waiting for a provider batch that has not answered (`build --no-wait`), or for an input that
 * is: a later build collects it.
 */
export interface PendingOutcome extends OutcomeBase, ProviderUsage {
  status: 'pending';
  key?: string;
  reason: string;
}

const usd = (n: number) => Math.round(n * 10_000) / 10_000;

function assetStatus(steps: ReportStep[]): StepStatus {
  if (steps.some((s) => s.status === 'failed')) return 'failed';
  if (steps.some((s) => s.status === 'skipped')) return 'skipped';
  if (steps.some((s) => s.status === 'pending')) return 'pending';
  if (steps.some((s) => s.status === 'built')) return 'built';
  return 'cached';
}

/** One node's line in the report. */
function reportStep(kind: ReportStep['kind'], target: string | undefined, outcome: NodeOutcome): ReportStep {
  const meta = outcome.status === 'built' || outcome.status === 'cached' ? outcome.meta : undefined;
  const usage: ProviderUsage = outcome.status === 'cached' ? {} : outcome;
  return {
    kind,
    ...(target ? { target } : {}),
    status: outcome.status,
    key: outcome.key ?? null,
    ms: outcome.ms,
    ...(outcome.status === 'built' && outcome.costUsd ? { costUsd: usd(outcome.costUsd) } : {}),
    ...(usage.requests ? { requests: usage.requests } : {}),
    ...(usage.retries ? { retries: usage.retries } : {}),
    ...(outcome.status === 'built' && outcome.reasons.length ? { reasons: outcome.reasons } : {}),
    ...((outcome.status === 'skipped' || outcome.status === 'pending') && outcome.reason ? { reasons: [outcome.reason] } : {}),
    ...(meta && kind === 'generate' ? { meta } : {}),
    ...(outcome.warnings?.length ? { meta: { ...(meta ?? {}), warnings: outcome.warnings } } : {}),
  };
}

/** The report DESIGN.md specifies, from the outcomes of the nodes that were in the build. */
export function assembleReport(graph: BuildGraph, order: string[], outcomes: Map<string, NodeOutcome>, durationMs: number): PipelineReport {
  const byAsset = new Map<string, ReportAsset>();
  let providerCalls = 0;
  let retries = 0;
  const inBuild = new Set(order.map((id) => graph.nodes.get(id)?.asset));
  for (const asset of graph.manifest.assets) {
    if (!inBuild.has(asset.id)) continue;
    byAsset.set(asset.id, {
      id: asset.id,
      status: 'cached',
      ...(asset.source ? {} : { prompt: asset.prompt }),
      ...(asset.style ? { style: asset.style } : {}),
      costUsd: 0,
      steps: [],
      outputs: [],
      error: null,
    });
  }
  for (const id of order) {
    const node = graph.nodes.get(id);
    const outcome = outcomes.get(id);
    const asset = node ? byAsset.get(node.asset) : undefined;
    if (!node || !outcome || !asset || node.kind === 'prompt') continue;
    const step = reportStep(node.kind, node.target, outcome);
    asset.steps.push(step);
    if (outcome.status === 'built' && outcome.costUsd) asset.costUsd = usd(asset.costUsd + outcome.costUsd);
    providerCalls += step.requests ?? 0;
    retries += step.retries ?? 0;
    if ((outcome.status === 'built' || outcome.status === 'cached') && outcome.output) asset.outputs.push(outcome.output);
    if (outcome.status === 'failed' && !asset.error) {
      asset.error = {
        step: node.target ? `${node.kind}:${node.target}` : node.kind,
        code: outcome.error.code,
        message: outcome.error.message,
        ...(outcome.error.hint ? { hint: outcome.error.hint } : {}),
      };
    }
  }
  const assets = [...byAsset.values()];
  for (const asset of assets) {
    asset.status = assetStatus(asset.steps);
    if (asset.status === 'skipped' && !asset.error) {
      const skipped = asset.steps.find((s) => s.status === 'skipped');
      asset.error = { step: skipped?.target ? `${skipped.kind}:${skipped.target}` : skipped?.kind ?? 'build', code: 'E_SKIPPED', message: skipped?.reasons?.[0] ?? 'skipped' };
    }
  }
  const count = (status: StepStatus) => assets.filter((a) => a.status === status).length;
  return {
    version: 1,
    summary: {
      assets: assets.length,
      built: count('built'),
      cached: count('cached'),
      failed: count('failed'),
      skipped: count('skipped'),
      ...(count('pending') > 0 ? { pending: count('pending') } : {}),
      providerCalls,
      retries,
      costUsd: usd(assets.reduce((sum, a) => sum + a.costUsd, 0)),
      durationMs,
    },
    assets,
  };
}
