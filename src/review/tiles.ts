import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Fit } from '../manifest/types.js';
import { gamutMask, overInkMask, softProof } from './soft-proof.js';

/**
 * What the review page zooms into: DeepZoom pyramids (sharp's `tile()`, PNG tiles so 100% shows
 * the proof's exact pixels) of the soft proof and of the source fitted to the same pixels, plus
 * full-size masks of over-ink and out-of-gamut areas. Made once per deliverable version, under
 * .gpt4k/review/<digest>/, and reused until the deliverable or its source changes.
 */

/** Bump when proofs are made differently, so old pyramids are remade. */
const RECIPE = 'proof-dz-png-256-v1';
export const TILE_SIZE = 256;

export interface ProofRequest {
  /** The deliverable, absolute. */
  deliverable: string;
  width: number;
  height: number;
  fit: Fit;
  /** The image the deliverable was rendered from (a generated candidate or a `source:` file). */
  source?: string;
  /** Total ink limit in %, for print files. */
  inkLimit?: number;
}

export interface ProofInfo {
  /** Folder name under the review cache. */
  id: string;
  width: number;
  height: number;
  /** The full-resolution level of the pyramids (DeepZoom: ceil(log2(max(width, height)))). */
  maxLevel: number;
  tileSize: number;
  /** The embedded profile's own description. */
  profile?: string;
  /** Whether the pyramid of the fitted source exists. */
  source: boolean;
  /** Pixels over the ink limit (print files), with the mask's file name. */
  ink?: { limit: number; pixels: number };
  /** Pixels that differ visibly from the source. */
  gamut?: { pixels: number };
}

async function fileVersion(file: string | undefined): Promise<[string, number, number] | null> {
  if (!file) return null;
  const info = await stat(file).catch(() => undefined);
  return info ? [file, info.size, info.mtimeMs] : null;
}

/** The proof of one deliverable: made now, or the one made earlier for the same files. */
export async function prepareProof(cacheDir: string, request: ProofRequest): Promise<ProofInfo> {
  const version = JSON.stringify([RECIPE, await fileVersion(request.deliverable), await fileVersion(request.source), request.inkLimit ?? null, request.fit]);
  const id = createHash('sha256').update(version).digest('hex').slice(0, 20);
  const dir = path.join(cacheDir, id);
  const done = await readFile(path.join(dir, 'info.json'), 'utf8').catch(() => undefined);
  if (done) return JSON.parse(done) as ProofInfo;

  // Built beside its final place and renamed in, so a half-made pyramid is never served.
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const info = await makeProof(tmp, id, request);
    await writeFile(path.join(tmp, 'info.json'), `${JSON.stringify(info)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return info;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

const pyramid = (rgb: Buffer, width: number, height: number, file: string) =>
  sharp(rgb, { raw: { width, height, channels: 3 }, limitInputPixels: false })
    .png({ compressionLevel: 6 })
    .tile({ size: TILE_SIZE, overlap: 0, layout: 'dz' })
    .toFile(file);

const maskPng = (rgba: Buffer, width: number, height: number, file: string) =>
  sharp(rgba, { raw: { width, height, channels: 4 }, limitInputPixels: false }).png({ palette: true, colours: 4 }).toFile(file);

async function makeProof(dir: string, id: string, request: ProofRequest): Promise<ProofInfo> {
  const proof = await softProof(request.deliverable);
  const { width, height } = proof;
  await pyramid(proof.rgb, width, height, path.join(dir, 'proof.dz'));
  const info: ProofInfo = {
    id,
    width,
    height,
    maxLevel: Math.ceil(Math.log2(Math.max(width, height, 1))),
    tileSize: TILE_SIZE,
    ...(proof.profile !== undefined ? { profile: proof.profile } : {}),
    source: false,
  };
  if (proof.cmyk && request.inkLimit !== undefined) {
    const ink = overInkMask(proof.cmyk, request.inkLimit);
    await maskPng(ink.mask, width, height, path.join(dir, 'ink.png'));
    info.ink = { limit: request.inkLimit, pixels: ink.count };
  }
  if (request.source) {
    const fitted = await sharp(request.source, { limitInputPixels: false })
      .resize(width, height, { fit: request.fit, background: '#ffffff', position: 'centre' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer();
    await pyramid(fitted, width, height, path.join(dir, 'source.dz'));
    info.source = true;
    if (proof.cmyk) {
      const gamut = gamutMask(proof.rgb, fitted);
      await maskPng(gamut.mask, width, height, path.join(dir, 'gamut.png'));
      info.gamut = { pixels: gamut.count };
    }
  }
  return info;
}
