import { collectGarbage, statsOf, takeInventory, type CacheStats, type GcOptions, type GcResult, type LiveSet } from '../cache/gc.js';
import { acquireBuildLock } from '../cache/lock.js';
import { readRemoteStats, type RemoteStats } from '../cache/remote/stats.js';
import { resolveRemoteCache } from '../cache/remote/config.js';
import { layeredStoreOf } from '../cache/remote/open.js';
import { LocalStore, type ActionRecord } from '../cache/store.js';
import { ExitCode, GptError } from '../util/errors.js';
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
export async function cacheStats(manifest: ResolvedManifest): Promise<CacheStats & { cacheDir: string; remote?: RemoteStats }> {
  const cache = await openProjectCache(manifest);
  const [inventory, live, remote] = await Promise.all([takeInventory(cache.cacheDir), liveSetOf(manifest, cache), readRemoteStats(cache.cacheDir)]);
  await cache.files.save().catch(() => undefined);
  return { cacheDir: cache.cacheDir, ...statsOf(inventory, live), ...(remote ? { remote } : {}) };
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

export interface PushResult {
  /** The remote, for messages (no credentials). */
  url: string;
  /** Records the current manifest reaches that .gpt4k/ holds. */
  local: number;
  /** Of those, already on the remote. */
  present: number;
  uploaded: number;
  /** False when the remote failed on the way (`warn` said why). */
  complete: boolean;
}

/**
 * `gpt4k cache push`: uploads what this checkout built and the remote lacks (records the
 * current manifest reaches, with their objects), e.g. builds made before a remote was set up,
 * or while it was down. Holds the build lock, so gc removes nothing under it.
 */
export async function pushCache(manifest: ResolvedManifest, options: { remoteCache?: string | undefined; warn: (message: string) => void; lockTimeoutMs?: number }): Promise<PushResult> {
  const config = resolveRemoteCache(manifest.remoteCache, options.remoteCache, process.env);
  if (!config) {
    throw new GptError('E_NO_REMOTE_CACHE', 'no remote cache to push to', { hint: 'set cache.remote.url in the manifest, GPT4K_REMOTE_CACHE, or pass --remote-cache URL', exitCode: ExitCode.usage });
  }
  if (!config.write) {
    throw new GptError('E_NO_REMOTE_CACHE', `the remote cache ${config.url} is read-only here (cache.remote.write: false or GPT4K_REMOTE_CACHE_WRITE=0)`, { hint: 'push from a checkout allowed to write to it', exitCode: ExitCode.usage });
  }
  const probe = await openProjectCache(manifest);
  const lock = await acquireBuildLock(probe.cacheDir, { timeoutMs: options.lockTimeoutMs ?? 10_000 });
  try {
    const cache = await openProjectCache(manifest);
    const live = await liveSetOf(manifest, cache);
    const local = new LocalStore(cache.cacheDir);
    const records: ActionRecord[] = [];
    for (const key of live.keys) {
      const record = await local.readRecord(key);
      if (record && (await local.hasObject(record.output.hash))) records.push(record);
    }
    await cache.files.save().catch(() => undefined);
    const result = await layeredStoreOf(cache.cacheDir, config, { warn: options.warn }).push(records);
    return { url: config.url, local: records.length, ...result };
  } finally {
    await lock.release();
  }
}
