import { stat } from 'node:fs/promises';
import path from 'node:path';

export const DEFAULT_MANIFEST = 'assets.pipeline.yaml';

export type Discovery =
  | { found: true; file: string }
  /** `searched`: the folders looked in, nearest first; `stoppedAt` says why the walk ended there. */
  | { found: false; searched: string[]; stoppedAt: 'git root' | 'filesystem root' };

const isFile = (file: string) => stat(file).then((info) => info.isFile(), () => false);
const exists = (file: string) => stat(file).then(() => true, () => false);

/**
 * The nearest `assets.pipeline.yaml` at or above `startDir`, as git and npm find their roots:
 * the walk stops at the first folder holding `.git` (a repository's root: a manifest above it
 * belongs to another project) or at the filesystem root.
 */
export async function discoverManifest(startDir: string, name = DEFAULT_MANIFEST): Promise<Discovery> {
  const searched: string[] = [];
  let dir = path.resolve(startDir);
  for (;;) {
    searched.push(dir);
    const candidate = path.join(dir, name);
    if (await isFile(candidate)) return { found: true, file: candidate };
    if (await exists(path.join(dir, '.git'))) return { found: false, searched, stoppedAt: 'git root' };
    const parent = path.dirname(dir);
    if (parent === dir) return { found: false, searched, stoppedAt: 'filesystem root' };
    dir = parent;
  }
}
