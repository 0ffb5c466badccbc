import { getProvider } from '../providers/registry.js';
import { ExitCode, GptError } from '../util/errors.js';
import { selectAssets, type BuildGraph } from './graph.js';
import { resolvedGenerateParams } from './keys.js';
import { stableStringify } from '../cache/hash.js';

/**
 * CI fan-out (`gpt4k build --shard I/N`): N jobs each build a disjoint part of the manifest,
 * together all of it, and no image is paid for by two of them. Assets that must be built
 * together form a group: an asset and its style's reference and white-balance assets (the
 * others need the reference's image as an input, and would otherwise generate it again), and
 * assets that ask for the same image (same prompt and generation settings: one key, one call).
 * Whole groups are dealt to shards, the most expensive first, each to the shard with the least
 * estimated cost so far (longest-processing-time first): every job computes the same partition
 * from the same manifest, with no coordination.
 */
export interface ShardItem {
  id: string;
  /** Estimated cost of building it: paid generation in USD plus a small weight per processing step. */
  cost: number;
  /** Assets it must be built with. */
  with: string[];
}

export interface ShardSpec {
  /** 1-based. */
  index: number;
  count: number;
}

/** The assets of each shard, in input order (shards may be empty when there are fewer groups than shards). */
export function assignShards(items: ShardItem[], count: number): string[][] {
  const order = new Map(items.map((item, i) => [item.id, i] as const));
  const parent = new Map(items.map((item) => [item.id, item.id] as const));
  const root = (id: string): string => {
    let r = id;
    while (parent.get(r) !== r) r = parent.get(r) as string;
    parent.set(id, r);
    return r;
  };
  for (const item of items) {
    for (const other of item.with) {
      if (!parent.has(other)) continue;
      const [a, b] = [root(item.id), root(other)];
      // The group is named by its first asset in input order: the partition does not depend on link order.
      if (a !== b) (order.get(a)! < order.get(b)! ? parent.set(b, a) : parent.set(a, b));
    }
  }
  const groups = new Map<string, { members: string[]; cost: number; first: number }>();
  for (const item of items) {
    const r = root(item.id);
    const group = groups.get(r) ?? { members: [], cost: 0, first: order.get(r)! };
    group.members.push(item.id);
    group.cost += item.cost;
    groups.set(r, group);
  }
  const load = Array.from({ length: count }, () => 0);
  const shards: string[][] = Array.from({ length: count }, () => []);
  const byCost = [...groups.values()].sort((a, b) => b.cost - a.cost || a.first - b.first);
  for (const group of byCost) {
    let lightest = 0;
    for (let s = 1; s < count; s++) if (load[s]! < load[lightest]!) lightest = s;
    load[lightest]! += group.cost;
    shards[lightest]!.push(...group.members);
  }
  return shards.map((ids) => ids.sort((a, b) => order.get(a)! - order.get(b)!));
}

/** A processing step (upscale, render) weighs this much: it lets a free-provider batch balance too. */
const STEP_WEIGHT_USD = 0.01;

/** The graph's assets as shard items: their estimated cost and the assets they go with. */
export async function shardItemsOf(graph: BuildGraph): Promise<ShardItem[]> {
  const manifest = graph.manifest;
  const sameImage = new Map<string, string>();
  const items: ShardItem[] = [];
  for (const asset of manifest.assets) {
    const links = new Set<string>();
    for (const node of graph.nodes.values()) {
      if (node.asset !== asset.id) continue;
      for (const input of [node.referenceInput, node.whiteBalanceInput]) {
        const other = input ? graph.nodes.get(input)?.asset : undefined;
        if (other && other !== asset.id) links.add(other);
      }
    }
    let cost = (asset.targets.length + 1) * STEP_WEIGHT_USD;
    if (!asset.source) {
      const params = await resolvedGenerateParams(asset, manifest);
      cost += (asset.variants ?? 1) * (await getProvider(params.provider)).estimateCostUsd(params, manifest.pricing);
      const image = stableStringify({ prompt: asset.prompt, params, variants: asset.variants ?? 1, style: asset.style ?? null });
      const first = sameImage.get(image);
      if (first) links.add(first);
      else sameImage.set(image, asset.id);
    }
    items.push({ id: asset.id, cost, with: [...links] });
  }
  return items;
}

/** The nodes shard `spec` builds (its assets and what they depend on). */
export async function shardSelection(graph: BuildGraph, spec: ShardSpec): Promise<Set<string>> {
  if (!Number.isInteger(spec.count) || spec.count < 1 || !Number.isInteger(spec.index) || spec.index < 1 || spec.index > spec.count) {
    throw new GptError('E_BAD_SHARD', `--shard ${spec.index}/${spec.count}: expected I/N with 1 <= I <= N`, { hint: 'e.g. --shard 2/3 builds the second of three shards', exitCode: ExitCode.usage });
  }
  const shards = assignShards(await shardItemsOf(graph), spec.count);
  return selectAssets(graph, shards[spec.index - 1] ?? []);
}

/** "2/3" -> { index: 2, count: 3 }; undefined when it is not I/N with 1 <= I <= N. */
export function parseShardSpec(text: string): ShardSpec | undefined {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) return undefined;
  const spec = { index: Number(match[1]), count: Number(match[2]) };
  return spec.count >= 1 && spec.index >= 1 && spec.index <= spec.count ? spec : undefined;
}
