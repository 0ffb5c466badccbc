import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * What the last build left behind: each node's fingerprint (so `plan` can say what changed)
 * and each deliverable's stat (so a no-op build checks `out/` without reading it).
 * Paths are project-relative so the cache travels.
 */
export interface BuildState {
  version: 1;
  nodes: Record<string, { key: string; fingerprint: unknown }>;
  outputs: Record<string, { hash: string; size: number; mtimeMs: number }>;
}

export async function loadState(file: string): Promise<BuildState> {
  try {
    const state = JSON.parse(await readFile(file, 'utf8')) as BuildState;
    if (state.version === 1) return state;
  } catch {
    // first build, or an unreadable state file: plan treats every node as new
  }
  return { version: 1, nodes: {}, outputs: {} };
}

export async function saveState(file: string, state: BuildState): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(state));
}
