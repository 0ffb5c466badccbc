import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, rename, rm, writeFile, constants } from 'node:fs/promises';
import path from 'node:path';

/** A temp name beside the destination, so the final rename never crosses a filesystem. */
function tempNameFor(dest: string): string {
  return path.join(path.dirname(dest), `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes a file so that readers see the old content or the new, never a torn one. */
export async function writeFileAtomic(dest: string, data: Uint8Array | string): Promise<void> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = tempNameFor(dest);
  try {
    await writeFile(tmp, data);
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
