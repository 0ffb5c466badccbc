import type { StoreFactory } from '../project-cache.js';
import { LocalStore } from '../store.js';
import { resolveRemoteCache, type RawRemoteCache, type RemoteCacheConfig } from './config.js';
import { remoteBackendOf } from './http-remote.js';
import { LayeredStore } from './layered-store.js';

/**
 * The store factory for a build with a shared remote cache (manifest `cache.remote`,
 * `--remote-cache URL` or GPT4K_REMOTE_CACHE): the local store with the remote under it.
 * Undefined when no remote is configured (or it may neither be read nor written), and the
 * build keeps its plain local store. `probeOnly`: for a plan (see LayeredStoreOptions).
 */
export function layeredStoreFactory(
  raw: RawRemoteCache | undefined,
  options: { url?: string | undefined; env?: NodeJS.ProcessEnv; probeOnly?: boolean; warn: (message: string) => void },
): StoreFactory | undefined {
  const config = resolveRemoteCache(raw, options.url, options.env ?? process.env);
  if (!config || (!config.read && !config.write) || (options.probeOnly && !config.read)) return undefined;
  return (cacheDir) => layeredStoreOf(cacheDir, config, options);
}

/** The local store of `cacheDir` with the remote `config` names under it. */
export function layeredStoreOf(cacheDir: string, config: RemoteCacheConfig, options: { probeOnly?: boolean; warn: (message: string) => void }): LayeredStore {
  return new LayeredStore(new LocalStore(cacheDir), remoteBackendOf(config), {
    read: config.read,
    // A plan writes nothing anywhere.
    write: config.write && !options.probeOnly,
    uploads: config.uploads,
    probeOnly: !!options.probeOnly,
    warn: options.warn,
  });
}
