import { collectGarbage, statsOf, takeInventory, type CacheStats, type GcOptions, type GcResult, type LiveSet } from '../cache/gc.js';
import { acquireBuildLock } from '../cache/lock.js';
import { planBuild } from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { ProjectCache } from '../cache/project-cache.js';
import { graphOf, openProjectCache, planEnvOf } from './project.js';

/**
 * What the current manifest reaches: the key of every node whose inputs are known (planning
 * the whole manifest, as a build would), and the images assets.lock.json pins.
 */
export async function liveSetOf(manifest: ResolvedManifest, cache: ProjectCache): Promise<LiveSet> {
  const graph = graphOf(manifest);
  const plan = await planBuild(graph, planEnvOf(cache));
  const keys = new Set<string>();
  for (const node of plan.nodes) if (node.key) keys.add(node.key);
  const objects = new Set<string>();
  for (const entry of Object.values(cache.lock?.assets ?? {})) {
    objects.add(entry.image);
    for (const image of entry.candidates ?? []) objects.add(image);
  }
  return { keys, objects };
}

/** `gpt4k cache stats`: sizes and counts, reachable or not. */
export async function cacheStats(manifest: ResolvedManifest): Promise<CacheStats & { cacheDir: string }> {
  const cache = await openProjectCache(manifest);
  const [inventory, live] = await Promise.all([takeInventory(cache.cacheDir), liveSetOf(manifest, cache)]);
  await cache.files.save().catch(() => undefined);
  return { cacheDir: cache.cacheDir, ...statsOf(inventory, live) };
}

/** `gpt4k gc`: removes what the current manifest does not reach (see collectGarbage), holding the build lock. */
export async function gc(manifest: ResolvedManifest, options: Partial<GcOptions> & { lockTimeoutMs?: number } = {}): Promise<GcResult & { cacheDir: string }> {
  const probe = await openProjectCache(manifest);
  const lock = await acquireBuildLock(probe.cacheDir, { timeoutMs: options.lockTimeoutMs ?? 10_000 });
  try {
    const cache = await openProjectCache(manifest);
    const live = await liveSetOf(manifest, cache);
    const inventory = await takeInventory(cache.cacheDir);
    const result = await collectGarbage(cache.cacheDir, inventory, live, {
      keep: options.keep ?? 1,
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
    });
    await cache.files.save().catch(() => undefined);
    return { cacheDir: cache.cacheDir, ...result };
  } finally {
    await lock.release();
  }
}
