import type { ResolvedAsset, ResolvedManifest, StyleReference } from '../manifest/types.js';
import type { Diagnostic } from '../util/errors.js';
import { fail, ok, type Result } from '../util/result.js';

export type NodeKind = 'prompt' | 'source' | 'generate' | 'upscale' | 'balance' | 'normalize' | 'render';

/**
 * One step of one asset. Edges point from inputs to this node: `inputs[0]` is always the
 * main image (or prompt); further inputs are the style's reference image or the white-balance
 * statistics of its `whiteBalance:` asset (a small stored node of that asset: editing another
 * asset of the style never needs the reference's pixels again).
 */
export interface GraphNode {
  id: string; // "hero/generate", "hero/render:a3"
  asset: string;
  kind: NodeKind;
  target?: string;
  inputs: string[];
  /** Inputs that are another asset's image, by role: the first of the style's reference assets. */
  referenceInput?: string;
  /**
   * Generate: the edit's input images in the order they are sent (the style's `reference:` less
   * the asset itself): another asset's image node (also in `inputs`), or a file in the project.
   */
  references?: GenerateReference[];
  whiteBalanceInput?: string;
}

export type GenerateReference = { input: string } | { file: string };

export interface BuildGraph {
  manifest: ResolvedManifest;
  nodes: Map<string, GraphNode>;
  /** Node ids, inputs before the nodes that use them. */
  order: string[];
  /** Node id -> ids of the nodes that take it as an input. */
  dependents: Map<string, string[]>;
  assets: Map<string, ResolvedAsset>;
}

export const nodeId = {
  prompt: (asset: string) => `${asset}/prompt`,
  source: (asset: string) => `${asset}/source`,
  generate: (asset: string) => `${asset}/generate`,
  upscale: (asset: string) => `${asset}/upscale`,
  /** The white-balance statistics of a style's `whiteBalance:` asset, which its other assets are normalized to. */
  balance: (asset: string) => `${asset}/balance`,
  normalize: (asset: string) => `${asset}/normalize`,
  render: (asset: string, target: string) => `${asset}/render:${target}`,
};

/** The node that yields an asset's first image: its generate node, or its source node. */
export function imageNodeOf(asset: ResolvedAsset): string {
  return asset.source ? nodeId.source(asset.id) : nodeId.generate(asset.id);
}

/** Expands each asset into its chain and wires style references in as extra edges. */
export function buildGraph(manifest: ResolvedManifest): Result<BuildGraph, Diagnostic[]> {
  const nodes = new Map<string, GraphNode>();
  const assets = new Map(manifest.assets.map((a) => [a.id, a] as const));
  const add = (node: GraphNode) => nodes.set(node.id, node);

  for (const asset of manifest.assets) {
    const style = asset.style ? manifest.styles.get(asset.style) : undefined;
    if (asset.source) {
      add({ id: nodeId.source(asset.id), asset: asset.id, kind: 'source', inputs: [] });
    } else {
      add({ id: nodeId.prompt(asset.id), asset: asset.id, kind: 'prompt', inputs: [] });
      const generate: GraphNode = { id: nodeId.generate(asset.id), asset: asset.id, kind: 'generate', inputs: [nodeId.prompt(asset.id)] };
      wireReferences(generate, asset, style?.references ?? [], assets);
      add(generate);
    }
    add({ id: nodeId.upscale(asset.id), asset: asset.id, kind: 'upscale', inputs: [imageNodeOf(asset)] });
    const normalize: GraphNode = { id: nodeId.normalize(asset.id), asset: asset.id, kind: 'normalize', inputs: [nodeId.upscale(asset.id)] };
    const balanceAsset = style?.whiteBalance ? assets.get(style.whiteBalance) : undefined;
    if (balanceAsset && balanceAsset.id !== asset.id) {
      normalize.whiteBalanceInput = nodeId.balance(balanceAsset.id);
      normalize.inputs.push(normalize.whiteBalanceInput);
      if (!nodes.has(normalize.whiteBalanceInput)) {
        add({ id: normalize.whiteBalanceInput, asset: balanceAsset.id, kind: 'balance', inputs: [nodeId.upscale(balanceAsset.id)] });
      }
    }
    add(normalize);
    for (const target of asset.targets) {
      add({ id: nodeId.render(asset.id, target), asset: asset.id, kind: 'render', target, inputs: [nodeId.normalize(asset.id)] });
    }
  }

  const sorted = topologicalOrder(nodes);
  if (!sorted.ok) {
    const cycleAssets = sorted.error.map((id) => nodes.get(id)?.asset ?? id);
    const first = assets.get(cycleAssets[0] ?? '');
    return fail([
      {
        code: 'E_CYCLE',
        message: `dependency cycle between assets: ${cycleAssets.join(' -> ')}`,
        at: first?.at,
        hint: 'a style\'s reference (or whiteBalance) asset must not itself depend on an asset of that style',
      },
    ]);
  }
  const dependents = new Map<string, string[]>();
  for (const node of nodes.values()) {
    for (const input of node.inputs) {
      const list = dependents.get(input) ?? [];
      list.push(node.id);
      dependents.set(input, list);
    }
  }
  return ok({ manifest, nodes, order: sorted.value, dependents, assets });
}

/** The style's references of a generate node, in order, less the asset itself; each asset one input. */
function wireReferences(generate: GraphNode, asset: ResolvedAsset, entries: StyleReference[], assets: Map<string, ResolvedAsset>): void {
  const references: GenerateReference[] = [];
  for (const entry of entries) {
    if (!('asset' in entry)) {
      references.push({ file: entry.file });
      continue;
    }
    const referenceAsset = assets.get(entry.asset);
    if (!referenceAsset || referenceAsset.id === asset.id) continue;
    const input = imageNodeOf(referenceAsset);
    generate.referenceInput ??= input;
    if (!generate.inputs.includes(input)) generate.inputs.push(input);
    references.push({ input });
  }
  if (references.length > 0) generate.references = references;
}

/** Depth-first topological sort; on a cycle, the error is the cycle's node path (first node repeated last). */
export function topologicalOrder(nodes: Map<string, GraphNode>): Result<string[], string[]> {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  let cycle: string[] | undefined;

  const visit = (id: string): void => {
    if (cycle) return;
    const seen = state.get(id);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      cycle = [...stack.slice(stack.indexOf(id)), id];
      return;
    }
    state.set(id, 'visiting');
    stack.push(id);
    for (const input of nodes.get(id)?.inputs ?? []) visit(input);
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of nodes.keys()) visit(id);
  return cycle ? fail(cycle) : ok(order);
}

/** The graph restricted to some assets and everything they depend on (`gpt4k build hero`). */
export function selectAssets(graph: BuildGraph, assetIds: string[]): Set<string> {
  const wanted = new Set<string>();
  const visit = (id: string) => {
    if (wanted.has(id)) return;
    wanted.add(id);
    for (const input of graph.nodes.get(id)?.inputs ?? []) visit(input);
  };
  for (const node of graph.nodes.values()) if (assetIds.includes(node.asset)) visit(node.id);
  return wanted;
}
