import path from 'node:path';
import type { FileHashes } from '../cache/file-hashes.js';
import { sharedObject } from '../cache/hash.js';
import { profileRefFor, type ResolvedAsset, type ResolvedManifest, type ResolvedTarget, type GenerateParams } from '../manifest/types.js';
import { getProvider } from '../providers/registry.js';
import { getUpscaler } from '../upscalers/registry.js';
import { sharpPackage } from '../upscalers/sharp-versions.js';
import type { BuildGraph, GraphNode } from './graph.js';
import { provenanceFacts, type ProvenanceFacts } from './provenance.js';

/**
 * A fingerprint is a plain object in a fixed shape per node kind; its hash is the node's key.
 * Keeping the object (not just the hash) is what lets `plan` say which field changed.
 * Inputs enter by content hash, not by key, so identical bytes upstream cut a rebuild off.
 * Field order is fixed by the object literals in fingerprintNode (the hash is of stable JSON).
 */
export type PromptFingerprint = { kind: 'prompt'; text: string };
export type SourceFingerprint = { kind: 'source'; file: string; hash: string };
/** Another asset's image a node takes in (style reference, white balance), by content hash. */
export type AssetInput = { asset: string | undefined; image: string | undefined };
/** One entry of a style's reference list: an asset's image or a project file, by content hash. */
export type ReferenceEntry = AssetInput | { file: string; image: string };
export type GenerateFingerprint = {
  kind: 'generate';
  version: number;
  provider: string;
  model: string;
  size: string;
  quality: string;
  seed: number | null;
  options: Record<string, unknown>;
  prompt: string;
  /** The one reference asset of `reference: hero` (the shape keys had before reference lists). */
  reference: AssetInput | null;
  /** A reference list of several images, or with a file: each entry in order, by content hash. */
  references?: ReferenceEntry[];
  tool: Record<string, string>;
  /** Candidate K > 1 of an asset with variants (candidate 1 has none). */
  variant?: number;
};
export type UpscaleFingerprint =
  | { kind: 'upscale'; engine: 'none'; input: string | null }
  | {
      kind: 'upscale';
      version: number;
      engine: string;
      scale: number;
      model: string | null;
      sharpen: boolean;
      tile: number | 'auto';
      fallback: string | null;
      input: string | null;
      tool: Record<string, string>;
    };
export type BalanceFingerprint = { kind: 'balance'; version: number; input: string | null };
export type NormalizeFingerprint = {
  kind: 'normalize';
  version: number;
  whiteBalance: AssetInput | null;
  cleanup?: { background: unknown; threshold: unknown; version: number };
  input: string | null;
};
export type RenderFingerprint = {
  kind: 'render';
  version: number;
  target: object;
  profile: object;
  tool: Record<string, string>;
  /** What the deliverable's XMP says (graph/provenance.ts): a change rewrites it. */
  provenance: ProvenanceFacts;
  input: string | null;
};

export type Fingerprint = PromptFingerprint | SourceFingerprint | GenerateFingerprint | UpscaleFingerprint | BalanceFingerprint | NormalizeFingerprint | RenderFingerprint;

/** Any fingerprint as a plain record: what `plan` diffs, and what state.json gives back (perhaps of an older gpt4k). */
export type FingerprintFields = Readonly<Record<string, unknown>> & { readonly kind: string };

export interface KeyEnv {
  manifest: ResolvedManifest;
  files: FileHashes;
}

/** Bumped when what a step does changes in a way its parameters do not show. */
export const STEP_VERSIONS = { generate: 1, upscale: 1, balance: 1, normalize: 2, render: 3 } as const;

/** Bumped when the packshot cleanup (src/steps/cleanup.ts) changes what it does. */
export const CLEANUP_VERSION = 1;

let sharpVersions: Record<string, string> | undefined;

/** sharp's and libvips' versions without loading sharp (a no-op build should not pay for it). */
function imagingToolVersion(): Record<string, string> {
  if (!sharpVersions) {
    const { json } = sharpPackage();
    sharpVersions = { sharp: json.version, libvips: json.config?.libvips ?? 'unknown' };
  }
  return sharpVersions;
}

