import type { BuildGraph } from '../graph/graph.js';
import type { NodeDecision } from '../graph/plan.js';
import type { PipelineReport, ReportAsset, ReportOutput, ReportStep, StepStatus } from '../report/types.js';
import type { GptError } from '../util/errors.js';

/** What happened to one node in one build. */
export interface NodeOutcome {
  status: StepStatus;
  key?: string;
  decision?: NodeDecision;
  /** Content hash of the output (or the key-derived name of a cheap intermediate). */
  outputHash?: string;
  ms: number;
  costUsd?: number;
  requests?: number;
  retries?: number;
  reasons?: string[];
  meta?: Record<string, unknown>;
  warnings?: string[];
  error?: GptError;
  skipReason?: string;
  /** Computed only if a consumer needs its pixels. */
  lazy?: boolean;
  /** A lazy node: whether an input was built in this build (part of why it would run). */
  upstreamBuilt?: boolean;
  passThrough?: boolean;
  /** A lazily computed node let go of its inputs as soon as it had its own pixels. */
  inputsReleased?: boolean;
  /** A cached deliverable was copied back into out/. */
  restored?: boolean;
  output?: ReportOutput;
}

const usd = (n: number) => Math.round(n * 10_000) / 10_000;

function assetStatus(steps: ReportStep[]): StepStatus {
  if (steps.some((s) => s.status === 'failed')) return 'failed';
  if (steps.some((s) => s.status === 'skipped')) return 'skipped';
  if (steps.some((s) => s.status === 'pending')) return 'pending';
  if (steps.some((s) => s.status === 'built')) return 'built';
  return 'cached';
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
    const step: ReportStep = {
      kind: node.kind,
      ...(node.target ? { target: node.target } : {}),
      status: outcome.status,
      key: outcome.key ?? null,
      ms: outcome.ms,
      ...(outcome.costUsd ? { costUsd: usd(outcome.costUsd) } : {}),
      ...(outcome.requests ? { requests: outcome.requests } : {}),
      ...(outcome.retries ? { retries: outcome.retries } : {}),
      ...(outcome.status === 'built' && outcome.reasons?.length ? { reasons: outcome.reasons } : {}),
      ...((outcome.status === 'skipped' || outcome.status === 'pending') && outcome.skipReason ? { reasons: [outcome.skipReason] } : {}),
      ...(outcome.meta && node.kind === 'generate' ? { meta: outcome.meta } : {}),
      ...(outcome.warnings?.length ? { meta: { ...(outcome.meta ?? {}), warnings: outcome.warnings } } : {}),
    };
    asset.steps.push(step);
    if (outcome.status === 'built' && outcome.costUsd) asset.costUsd = usd(asset.costUsd + outcome.costUsd);
    providerCalls += outcome.requests ?? 0;
    retries += outcome.retries ?? 0;
    if (outcome.output) asset.outputs.push(outcome.output);
    if (outcome.status === 'failed' && outcome.error && !asset.error) {
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
