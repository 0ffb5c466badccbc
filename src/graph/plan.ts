import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileHashes } from '../cache/file-hashes.js';
import type { BuildState } from '../cache/state.js';
import type { ActionRecord, Store } from '../cache/store.js';
import { hashObject } from '../cache/hash.js';
import { getProvider } from '../providers/registry.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { BuildGraph, GraphNode } from './graph.js';
import { explainChange } from './explain.js';
import { fingerprintNode, isPassThrough, isPersisted, resolvedGenerateParams, type Fingerprint } from './keys.js';

export interface PlanEnv {
  store: Store;
  files: FileHashes;
  state: BuildState;
  /** Assets whose generation is forced (--regenerate). */
  forced: Set<string>;
}

/** What is known about a node once its inputs' content hashes are. */
export interface NodeDecision {
  key: string;
  fingerprint: Fingerprint;
  persisted: boolean;
  /** For persisted nodes: the action record, when it exists and its object is in the store. */
  record?: ActionRecord;
  /** Known for cached persisted nodes and for computed-on-demand ones. */
  outputHash?: string;
}

export async function decideNode(graph: BuildGraph, node: GraphNode, inputHashes: string[], env: PlanEnv): Promise<NodeDecision> {
  const fingerprint = await fingerprintNode(graph, node, inputHashes, { manifest: graph.manifest, files: env.files });
  const key = await hashObject(fingerprint);
  const persisted = await isPersisted(graph, node);
  if (!persisted) {
    // Source files are their own truth; cheap intermediates are named by their key.
    let outputHash = `k${key}`;
    if (node.kind === 'source') outputHash = fingerprint.hash as string;
    else if (node.kind === 'prompt') outputHash = key;
    else if (isPassThrough(graph, node)) outputHash = inputHashes[0] as string;
    return { key, fingerprint, persisted, outputHash };
  }
  const forced = node.kind === 'generate' && env.forced.has(node.asset);
  const record = forced ? undefined : await env.store.getAction(key);
  if (record && (await env.store.hasObject(record.output.hash))) {
    return { key, fingerprint, persisted, record, outputHash: record.output.hash };
  }
  return { key, fingerprint, persisted };
}

export function deliverablePath(manifest: ResolvedManifest, asset: string, target: string): string {
  const format = manifest.targets.get(target)?.format ?? 'png';
  const ext = { tiff: 'tif', pdf: 'pdf', png: 'png', jpeg: 'jpg' }[format];
  return path.join(manifest.outputDir, asset, `${target}.${ext}`);
}

export function projectPath(manifest: ResolvedManifest, file: string): string {
  return path.relative(manifest.root, file).split(path.sep).join('/');
}

/** True when the deliverable on disk is the one the last build wrote (stat only: no read). */
export async function deliverableIntact(manifest: ResolvedManifest, file: string, hash: string, state: BuildState): Promise<boolean> {
  const known = state.outputs[projectPath(manifest, file)];
  if (!known || known.hash !== hash) return false;
  try {
    const info = await stat(file);
    return info.size === known.size && info.mtimeMs === known.mtimeMs;
  } catch {
    return false;
  }
}

export type PlanAction = 'run' | 'cached';

export interface PlannedNode {
  id: string;
  asset: string;
  kind: GraphNode['kind'];
  target?: string;
  action: PlanAction;
  reasons: string[];
  key?: string;
  estimatedCostUsd: number;
}

export interface Plan {
  nodes: PlannedNode[];
  summary: { nodes: number; run: number; cached: number; generate: number; estimatedCostUsd: number };
}

export function reasonsFor(node: GraphNode, decision: NodeDecision | undefined, env: PlanEnv, upstreamRuns: boolean): string[] {
  if (node.kind === 'generate' && env.forced.has(node.asset)) return ['forced (--regenerate)'];
  const previous = env.state.nodes[node.id]?.fingerprint as Fingerprint | undefined;
  if (!decision) return previous ? ['upstream image will change'] : ['new'];
  if (!previous) return ['new'];
  const reasons = explainChange(previous, decision.fingerprint);
  if (reasons[0] === 'cache entry missing') {
    if (!decision.persisted) return [upstreamRuns ? 'upstream changed' : 'intermediate recomputed (not stored)'];
    return ['output missing from the cache'];
  }
  return reasons;
}