export function targetAspect(target: ResolvedTarget): number {
  return target.width / target.height;
}

/** A generate size for `auto-from-targets`, or the size as written. */
export async function resolveGenerateSize(asset: ResolvedAsset, manifest: ResolvedManifest): Promise<string> {
  const params = asset.generate;
  if (params.size !== 'auto-from-targets') return params.size;
  // The largest target decides the aspect: it is the one that suffers most from cropping.
  const targets = asset.targets.map((t) => manifest.targets.get(t)).filter((t): t is ResolvedTarget => !!t);
  targets.sort((a, b) => b.width * b.height - a.width * a.height);
  const aspect = targets[0] ? targetAspect(targets[0]) : 1.5;
  const provider = await getProvider(params.provider);
  if (provider.sizeForAspect) return provider.sizeForAspect(params, aspect);
  const long = 1536;
  const round16 = (n: number) => Math.max(16, Math.round(n / 16) * 16);
  return aspect >= 1 ? `${long}x${round16(long / aspect)}` : `${round16(long * aspect)}x${long}`;
}

export function parseSize(size: string): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/.exec(size);
  if (!match) throw new Error(`not a WIDTHxHEIGHT size: ${size}`);
  return { width: Number(match[1]), height: Number(match[2]) };
}

export async function resolvedGenerateParams(asset: ResolvedAsset, manifest: ResolvedManifest): Promise<GenerateParams> {
  return { ...asset.generate, size: await resolveGenerateSize(asset, manifest) };
}

/**
 * A part of the fingerprints of every node of one target, made once per target (and variant
 * name) and registered as shared, so its stable JSON is written once, not once per asset.
 */
const sharedParts = new WeakMap<object, Map<string, object>>();
function sharedPart<T extends object>(owner: object, name: string, make: () => T): T {
  let parts = sharedParts.get(owner);
  if (!parts) sharedParts.set(owner, (parts = new Map()));
  let part = parts.get(name) as T | undefined;
  if (!part) parts.set(name, (part = sharedObject(make())));
  return part;
}

function withoutPosition<T extends { at?: unknown }>(value: T): Omit<T, 'at'> {
  const { at: _at, ...rest } = value;
  return rest;
}

function projectRelative(manifest: ResolvedManifest, file: string): string {
  return path.relative(manifest.root, file).split(path.sep).join('/');
}

/**
 * The fingerprint of a node given the content hashes of its inputs (in `node.inputs` order).
 * Returns undefined for `prompt` nodes, whose "output" is their text.
 */
