import type { RawRemoteCache } from './config.js';
import { resolveRemoteCache } from './config.js';
import { remoteBackendOf } from './http-remote.js';
import { LayeredStore } from './layered-store.js';

/**
 * The layered store for a build, when a remote cache is configured (manifest `cache.remote`,
 * `--remote-cache URL` or GPT4K_REMOTE_CACHE); undefined when none is, and the build keeps
 * its plain local store.
 */
export function openLayeredStore(
  cacheDir: string,
  raw: RawRemoteCache | undefined,
  options: { url?: string; env?: NodeJS.ProcessEnv; warn: (message: string) => void },
): LayeredStore | undefined {
  const config = resolveRemoteCache(raw, options.url, options.env ?? process.env);
  if (!config || (!config.read && !config.write)) return undefined;
  return new LayeredStore(cacheDir, remoteBackendOf(config), { read: config.read, write: config.write, uploads: config.uploads, warn: options.warn });
}
