import { emptyLock, readLockFile, sameLockFile, writeLockFile, LOCK_FILE, type LockEntry, type LockFile } from '../cache/lockfile.js';
import { nodeId, type BuildGraph, type GraphNode } from '../graph/graph.js';
import type { Fingerprint, GenerateFingerprint } from '../graph/keys.js';
import { decideNode, type NodeDecision, type Plan, type PlanEnv } from '../graph/plan.js';
import type { CandidateSet } from '../graph/variants.js';
import type { GenerateParams, ResolvedAsset, ResolvedManifest } from '../manifest/types.js';
import { graphOf, openProjectCache, planEnvOf, selectionOf } from './project.js';
import { ExitCode, GptError } from '../util/errors.js';
import type { NodeOutcome } from './outcomes.js';

/** Every candidate image of one generate node, in candidate order, and the one picked. */
export interface CandidateImages {
  pick: number;
  images: string[];
}

export function candidateImagesOf(variants: CandidateSet, made: Array<{ index: number; hash: string }>): CandidateImages {
  const images = variants.candidates.map((c) => made.find((m) => m.index === c.index)?.hash ?? c.record?.output.hash ?? '');
  return { pick: variants.pick, images };
}

/**
 * What one provider call for candidate `index` sends and where its record goes. Candidate 1 is
 * the plain generation; candidate K also shifts the seed, so a seeded provider (procedural)
 * makes a different picture too.
 */
export async function generateCall(
  params: GenerateParams,
  decision: NodeDecision,
  variants: CandidateSet,
  index: number,
): Promise<{ key: string; fingerprint: Fingerprint; params: GenerateParams; meta: Record<string, unknown> }> {
  const key = variants.candidates.find((c) => c.index === index)?.key ?? decision.key;
  if (index === 1) return { key, fingerprint: decision.fingerprint, params, meta: variants.candidates.length > 1 ? { variant: 1 } : {} };
  return {
    key,
    fingerprint: { ...(decision.fingerprint as GenerateFingerprint), variant: index },
    params: { ...params, seed: (params.seed ?? 0) + index - 1 },
    meta: { variant: index },
  };
}

/**
 * --frozen with a lock file: every generated asset must come out exactly as the lock says (same
 * generation key, same image), or the build is refused before any work (exit 3).
 */
export function checkLock(plan: Plan, lock: LockFile | undefined): void {
  if (!lock) return;
  const problems: string[] = [];
  for (const node of plan.nodes) {
    if (node.kind !== 'generate') continue;
    const entry = lock.assets[node.asset];
    if (!entry) problems.push(`${node.asset} (not in ${LOCK_FILE})`);
    else if (node.key !== undefined && node.key !== entry.key) problems.push(`${node.asset} (the manifest changed since ${LOCK_FILE} was written: generation key ${node.key}, locked ${entry.key})`);
    else if (node.outputHash !== undefined && node.outputHash !== entry.image) {
      problems.push(`${node.asset} (the cache would use image ${node.outputHash}, ${LOCK_FILE} pins ${entry.image}${entry.pick ? `, candidate ${entry.pick}` : ''})`);
    }
  }
  if (problems.length === 0) return;
  throw new GptError('E_LOCK_MISMATCH', `--frozen: ${LOCK_FILE} does not match ${problems.length} asset(s): ${problems.join('; ')}`, {
    hint: `run \`gpt4k build\` without --frozen (and \`gpt4k pick\` if needed) where the API key is, then commit ${LOCK_FILE}; or restore the cache the lock was written with`,
    exitCode: ExitCode.policy,
  });
}

/**
 * Brings assets.lock.json up to date after a build: an entry per generated asset that built or
 * came from the cache. A full build also drops assets the manifest no longer generates.
 */
export async function lockAfterBuild(
  graph: BuildGraph,
  lock: LockFile | undefined,
  order: string[],
  outcomes: Map<string, NodeOutcome>,
  made: Map<string, CandidateImages>,
  fullBuild: boolean,
): Promise<void> {
  const next: LockFile = { version: 1, assets: { ...(lock?.assets ?? {}) } };
  if (fullBuild) {
    for (const id of Object.keys(next.assets)) {
      const asset = graph.assets.get(id);
      if (!asset || asset.source) delete next.assets[id];
    }
  }
  for (const id of order) {
    const node = graph.nodes.get(id);
    const outcome = outcomes.get(id);
    if (node?.kind !== 'generate' || (outcome?.status !== 'built' && outcome?.status !== 'cached')) continue;
    const variants = outcome.decision.variants;
    const images = made.get(node.asset) ?? (variants ? candidateImagesOf(variants, []) : { pick: 1, images: [outcome.outputHash] });
    const several = images.images.length > 1;
    const entry: LockEntry = { key: outcome.key, image: outcome.outputHash };
    if (several) Object.assign(entry, { pick: images.pick, candidates: images.images });
    next.assets[node.asset] = entry;
  }
  if (!lock && Object.keys(next.assets).length === 0) return;
  if (lock && sameLockFile(lock, next)) return;
  await writeLockFile(graph.manifest.root, next);
}