/**
 * What a build would do, without doing it: keys are computed wherever the inputs' content
 * is known; a node downstream of one that must run is assumed to run too.
 */
export async function planBuild(graph: BuildGraph, env: PlanEnv, selected?: Set<string>): Promise<Plan> {
  const hashes = new Map<string, string>();
  const planned = new Map<string, PlannedNode>();
  const lazy = new Set<string>();
  const decisions = new Map<string, NodeDecision>();

  for (const id of graph.order) {
    if (selected && !selected.has(id)) continue;
    const node = graph.nodes.get(id) as GraphNode;
    const inputHashes = node.inputs.map((input) => hashes.get(input));
    const known = inputHashes.every((h): h is string => h !== undefined);
    const decision = known ? await decideNode(graph, node, inputHashes as string[], env) : undefined;
    if (decision) decisions.set(id, decision);
    if (decision?.outputHash) hashes.set(id, decision.outputHash);
    let action: PlanAction = 'run';
    let reasons: string[] = [];
    if (decision && (decision.record || !decision.persisted)) {
      action = 'cached';
      if (!decision.persisted && node.kind !== 'source' && node.kind !== 'prompt') lazy.add(id);
      if (node.kind === 'source') {
        const previous = env.state.nodes[id]?.fingerprint as Fingerprint | undefined;
        reasons = previous && previous.hash !== decision.fingerprint.hash ? ['source file changed'] : [];
      }
      if (node.kind === 'render' && decision.record) {
        const file = deliverablePath(graph.manifest, node.asset, node.target as string);
        if (!(await deliverableIntact(graph.manifest, file, decision.record.output.hash, env.state))) {
          reasons = ['deliverable missing or edited: restored from the cache'];
        }
      }
    } else {
      reasons = reasonsFor(node, decision, env, !known);
    }
    let estimatedCostUsd = 0;
    if (node.kind === 'generate' && action === 'run') {
      const asset = graph.assets.get(node.asset);
      if (asset) {
        const params = await resolvedGenerateParams(asset, graph.manifest);
        estimatedCostUsd = (await getProvider(params.provider)).estimateCostUsd(params, graph.manifest.pricing);
      }
    }
    planned.set(id, {
      id,
      asset: node.asset,
      kind: node.kind,
      ...(node.target ? { target: node.target } : {}),
      action,
      reasons,
      ...(decision ? { key: decision.key } : {}),
      estimatedCostUsd,
    });
  }

  // Cheap intermediates run only when something downstream that runs needs their pixels.
  for (const id of [...graph.order].reverse()) {
    const node = planned.get(id);
    if (!node || !lazy.has(id)) continue;
    const consumers = (graph.dependents.get(id) ?? []).map((d) => planned.get(d)).filter((d): d is PlannedNode => !!d);
    const running = consumers.filter((c) => c.action === 'run');
    if (running.length > 0) {
      node.action = 'run';
      const changed = reasonsFor(graph.nodes.get(id) as GraphNode, decisions.get(id), env, false);
      node.reasons = changed[0] === 'intermediate recomputed (not stored)' ? [`not stored; recomputed for ${running.map((c) => c.id).join(', ')}`] : changed;
    }
  }

  const nodes = [...planned.values()].filter((n) => n.kind !== 'prompt');
  const run = nodes.filter((n) => n.action === 'run');
  return {
    nodes,
    summary: {
      nodes: nodes.length,
      run: run.length,
      cached: nodes.length - run.length,
      generate: run.filter((n) => n.kind === 'generate').length,
      estimatedCostUsd: round(run.reduce((sum, n) => sum + n.estimatedCostUsd, 0)),
    },
  };
}

export const round = (usd: number): number => Math.round(usd * 10_000) / 10_000;
