import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm, writeFile, constants } from 'node:fs/promises';
import path from 'node:path';
import { batched } from './json-chunks.js';

/** A temp name beside the destination, so the final rename never crosses a filesystem. */
function tempNameFor(dest: string): string {
  return path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Writes a file so that readers see the old content or the new, never a torn one. `data` may be
 * given in parts (an iterable of strings), written as they come: a large text is never whole.
 */
export async function writeFileAtomic(dest: string, data: Uint8Array | string | Iterable<string> | AsyncIterable<string>): Promise<void> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = tempNameFor(dest);
  try {
    await writeFile(tmp, typeof data === 'string' || data instanceof Uint8Array ? data : batched(data));
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Copies (reflinks where the filesystem can) through a temp file and a rename. */
export async function copyFileAtomic(src: string, dest: string): Promise<void> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = tempNameFor(dest);
  try {
    await copyFile(src, tmp, constants.COPYFILE_FICLONE);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