export interface CandidateListing {
  asset: string;
  key: string;
  wanted: number;
  pick: number;
  candidates: Array<{ index: number; image?: string; createdAt?: string }>;
}

/** The candidates of one asset under the manifest as it is now (nothing is generated). */
export async function listCandidates(manifest: ResolvedManifest, assetId: string): Promise<CandidateListing> {
  const graph = graphOf(manifest);
  selectionOf(graph, [assetId]);
  const asset = graph.assets.get(assetId) as ResolvedAsset;
  if (asset.source) {
    throw new GptError('E_NOT_GENERATED', `"${assetId}" comes from a source image, so it has no candidates to pick from`, { exitCode: ExitCode.usage });
  }
  const cache = await openProjectCache(manifest);
  const env: PlanEnv = planEnvOf(cache);
  const memo = new Map<string, Promise<NodeDecision | undefined>>();
  /** A node's decision once its inputs' content is known; undefined while an input is not built yet. */
  const decide = (id: string): Promise<NodeDecision | undefined> => {
    let promise = memo.get(id);
    if (!promise) {
      promise = (async () => {
        const node = graph.nodes.get(id) as GraphNode;
        const inputs = await Promise.all(node.inputs.map((input) => decide(input)));
        const hashes = inputs.map((d) => d?.outputHash);
        if (!hashes.every((h): h is string => h !== undefined)) return undefined;
        return decideNode(graph, node, hashes, env);
      })();
      memo.set(id, promise);
    }
    return promise;
  };
  const decision = await decide(nodeId.generate(assetId));
  await cache.files.save().catch(() => undefined);
  if (!decision?.variants) {
    throw new GptError('E_NOT_BUILT', `the inputs of "${assetId}" are not built yet, so its candidates are not known`, {
      hint: 'run `gpt4k build` first',
      exitCode: ExitCode.usage,
    });
  }
  return {
    asset: assetId,
    key: decision.key,
    wanted: asset.variants ?? 1,
    pick: decision.variants.pick,
    candidates: decision.variants.candidates.map((c) => ({
      index: c.index,
      ...(c.record ? { image: c.record.output.hash, createdAt: c.record.createdAt } : {}),
    })),
  };
}

/**
 * `gpt4k pick ID K`: pins candidate K of an asset in assets.lock.json. The candidate must be in
 * the cache; the next build uses it downstream.
 */
export async function pickCandidate(manifest: ResolvedManifest, assetId: string, index: number): Promise<CandidateListing & { changed: boolean }> {
  const listing = await listCandidates(manifest, assetId);
  const candidate = listing.candidates.find((c) => c.index === index);
  if (!Number.isInteger(index) || index < 1 || !candidate) {
    throw new GptError('E_NO_CANDIDATE', `"${assetId}" has no candidate ${index}: it has ${listing.candidates.length} (variants: ${listing.wanted})`, {
      hint: listing.candidates.length > 1 ? `pick one of 1-${listing.candidates.length}` : `set variants: N on "${assetId}" and build to make more candidates`,
      exitCode: ExitCode.usage,
    });
  }
  if (!candidate.image) {
    throw new GptError('E_NOT_BUILT', `candidate ${index} of "${assetId}" is not in the cache yet`, { hint: 'run `gpt4k build` first, then pick', exitCode: ExitCode.usage });
  }
  const lock = (await readLockFile(manifest.root)) ?? emptyLock();
  const images = listing.candidates.map((c) => c.image);
  const entry: LockEntry = { key: listing.key, pick: index, image: candidate.image };
  if (images.length > 1 && images.every((i): i is string => i !== undefined)) entry.candidates = images;
  lock.assets[assetId] = entry;
  const changed = await writeLockFile(manifest.root, lock);
  return { ...listing, pick: index, changed };
}
