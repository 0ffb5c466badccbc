import path from 'node:path';
import { openProjectCache as openCacheAt, type ProjectCache, type StoreFactory } from '../cache/project-cache.js';
import { buildGraph, selectAssets, type BuildGraph } from '../graph/graph.js';
import type { PlanEnv } from '../graph/plan.js';
import { closest } from '../manifest/suggest.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { ExitCode, GptError, manifestError } from '../util/errors.js';

/** The project's cache, beside its manifest (.gpt4k/). */
export function openProjectCache(manifest: ResolvedManifest, openStore?: StoreFactory): Promise<ProjectCache> {
  return openCacheAt(manifest.root, openStore);
}

/** The manifest's graph; a cycle is a manifest error. */
export function graphOf(manifest: ResolvedManifest): BuildGraph {
  const graph = buildGraph(manifest);
  if (!graph.ok) throw manifestError(graph.error);
  return graph.value;
}

/** The nodes `gpt4k build ASSET...` builds (undefined: all); an unknown asset is a usage error. */
export function selectionOf(graph: BuildGraph, assets: string[] | undefined): Set<string> | undefined {
  if (!assets || assets.length === 0) return undefined;
  for (const id of assets) {
    if (!graph.assets.has(id)) {
      const close = closest(id, graph.assets.keys());
      throw new GptError('E_UNKNOWN_ASSET', `no asset named "${id}" in ${path.basename(graph.manifest.file)}`, {
        hint: close ? `did you mean "${close}"?` : `the assets are: ${knownAssets(graph)}`,
        exitCode: ExitCode.usage,
      });
    }
  }
  return selectAssets(graph, assets);
}

function knownAssets(graph: BuildGraph): string {
  const ids = [...graph.assets.keys()];
  return ids.length > 10 ? `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more` : ids.join(', ');
}

/** The plan's view of the cache (`regenerate`: the assets whose generation is forced). */
export function planEnvOf(cache: ProjectCache, regenerate?: string[]): PlanEnv {
  return { store: cache.store, files: cache.files, state: cache.state, forced: new Set(regenerate ?? []), ...(cache.lock ? { lock: cache.lock } : {}), pendingBatches: cache.pendingBatches };
}

