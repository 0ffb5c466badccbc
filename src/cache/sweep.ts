import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Removes what a killed build left behind: the temp files of atomic writes
 * (`.<name>.<pid>.<hex>.tmp`, util/atomic.ts) anywhere under the given folders, and the scratch
 * entries of .gpt4k/tmp (`build-<pid>`, `<pid>-<name>`), of processes that are no longer
 * running. Called by a build that took the lock over from a holder that died, so no other build
 * is writing; a live pid (this one, or one reused since) is left alone. Returns what it removed.
 */
export async function sweepAbandonedTemp(cacheDir: string, folders: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  const sweep = async (file: string) => {
    await rm(file, { recursive: true, force: true });
    removed.push(file);
  };
  for (const entry of await entriesOf(path.join(cacheDir, 'tmp'), false)) {
    const pid = /^(?:build-)?(\d+)(?:-|$)/.exec(entry.name)?.[1];
    if (pid !== undefined && isGone(Number(pid))) await sweep(path.join(entry.parentPath, entry.name));
  }
  for (const folder of [cacheDir, ...folders]) {
    for (const entry of await entriesOf(folder, true)) {
      const pid = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(entry.name)?.[1];
      if (entry.isFile() && pid !== undefined && isGone(Number(pid))) await sweep(path.join(entry.parentPath, entry.name));
    }
  }
  return removed;
}

async function entriesOf(folder: string, recursive: boolean) {
  return readdir(folder, { withFileTypes: true, recursive }).catch(() => []);
}

function isGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