export async function fingerprintNode(graph: BuildGraph, node: GraphNode, inputHashes: string[], env: KeyEnv): Promise<Fingerprint> {
  const asset = graph.assets.get(node.asset);
  if (!asset) throw new Error(`node ${node.id} has no asset`);
  const manifest = env.manifest;
  const mainInput = inputHashes[0] ?? null;
  switch (node.kind) {
    case 'prompt':
      return { kind: 'prompt', text: asset.prompt };
    case 'source': {
      const file = asset.source as string;
      return { kind: 'source', file: projectRelative(manifest, file), hash: await env.files.hash(file) };
    }
    case 'generate': {
      const params = await resolvedGenerateParams(asset, manifest);
      const provider = await getProvider(params.provider);
      const references = await referenceEntries(graph, node, inputHashes, env);
      return {
        kind: 'generate',
        version: STEP_VERSIONS.generate,
        provider: params.provider,
        model: params.model,
        size: params.size,
        quality: params.quality,
        seed: params.seed ?? null,
        options: Object.fromEntries(Object.entries(params.options).filter(([name]) => !provider.transportOptions?.includes(name))),
        prompt: asset.prompt,
        // One asset keeps the key it had before reference lists: no regeneration on upgrade.
        reference: references.length === 1 && 'asset' in references[0]! ? references[0] : null,
        ...(references.length > 1 || (references[0] && 'file' in references[0]) ? { references } : {}),
        tool: provider.fingerprint(params, { projectRoot: manifest.root }),
      };
    }
    case 'upscale': {
      const params = asset.upscale;
      if (params.engine === 'none' || params.scale === 1) return { kind: 'upscale', engine: 'none', input: mainInput };
      const upscaler = await getUpscaler(params.engine);
      return {
        kind: 'upscale',
        version: STEP_VERSIONS.upscale,
        engine: params.engine,
        scale: params.scale,
        model: params.model ?? null,
        sharpen: params.sharpen ?? false,
        tile: params.tile ?? 'auto',
        fallback: params.fallback ?? null,
        input: mainInput,
        tool: await upscaler.fingerprint(params),
      };
    }
    case 'balance':
      return { kind: 'balance', version: STEP_VERSIONS.balance, input: mainInput };
    case 'normalize': {
      const balanceIndex = node.whiteBalanceInput ? node.inputs.indexOf(node.whiteBalanceInput) : -1;
      return {
        kind: 'normalize',
        version: STEP_VERSIONS.normalize,
        whiteBalance: balanceIndex >= 0 ? { asset: graph.nodes.get(node.whiteBalanceInput as string)?.asset, image: inputHashes[balanceIndex] } : null,
        // Only when on, so turning cleanup on changes no other asset's key.
        ...(asset.normalize ? { cleanup: { background: asset.normalize.background, threshold: asset.normalize.threshold, version: CLEANUP_VERSION } } : {}),
        input: mainInput,
      };
    }
    case 'render': {
      const target = manifest.targets.get(node.target as string);
      if (!target) throw new Error(`unknown target ${node.target}`);
      const profileRef = profileRefFor(manifest, target.color.profile);
      const profileHash = profileRef?.kind === 'file' ? await env.files.hash(profileRef.path) : undefined;
      const profile =
        profileHash !== undefined
          ? sharedPart(target, `file:${profileHash}`, () => ({ name: target.color.profile, file: profileHash }))
          : sharedPart(target, 'builtin', () => ({ name: profileRef?.kind === 'builtin' ? profileRef.name : target.color.profile, builtin: true }));
      return {
        kind: 'render',
        version: STEP_VERSIONS.render,
        target: sharedPart(target, 'target', () => structuredClone(withoutPosition(target))),
        profile,
        tool: sharedObject(imagingToolVersion()),
        provenance: provenanceFacts(graph, node.asset),
        input: mainInput,
      };
    }
  }
}

/** A generate node's references in order: an asset's image by its input's hash, a file by its content hash. */
async function referenceEntries(graph: BuildGraph, node: GraphNode, inputHashes: string[], env: KeyEnv): Promise<ReferenceEntry[]> {
  const entries: ReferenceEntry[] = [];
  for (const reference of node.references ?? []) {
    if ('file' in reference) {
      entries.push({ file: projectRelative(env.manifest, reference.file), image: await env.files.hash(reference.file) });
    } else {
      entries.push({ asset: graph.nodes.get(reference.input)?.asset, image: inputHashes[node.inputs.indexOf(reference.input)] });
    }
  }
  return entries;
}

/** Nodes whose output is only a function of their fingerprint and cheap to recompute. */
export async function isPersisted(graph: BuildGraph, node: GraphNode): Promise<boolean> {
  switch (node.kind) {
    case 'prompt':
    case 'normalize':
      return false;
    case 'source':
      return false; // the file itself is the truth
    case 'generate':
    case 'balance':
    case 'render':
      return true;
    case 'upscale': {
      const params = graph.assets.get(node.asset)?.upscale;
      if (!params || params.engine === 'none' || params.scale === 1) return false;
      return (await getUpscaler(params.engine)).persist;
    }
  }
}

/** A node that hands its input through unchanged: its output hash is its input's. */
export function isPassThrough(graph: BuildGraph, node: GraphNode): boolean {
  if (node.kind === 'normalize') return !node.whiteBalanceInput && !graph.assets.get(node.asset)?.normalize;
  if (node.kind === 'upscale') {
    const params = graph.assets.get(node.asset)?.upscale;
    return !params || params.engine === 'none' || params.scale === 1;
  }
  return false;
}
