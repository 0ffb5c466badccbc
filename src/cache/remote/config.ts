/**
 * Where the shared remote cache is and what a build may do with it: the manifest's
 * `cache.remote`, overridden by `--remote-cache URL` or GPT4K_REMOTE_CACHE. The token only ever
 * comes from the environment (GPT4K_REMOTE_CACHE_TOKEN): a manifest is committed, a token is not.
 */

/** The manifest's `cache.remote`, as the schema checked it (manifest/raw.ts has the same shape). */
export interface RawRemoteCache {
  url?: string;
  backend?: 'http' | 'turborepo';
  read?: boolean;
  write?: boolean;
  timeoutMs?: number;
  uploads?: number;
  team?: string;
}

export interface RemoteCacheConfig {
  /** The base URL, without credentials or a trailing slash. */
  url: string;
  /** http: the Bazel HTTP cache layout (/ac/<key>, /cas/<hash>); turborepo: /v8/artifacts/<id>. */
  backend: 'http' | 'turborepo';
  read: boolean;
  write: boolean;
  /** Longest wait for an answer, or between two chunks of a body. */
  timeoutMs: number;
  /** Uploads in flight at once. */
  uploads: number;
  /** The Turborepo team (teamId query parameter). */
  team: string;
  token?: string;
}

export const TOKEN_ENV = 'GPT4K_REMOTE_CACHE_TOKEN';
export const URL_ENV = 'GPT4K_REMOTE_CACHE';
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_UPLOADS = 4;

/**
 * The remote cache a build uses, or undefined for none. `flagUrl` is --remote-cache (an empty
 * string or "off" turns a configured remote off for one run). A URL may say its backend with a
 * `turbo+` prefix (turbo+https://cache.example.com), so a flag or variable alone can pick it.
 */
export function resolveRemoteCache(
  raw: RawRemoteCache | undefined,
  flagUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): RemoteCacheConfig | undefined {
  // An empty variable is unset (a CI variable that was not defined): the manifest's URL holds.
  const given = flagUrl ?? (env[URL_ENV]?.trim() || undefined) ?? raw?.url;
  if (given === undefined || given.trim() === '' || given === 'off') return undefined;
  let url = given.trim();
  let backend = raw?.backend ?? 'http';
  if (url.startsWith('turbo+')) {
    backend = 'turborepo';
    url = url.slice('turbo+'.length);
  }
  const token = env[TOKEN_ENV]?.trim();
  return {
    url: url.replace(/\/+$/, ''),
    backend,
    read: raw?.read ?? true,
    write: envFlag(env.GPT4K_REMOTE_CACHE_WRITE) ?? raw?.write ?? true,
    timeoutMs: raw?.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    uploads: raw?.uploads ?? DEFAULT_UPLOADS,
    team: raw?.team ?? 'gpt4k',
    ...(token ? { token } : {}),
  };
}

/** GPT4K_REMOTE_CACHE_WRITE=0 makes any run read-only (a pull request from a fork, say). */
function envFlag(value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  return !/^(0|false|no|off)$/i.test(value);
}

/** Whether `url` parses as http(s): a bad --remote-cache is a usage error, said before building. */
export function remoteUrlProblem(url: string): string | undefined {
  const bare = url.startsWith('turbo+') ? url.slice('turbo+'.length) : url;
  try {
    const parsed = new URL(bare);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `expected an http:// or https:// URL, got "${url}"`;
    if (parsed.username || parsed.password) return `put the credentials in ${TOKEN_ENV}, not in the URL`;
    return undefined;
  } catch {
    return `expected a URL such as https://cache.example.com/gpt4k, got "${url}"`;
  }
}
