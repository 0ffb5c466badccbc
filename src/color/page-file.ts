import { randomUUID } from 'node:crypto';
import { mkdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import type { InkCoverage } from './ink.js';
import { tiffFileInkCoverage } from './tiff-ink.js';

/** An encoded CMYK page and the ink of the samples it holds. */
export interface EncodedPage {
  data: Buffer;
  info: OutputInfo;
  /** Undefined only if the page file could not be read back (then the caller counts the file). */
  ink: InkCoverage | undefined;
}

/**
 * A CMYK page encoded by libvips, its ink counted on the uncompressed samples, in two passes
 * through a scratch file:
 *
 *   1. `page` (fit + conversion, the profile embedded) written as an uncompressed TIFF, a strip
 *      at a time: the full page is never in this process's memory;
 *   2. that file compressed by libvips (`encode` adds the format's options), while this thread
 *      counts the ink of its strips, read a strip at a time, on the core libvips leaves.
 *
 * The alternative, one pass straight to LZW and the ink read back from the compressed file,
 * spends ~0.5 s of CPU per A3 page decoding LZW in JavaScript (libtiff is no faster); this
 * costs a write and two reads of the 70 MB page through the page cache. Holding the page in
 * memory instead would add 70 MB beside the upscaled input (bench/analysis.md, issue 21). The
 * file lives in the build's scratch folder, removed here and, after a stop, with the folder.
 */
export async function encodeThroughPageFile(page: Sharp, encode: (file: Sharp) => Sharp, scratchDir: string): Promise<EncodedPage> {
  await mkdir(scratchDir, { recursive: true });
  const file = path.join(scratchDir, `page-${randomUUID()}.tif`);
  try {
    await page
      .tiff({ compression: 'none' })
      .toFile(file)
      .catch(async (err: unknown) => {
        throw diskFull(err, file) ?? (await diskFoundFull(err, file)) ?? err;
      });
    const encoding = encode(sharp(file, { ignoreIcc: true, limitInputPixels: false }).pipelineColourspace('cmyk').toColourspace('cmyk').keepIccProfile()).toBuffer({
      resolveWithObject: true,
    });
    // Counted while libvips compresses: a failed count must not leave the encode unhandled.
    encoding.catch(() => undefined);
    const ink = tiffFileInkCoverage(file);
    const { data, info } = await encoding;
    return { data, info, ink };
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * libvips says a full disk in its message only ("...: No space left on device"): given the
 * errno code Node would, it is reported as the user's disk to free (E_NO_SPACE), not a bug.
 */
export function diskFull(err: unknown, file: string): NodeJS.ErrnoException | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const code = /no space left on device/i.test(message) ? 'ENOSPC' : /disk quota exceeded/i.test(message) ? 'EDQUOT' : undefined;
  if (!code) return undefined;
  return Object.assign(new Error(message, { cause: err }), { code, path: file });
}

/** Less than this left on the scratch folder's filesystem after a failed write: it is full. */
const FULL_BELOW = 1024 * 1024;

/**
 * A failed write whose message does not say why, on a filesystem that is full: libvips keeps one
 * error buffer for every pipeline, so with others failing at the same moment its text may be
 * theirs or "Unknown error". The filesystem says it (asked before the partial file is removed).
 */
export async function diskFoundFull(err: unknown, file: string): Promise<NodeJS.ErrnoException | undefined> {
  const fs = await statfs(path.dirname(file)).catch(() => undefined);
  if (!fs) return undefined;
  const free = fs.bavail * fs.bsize;
  if (free >= FULL_BELOW) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  return Object.assign(new Error(`${message} (no space left on device: ${free} bytes free)`, { cause: err }), { code: 'ENOSPC', path: file });
}
