import path from 'node:path';
import { pendingBatchKeys } from './batch-state.js';
import { FileHashes } from './file-hashes.js';
import { readLockFile, type LockFile } from './lockfile.js';
import { loadState, type BuildState } from './state.js';
import { LocalStore, type Store } from './store.js';

/** What a build, a plan or gc reads and writes under the project's .gpt4k/. */
export interface ProjectCache {
  cacheDir: string;
  /** The content-addressed store: the engine uses only the Store interface. */
  store: Store;
  files: FileHashes;
  state: BuildState;
  stateFile: string;
  /** assets.lock.json, when the project has one. */
  lock: LockFile | undefined;
  /** Generate keys an open provider batch will deliver -> its batch id (.gpt4k/batches.json). */
  pendingBatches: Map<string, string>;
}

/** Makes the store of a project's cache folder: LocalStore unless told otherwise (a remote or layered store). */
export type StoreFactory = (cacheDir: string) => Store;

export const localStore: StoreFactory = (cacheDir) => new LocalStore(cacheDir);

/** Opens the cache of the project at `root` (the manifest's folder). */
export async function openProjectCache(root: string, openStore: StoreFactory = localStore): Promise<ProjectCache> {
  const cacheDir = path.join(root, '.gpt4k');
  const stateFile = path.join(cacheDir, 'state.json');
  const [files, state, lock, pendingBatches] = await Promise.all([
    FileHashes.load(path.join(cacheDir, 'files.json'), root),
    loadState(stateFile),
    readLockFile(root),
    pendingBatchKeys(cacheDir),
  ]);
  return { cacheDir, store: openStore(cacheDir), files, state, stateFile, lock, pendingBatches };
}
