import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { DigitalSourceType } from '../color/xmp.js';
import type { AssetMetadata, ResolvedAsset } from '../manifest/types.js';
import { nodeId, type BuildGraph } from './graph.js';

/**
 * The manifest's part of a deliverable's provenance (docs/provenance.md): what the asset is and
 * how it was asked for. It is part of every render's fingerprint, so the XMP a cached
 * deliverable carries is never out of date with the manifest; the engine adds what only a build
 * knows (content hashes, the generation's date) in src/engine/provenance.ts.
 */
export interface ProvenanceFacts {
  asset: string;
  /** Absent for a `source:` photo: gpt4k makes no claim about a photo it only resized. */
  digitalSourceType?: DigitalSourceType;
  provider?: string;
  model?: string;
  /** `sha256:<hex>` of the prompt as sent (style prefix included). */
  promptHash?: string;
  /** The manifest opted in to writing the prompt itself. */
  includePrompt?: true;
  /** `metadata:`: copyright, credit, usage terms, keywords. */
  metadata?: AssetMetadata;
}

const factsOf = new WeakMap<ResolvedAsset, ProvenanceFacts>();

export function provenanceFacts(graph: BuildGraph, assetId: string): ProvenanceFacts {
  const asset = graph.assets.get(assetId);
  if (!asset) throw new Error(`no asset ${assetId}`);
  let facts = factsOf.get(asset);
  if (facts) return facts;
  const metadata = asset.metadata ? { metadata: asset.metadata } : {};
  if (asset.source) {
    facts = { asset: asset.id, ...metadata };
  } else {
    facts = {
      asset: asset.id,
      digitalSourceType: digitalSourceTypeOf(graph, asset),
      provider: asset.generate.provider,
      model: asset.generate.model,
      promptHash: `sha256:${createHash('sha256').update(asset.prompt, 'utf8').digest('hex')}`,
      ...(graph.manifest.provenance?.prompt ? { includePrompt: true as const } : {}),
      ...metadata,
    };
  }
  factsOf.set(asset, facts);
  return facts;
}

/**
 * IPTC's term for a generated asset: `trainedAlgorithmicMedia`, or
 * `compositeWithTrainedAlgorithmicMedia` when the generation was conditioned on a real photo
 * (its style's reference asset is a `source:` image).
 */
function digitalSourceTypeOf(graph: BuildGraph, asset: ResolvedAsset): DigitalSourceType {
  const generate = graph.nodes.get(nodeId.generate(asset.id));
  const reference = generate?.referenceInput ? graph.nodes.get(generate.referenceInput)?.asset : undefined;
  return reference !== undefined && graph.assets.get(reference)?.source ? 'compositeWithTrainedAlgorithmicMedia' : 'trainedAlgorithmicMedia';
}

/**
 * The sidecar a render's record names beside its deliverable (the provider's C2PA manifest,
 * meta.c2pa; src/engine/provenance.ts) when it is gone from out/: the plan then has the render
 * restore it, as it restores a deleted deliverable. Renders without one pay no stat.
 */
export function missingSidecar(deliverable: string, meta: Record<string, unknown>): string | undefined {
  if (typeof meta.c2pa !== 'string') return undefined;
  const sidecar = path.join(path.dirname(deliverable), path.basename(meta.c2pa));
  return statSync(sidecar, { throwIfNoEntry: false }) ? undefined : sidecar;
}
