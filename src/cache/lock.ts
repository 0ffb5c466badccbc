import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { GptError, ExitCode } from '../util/errors.js';

export interface BuildLock {
  release(): Promise<void>;
  /** The holder before us, when it died without releasing (killed, crashed): its temp files may remain. */
  abandoned?: LockHolder;
}

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

/** The lock is a folder (created atomically by mkdir, as proper-lockfile does); its holder is named beside it. */
const LOCK_DIR = 'build.lock';
const HOLDER_FILE = 'build.lock.holder.json';
/**
 * A holder refreshes the lock's mtime every UPDATE_MS; one not refreshed for STALE_MS is
 * abandoned (its host died or lost the shared volume, or a CI cache was restored with it):
 * proper-lockfile then takes it over, whichever host it came from.
 */
const STALE_MS = 30_000;
const UPDATE_MS = 5_000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const holder = JSON.parse(await readFile(file, 'utf8')) as Partial<LockHolder>;
    return typeof holder.pid === 'number' && typeof holder.host === 'string' ? { pid: holder.pid, host: holder.host, startedAt: String(holder.startedAt ?? '?') } : undefined;
  } catch {
    return undefined; // not written yet, or the holder is gone
  }
}

export const describeHolder = (h: LockHolder | undefined): string => (h ? `pid ${h.pid} on ${h.host === hostname() ? 'this host' : `host ${h.host}`}, started ${h.startedAt}` : 'a process that has not said who it is');

/**
 * One build per project at a time. The second build waits for the first (saying so once);
 * takes over a lock whose holder is a dead process on this host at once, and one from another
 * host once its heartbeat (the lock's mtime) is STALE_MS old; and gives up after `timeoutMs`
 * with an error that names the holder.
 */
export async function acquireBuildLock(
  cacheDir: string,
  options: { timeoutMs?: number; onWait?: (holder: LockHolder) => void; signal?: AbortSignal; staleMs?: number } = {},
): Promise<BuildLock> {
  await mkdir(cacheDir, { recursive: true });
  const lockDir = path.join(cacheDir, LOCK_DIR);
  const holderFile = path.join(cacheDir, HOLDER_FILE);
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const stale = Math.max(2_000, options.staleMs ?? STALE_MS);
  let told = false;
  let abandoned: LockHolder | undefined;
  for (;;) {
    try {
      const release = await lockfile.lock(cacheDir, {
        lockfilePath: lockDir,
        realpath: false,
        stale,
        update: Math.min(UPDATE_MS, stale / 2),
        retries: 0,
        // Lost to a taker (our heartbeat stalled past `stale`): the build goes on; its writes are atomic.
        onCompromised: () => undefined,
      });
      const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
      // A holder still named here never released: taken over as stale, after a crash.
      abandoned ??= await readHolder(holderFile);
      await writeFile(holderFile, JSON.stringify(me));
      return {
        ...(abandoned ? { abandoned } : {}),
        release: async () => {
          const holder = await readHolder(holderFile);
          if (holder?.pid === me.pid && holder.host === me.host) await rm(holderFile, { force: true });
          await release().catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    }
    const holder = await readHolder(holderFile);
    if (holder && holder.host === hostname() && !isAlive(holder.pid)) {
      // Its process is gone (killed, crashed): no need to wait for the heartbeat to go stale.
      await rm(lockDir, { recursive: true, force: true });
      await rm(holderFile, { force: true });
      abandoned = holder;
      continue;
    }
    if (holder && !told) {
      options.onWait?.(holder);
      told = true;
    }
    if (Date.now() > deadline) {
      throw new GptError('E_LOCKED', `another gpt4k build (${describeHolder(holder)}) holds ${lockDir}`, {
        hint: `wait for it to finish; a lock whose holder stopped updating it is taken over after ${Math.round(stale / 1000)} s, and one whose process died on this host at once`,
        exitCode: ExitCode.usage,
      });
    }
    if (options.signal?.aborted) throw new GptError('E_CANCELLED', 'cancelled while waiting for the build lock', { exitCode: ExitCode.interrupted });
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
