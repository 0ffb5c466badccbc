import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../cache/store.js';
import type { Provenance } from '../color/xmp.js';
import { imageNodeOf, nodeId, type BuildGraph, type GraphNode } from '../graph/graph.js';
import { deliverablePath, type NodeDecision } from '../graph/plan.js';
import { missingSidecar, provenanceFacts } from '../graph/provenance.js';
import { extractC2pa } from '../providers/c2pa.js';
import { getProvider } from '../providers/registry.js';
import { writeFileAtomic } from '../util/atomic.js';
import { gpt4kVersion } from '../util/version.js';
import type { ExecutionJob, ExecutionServices } from './execution/types.js';
import type { NodeOutcome } from './outcomes.js';

/**
 * A render's provenance (src/color/xmp.ts): the manifest's facts (src/graph/provenance.ts) and
 * what only the build knows: the content hashes upstream, the render's key, and the date.
 *
 * The date is never the clock at render time, or a rebuild of the same bytes would differ:
 *   1. SOURCE_DATE_EPOCH when set (reproducible builds);
 *   2. for an image from a remote provider, the generation's action record (createdAt): when
 *      the image was made, shared through the cache, so every later render of it says the same;
 *   3. for a `source:` photo, or an image a local provider computes from its key alone (the
 *      same bytes in any project, at any time), none (the PDF, which must carry one, writes
 *      the Unix epoch).
 */
export async function renderProvenance(job: ExecutionJob, services: Pick<ExecutionServices, 'graph' | 'store' | 'outcome'>): Promise<Provenance> {
  const { node, asset } = job;
  const { includePrompt, ...facts } = provenanceFacts(services.graph, asset.id);
  const image = settledOutput(services.outcome(imageNodeOf(asset)));
  const upscale = settledOutput(services.outcome(nodeId.upscale(asset.id)));
  const made = !asset.source && (await getProvider(asset.generate.provider)).remote;
  const date = sourceDateEpoch() ?? (made ? await generationDate(image?.decision, services.store) : undefined);
  const c2pa = asset.source || !image ? undefined : await keepProviderC2pa(services.graph, node, services.store.objectPath(image.outputHash));
  return {
    ...facts,
    target: node.target as string,
    toolVersion: gpt4kVersion(),
    ...(date ? { date } : {}),
    ...(includePrompt ? { prompt: asset.prompt } : {}),
    sourceHash: image?.outputHash ?? 'unknown',
    ...(upscale ? { upscaleHash: upscale.outputHash } : {}),
    renderKey: job.decision.key,
    ...(c2pa ? { c2pa } : {}),
  };
}

/** An upstream node's output, when it has one (built or cached). */
function settledOutput(outcome: NodeOutcome | undefined) {
  return outcome?.status === 'built' || outcome?.status === 'cached' ? outcome : undefined;
}

function sourceDateEpoch(): Date | undefined {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : undefined;
}

/** When the picked image was generated: its action record's createdAt. */
async function generationDate(decision: NodeDecision | undefined, store: Store): Promise<Date | undefined> {
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

/**
 * A cached render whose sidecar (meta.c2pa) the plan found gone from out/ (graph/provenance.ts
 * missingSidecar) gets it back, as its deliverable does: extracted again from the generated
 * image in the store.
 */
export async function restoreProviderC2pa(job: ExecutionJob, meta: Record<string, unknown>, services: Pick<ExecutionServices, 'graph' | 'store' | 'outcome'>): Promise<void> {
  const { node, asset } = job;
  const deliverable = deliverablePath(services.graph.manifest, node.asset, node.target as string);
  if (!missingSidecar(deliverable, meta)) return;
  const image = settledOutput(services.outcome(imageNodeOf(asset)));
  if (image) await keepProviderC2pa(services.graph, node, services.store.objectPath(image.outputHash));
}
