import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { compactJsonChunks } from '../util/json-chunks.js';

/**
 * What the last build left behind: each node's key and each deliverable's stat (so a no-op
 * build checks `out/` without reading it), in state.json; and each node's fingerprint (so
 * `plan` can say what changed), in fingerprints.json beside it, read only when a key changed:
 * a no-op build of a thousand assets parses a quarter of a megabyte, not one and a half.
 * Paths are project-relative so the cache travels.
 */
export interface BuildState {
  version: 2;
  nodes: Record<string, { key: string }>;
  outputs: Record<string, { hash: string; size: number; mtimeMs: number }>;
}

/** fingerprints.json: each node's fingerprint, with the key it hashes to. */
interface FingerprintFile {
  version: 1;
  nodes: Record<string, { key: string; fingerprint: unknown }>;
}

interface Backing {
  /** state.json's path. */
  file: string;
  /** The text state.json was read from. */
  text?: string;
  /** fingerprints.json as read (on first use) and changed since. */
  fingerprints?: FingerprintFile['nodes'];
  fingerprintsChanged: boolean;
}

const backing = new WeakMap<BuildState, Backing>();

const FINGERPRINTS = 'fingerprints.json';
const fingerprintsFile = (stateFile: string) => path.join(path.dirname(stateFile), FINGERPRINTS);

function backingOf(state: BuildState, file?: string): Backing {
  let entry = backing.get(state);
  if (!entry) {
    entry = { file: file ?? '', fingerprintsChanged: false };
    backing.set(state, entry);
  }
  return entry;
}

export async function loadState(file: string): Promise<BuildState> {
  try {
    const text = await readFile(file, 'utf8');
    const data = JSON.parse(text) as BuildState | { version: 1; nodes: Record<string, { key: string; fingerprint: unknown }>; outputs: BuildState['outputs'] };
    if (data.version === 2) {
      backing.set(data, { file, text, fingerprintsChanged: false });
      return data;
    }
    if (data.version === 1) {
      // Written by an older gpt4k, fingerprints inline: split, and written back in two files.
      const state: BuildState = { version: 2, nodes: {}, outputs: data.outputs };
      const fingerprints: FingerprintFile['nodes'] = {};
      for (const [id, node] of Object.entries(data.nodes)) {
        state.nodes[id] = { key: node.key };
        fingerprints[id] = { key: node.key, fingerprint: node.fingerprint };
      }
      backing.set(state, { file, fingerprints, fingerprintsChanged: true });
      return state;
    }
  } catch {
    // first build, or an unreadable state file: plan treats every node as new
  }
  const state: BuildState = { version: 2, nodes: {}, outputs: {} };
  backing.set(state, { file, fingerprints: {}, fingerprintsChanged: false });
  return state;
}

/** fingerprints.json, read on first use (synchronously: it is asked for in the middle of a plan). */
function fingerprints(state: BuildState): FingerprintFile['nodes'] {
  const entry = backingOf(state);
  if (!entry.fingerprints) {
    entry.fingerprints = {};
    try {
      const data = JSON.parse(readFileSync(fingerprintsFile(entry.file), 'utf8')) as Partial<FingerprintFile>;
      if (data.version === 1 && data.nodes && typeof data.nodes === 'object') entry.fingerprints = data.nodes;
    } catch {
      // none yet: changes are explained as "not built before"
    }
  }
  return entry.fingerprints;
}

/**
 * The fingerprint the last build recorded for a node, when it is the one of the key in
 * state.json (a build killed between writing the two files cannot pair a key with another
 * key's fingerprint).
 */
export function fingerprintOf(state: BuildState, id: string): unknown {
  const key = state.nodes[id]?.key;
  if (key === undefined) return undefined;
  const entry = fingerprints(state)[id];
  return entry?.key === key ? entry.fingerprint : undefined;
}

/** Records a node's key and fingerprint for the next plan. */
export function recordNode(state: BuildState, id: string, key: string, fingerprint: unknown): void {
  state.nodes[id] = { key };
  fingerprints(state)[id] = { key, fingerprint };
  backingOf(state).fingerprintsChanged = true;
}

/**
 * Writes the state, unless `changed` is false and it is the state as read (a no-op build
 * changes nothing: it is not even serialized to compare). Fingerprints first: a kill between
 * the two writes leaves fingerprints of keys state.json does not have yet, which are ignored.
 */
export async function saveState(file: string, state: BuildState, changed = true): Promise<void> {
  const entry = backingOf(state, file);
  if (entry.fingerprintsChanged && entry.fingerprints) {
    // An entry at a time: 13 MB of text at 10,000 assets, never one string.
    await writeFileAtomic(fingerprintsFile(file), compactJsonChunks({ version: 1 } satisfies Omit<FingerprintFile, 'nodes'>, 'nodes', Object.entries(entry.fingerprints)));
    entry.fingerprintsChanged = false;
  }
  if (!changed && entry.text !== undefined) return;
  const text = JSON.stringify(state);
  if (entry.text === text) return;
  await writeFileAtomic(file, text);
  entry.text = text;
}
