import type { GptError } from '../util/errors.js';
import type { PipelineReport, StepStatus } from '../report/types.js';
import type { GraphNode, NodeKind } from '../graph/graph.js';

/** Everything that happens in a build is an event; reporters render them, nothing else prints. */
export interface NodeRef {
  id: string;
  asset: string;
  kind: NodeKind;
  target?: string;
}

export type BuildEvent =
  | {
      type: 'build-start';
      assets: number;
      nodesToRun: number;
      estimatedCostUsd: number;
      /** Steps to run per asset (assets with nothing to run are absent): for progress views. */
      runsByAsset?: Record<string, number>;
    }
  | { type: 'lock-wait'; pid: number; startedAt: string }
  | { type: 'node-start'; node: NodeRef; reasons: string[] }
  | { type: 'node-done'; node: NodeRef; status: Extract<StepStatus, 'built' | 'cached'>; ms: number; costUsd?: number; restored?: boolean }
  | { type: 'node-failed'; node: NodeRef; error: GptError }
  | { type: 'node-skipped'; node: NodeRef; reason: string }
  | { type: 'retry'; node: NodeRef; attempt: number; delayMs: number; reason: string }
  /** How far a running step is (0..1), from engines that say: Real-ESRGAN's percentages. */
  | { type: 'progress'; node: NodeRef; fraction: number }
  | { type: 'asset-done'; asset: string; status: StepStatus }
  | { type: 'warning'; message: string; asset?: string }
  | { type: 'info'; message: string }
  | { type: 'build-done'; report: PipelineReport; reportFile: string };

export type BuildListener = (event: BuildEvent) => void;

/** The reference an event carries for a graph node. */
export function refOf(node: GraphNode): NodeRef {
  return { id: node.id, asset: node.asset, kind: node.kind, ...(node.target ? { target: node.target } : {}) };
}
