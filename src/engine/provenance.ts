import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalStore } from '../cache/store.js';
import type { Provenance } from '../color/xmp.js';
import { imageNodeOf, nodeId, type BuildGraph, type GraphNode } from '../graph/graph.js';
import { deliverablePath } from '../graph/plan.js';
import { provenanceFacts } from '../graph/provenance.js';
import { extractC2pa } from '../providers/c2pa.js';
import { writeFileAtomic } from '../util/atomic.js';
import { gpt4kVersion } from '../util/version.js';
import type { NodeOutcome } from './outcomes.js';

/**
 * A render's provenance (src/color/xmp.ts): the manifest's facts (src/graph/provenance.ts) and
 * what only the build knows: the content hashes upstream, the render's key, and the date.
 *
 * The date is never the clock at render time, or a rebuild of the same bytes would differ:
 *   1. SOURCE_DATE_EPOCH when set (reproducible builds);
 *   2. for a generated asset, the generation's action record (createdAt): when the image was
 *      made, shared through the cache, so every later render of it says the same;
 *   3. for a `source:` photo, none (the PDF, which must carry one, writes the Unix epoch).
 */
export async function renderProvenance(graph: BuildGraph, node: GraphNode, renderKey: string, outcomes: Map<string, NodeOutcome>, store: LocalStore): Promise<Provenance> {
  const asset = graph.assets.get(node.asset);
  if (!asset) throw new Error(`node ${node.id} has no asset`);
  const { includePrompt, ...facts } = provenanceFacts(graph, asset.id);
  const image = outcomes.get(imageNodeOf(asset));
  const upscale = outcomes.get(nodeId.upscale(asset.id));
  const date = sourceDateEpoch() ?? (asset.source ? undefined : await generationDate(image, store));
  const c2pa = asset.source || !image?.outputHash ? undefined : await keepProviderC2pa(graph, node, store.objectPath(image.outputHash));
  return {
    ...facts,
    target: node.target as string,
    toolVersion: gpt4kVersion(),
    ...(date ? { date } : {}),
    ...(includePrompt ? { prompt: asset.prompt } : {}),
    sourceHash: image?.outputHash ?? 'unknown',
    ...(upscale?.outputHash ? { upscaleHash: upscale.outputHash } : {}),
    renderKey,
    ...(c2pa ? { c2pa } : {}),
  };
}

function sourceDateEpoch(): Date | undefined {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : undefined;
}

/** When the picked image was generated: its action record's createdAt. */
async function generationDate(outcome: NodeOutcome | undefined, store: LocalStore): Promise<Date | undefined> {
  const decision = outcome?.decision;
  let createdAt = decision?.record?.createdAt;
  if (!createdAt && decision) {
    // Generated in this build: the record was just written under the picked candidate's key.
    const variants = decision.variants;
    const key = variants?.candidates.find((c) => c.index === variants.pick)?.key ?? decision.key;
    createdAt = (await store.getAction(key))?.createdAt;
  }
  const date = createdAt ? new Date(createdAt) : undefined;
  return date && !Number.isNaN(date.getTime()) ? new Date(Math.floor(date.getTime() / 1000) * 1000) : undefined;
}

/** The C2PA sidecar's name, beside the asset's deliverables: the generated image's manifest, not theirs. */
export const C2PA_SIDECAR = 'generated.c2pa';

/**
 * The provider's own C2PA manifest store (OpenAI signs its PNGs), kept as it came: written to
 * out/<asset>/generated.c2pa and named in the XMP. It cannot be embedded: it binds the bytes of
 * the generated image by hash, and a deliverable is new bytes (docs/provenance.md).
 */
async function keepProviderC2pa(graph: BuildGraph, node: GraphNode, generated: string): Promise<Provenance['c2pa']> {
  let bytes: Buffer;
  try {
    bytes = await readFile(generated);
  } catch {
    return undefined;
  }
  const manifest = extractC2pa(bytes);
  if (!manifest) return undefined;
  const file = path.join(path.dirname(deliverablePath(graph.manifest, node.asset, node.target as string)), C2PA_SIDECAR);
  await writeFileAtomic(file, manifest);
  return { file: C2PA_SIDECAR, hash: `sha256:${createHash('sha256').update(manifest).digest('hex')}` };
}
