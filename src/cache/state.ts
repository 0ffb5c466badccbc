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

/** The text each state was read from: an unchanged state (a no-op build) is not written again. */
const loadedText = new WeakMap<BuildState, string>();

export async function loadState(file: string): Promise<BuildState> {
  try {
    const text = await readFile(file, 'utf8');
    const state = JSON.parse(text) as BuildState;
    if (state.version === 1) {
      loadedText.set(state, text);
      return state;
    }
  } catch {
    // first build, or an unreadable state file: plan treats every node as new
  }
  return { version: 1, nodes: {}, outputs: {} };
}

/**
 * Writes the state, unless `changed` is false and it is the state as read (a no-op build
 * changes nothing: it is not even serialized to compare).
 */
export async function saveState(file: string, state: BuildState, changed = true): Promise<void> {
  if (!changed && loadedText.has(state)) return;
  const text = JSON.stringify(state);
  if (loadedText.get(state) === text) return;
  await writeFileAtomic(file, text);
  loadedText.set(state, text);
}
