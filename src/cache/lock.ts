import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { GptError, ExitCode } from '../util/errors.js';

export interface BuildLock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One build per project at a time. The second build waits for the first (saying so once),
 * takes over a lock left by a dead process, and gives up clearly after `timeoutMs`.
 */
export async function acquireBuildLock(
  cacheDir: string,
  options: { timeoutMs?: number; onWait?: (holder: { pid: number; startedAt: string }) => void; signal?: AbortSignal } = {},
): Promise<BuildLock> {
  await mkdir(cacheDir, { recursive: true });
  const lockFile = path.join(cacheDir, 'lock');
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  let told = false;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }));
      await handle.close();
      return { release: () => rm(lockFile, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: { pid: number; host: string; startedAt: string } | undefined;
    try {
      holder = JSON.parse(await readFile(lockFile, 'utf8')) as typeof holder;
    } catch {
      holder = undefined; // being written right now, or torn by a kill: look again shortly
      // Empty or unreadable for more than a few seconds: its writer died between create and write.
      const age = await stat(lockFile).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > 5_000) {
        await rm(lockFile, { force: true });
        continue;
      }
    }
    if (holder && holder.host === hostname() && !isAlive(holder.pid)) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (holder && !told) {
      options.onWait?.(holder);
      told = true;
    }
    if (Date.now() > deadline) {
      throw new GptError('E_LOCKED', `another gpt4k build (pid ${holder?.pid ?? '?'}) holds ${lockFile}`, {
        hint: 'wait for it to finish, or delete the lock file if that process is gone',
        exitCode: ExitCode.usage,
      });
    }
    if (options.signal?.aborted) throw new GptError('E_CANCELLED', 'cancelled while waiting for the build lock', { exitCode: ExitCode.interrupted });
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
