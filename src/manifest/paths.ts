import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/** True when `target` is `root` or below it (lexically; both absolute). */
export function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

/**
 * Whether writing to `target` stays inside `root` once symlinks are followed: the nearest
 * existing ancestor is resolved, since the target itself may not exist yet.
 */
export function staysInsideOnDisk(root: string, target: string): boolean {
  let existing = target;
  while (!existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) return true;
    existing = parent;
  }
  const realRoot = realpathSync(root);
  const realExisting = realpathSync(existing);
  return isInside(realRoot, path.join(realExisting, path.relative(existing, target)));
}

export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
