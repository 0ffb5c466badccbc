/**
 * The programmatic API. The CLI is a thin layer over these functions.
 *
 *   import { loadManifest, plan, build } from 'gpt4k';
 *   const manifest = await loadManifest('assets.pipeline.yaml');
 *   if (manifest.ok) console.log((await build(manifest.value)).report.summary);
 */
import { loadManifest } from './engine/backends.js';
import type { ResolvedManifest } from './manifest/types.js';
import { build as runBuild, type BuildOptions, type BuildResult } from './engine/build.js';
import { graphOf, openProjectCache, planEnvOf, selectionOf, storeFactoryOf } from './engine/project.js';
import { planBuild, type Plan } from './graph/plan.js';

export { loadManifest };
export { builtinBackends } from './engine/backends.js';
export type { ManifestBackends } from './manifest/backends.js';
export { lintPrompts } from './prompt/lint.js';
export { compilePrompt, type StructuredPrompt } from './manifest/prompt-compile.js';
export type { BuildOptions, BuildResult, Plan };
export type { ResolvedManifest, ResolvedAsset, ResolvedTarget } from './manifest/types.js';
export type { PipelineReport } from './report/types.js';
export type { BuildEvent } from './engine/events.js';
export type { ImageProvider } from './providers/types.js';
export type { Upscaler } from './upscalers/types.js';
export { registerProvider } from './providers/registry.js';
export { GptError, formatDiagnostic, type Diagnostic } from './util/errors.js';
export { watch, type WatchOptions, type WatchEvent, type WatchHandle } from './engine/watch.js';
export { gc, cacheStats } from './engine/cache-lifecycle.js';
export type { CacheStats, GcOptions, GcResult } from './cache/gc.js';
export { pickCandidate, listCandidates, type CandidateListing } from './engine/variants.js';
export type { LockFile, LockEntry } from './cache/lockfile.js';

export interface PlanOptions extends Pick<BuildOptions, 'assets' | 'regenerate' | 'remoteCache' | 'openStore'> {
  /** A warning (the remote cache is unreachable, a record on it is corrupt). */
  onWarning?: (message: string) => void;
}

/**
 * What a build would run and why, with the estimated cost; changes nothing. With a remote
 * cache, a step it holds is cached (`remote: true`): its records are read, nothing downloaded.
 */
export async function plan(manifest: ResolvedManifest, options: PlanOptions = {}): Promise<Plan> {
  const graph = graphOf(manifest);
  const openStore = storeFactoryOf(manifest, { openStore: options.openStore, remoteCache: options.remoteCache, probeOnly: true, warn: options.onWarning ?? (() => undefined) });
  const cache = await openProjectCache(manifest, openStore);
  const selected = selectionOf(graph, options.assets);
  const result = await planBuild(graph, planEnvOf(cache, options.regenerate), selected);
  await cache.files.save().catch(() => undefined);
  return result;
}

/** Builds the manifest's deliverables; see BuildOptions. */
export async function build(manifest: ResolvedManifest, options: BuildOptions = {}): Promise<BuildResult> {
  return runBuild(manifest, options);
}
