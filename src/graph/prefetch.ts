import { hashObject } from '../cache/hash.js';
import type { FileHashes } from '../cache/file-hashes.js';
import { pickedCandidate, type LockFile } from '../cache/lockfile.js';
import type { BuildGraph, GraphNode } from './graph.js';
import { fingerprintNode } from './keys.js';
import { candidateKey } from './variants.js';

/**
 * The action keys of the generate nodes whose inputs are all prompts (no reference image):
 * known before any cache lookup, so a remote store can fetch their records side by side before
 * planning decides nodes one by one. Every candidate (variants) the plan will ask for is included.
 */
export async function upfrontGenerateKeys(graph: BuildGraph, env: { files: FileHashes; lock?: LockFile | undefined }, selected: Set<string> | undefined): Promise<string[]> {
  const keys: string[] = [];
  for (const id of graph.order) {
    const node = graph.nodes.get(id) as GraphNode;
    if (node.kind !== 'generate' || (selected && !selected.has(id))) continue;
    const prompts = node.inputs.map((input) => graph.nodes.get(input));
    if (!prompts.every((input) => input?.kind === 'prompt')) continue;
    const keyEnv = { manifest: graph.manifest, files: env.files };
    // A prompt node's output hash is its key (graph/plan.ts decideNode).
    const inputHashes = await Promise.all(prompts.map(async (input) => hashObject(await fingerprintNode(graph, input as GraphNode, [], keyEnv))));
    const fingerprint = await fingerprintNode(graph, node, inputHashes, keyEnv);
    const key = await hashObject(fingerprint);
    const count = Math.max(graph.assets.get(node.asset)?.variants ?? 1, pickedCandidate(env.lock, node.asset, key));
    for (let index = 1; index <= count; index++) keys.push(await candidateKey(fingerprint, key, index));
  }
  return keys;
}
