import sharp from 'sharp';
import { convertPixels } from '../color/lcms.js';
import { describeIcc } from '../color/profiles.js';
import type { RenderingIntent } from '../manifest/types.js';
import { GptError } from '../util/errors.js';

/**
 * Soft proofs: a deliverable as the press (or the screen) will show it, in sRGB for a browser.
 * A CMYK print file goes back to sRGB through the profile embedded in it, with the absolute
 * colorimetric intent, so the paper's white and the press's gamut are part of the picture
 * (what Photoshop calls "simulate paper color"). The conversion is LittleCMS's
 * (src/color/lcms.ts), the same engine as Debian's `tificc`.
 */

/** The intent a proof is made with: paper white included. */
export const PROOF_INTENT: RenderingIntent = 'absolute';

export interface SoftProof {
  width: number;
  height: number;
  /** Interleaved 8-bit sRGB. */
  rgb: Buffer;
  /** Interleaved 8-bit CMYK as the file holds it (print files only). */
  cmyk?: Buffer;
  /** The embedded profile's description ("FOGRA39L Coated"). */
  profile?: string;
}

/** Decodes a TIFF/PNG/JPEG deliverable and proofs it; PDFs are not proofed here. */
export async function softProof(file: string): Promise<SoftProof> {
  const meta = await sharp(file, { limitInputPixels: false }).metadata();
  if (meta.space === 'cmyk') {
    if (!meta.icc) {
      throw new GptError('E_NO_PROFILE', `${file} is CMYK with no embedded ICC profile, so there is nothing to proof it against`, {
        hint: 'render it again with gpt4k (print targets always embed their profile)',
      });
    }
    const { data, info } = await sharp(file, { ignoreIcc: true, limitInputPixels: false })
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new GptError('E_INTERNAL', `a CMYK file decoded to ${info.channels} channels`);
    const rgb = await convertPixels(data, { from: meta.icc, fromSpace: 'CMYK', to: 'srgb', toSpace: 'RGB', intent: PROOF_INTENT, bpc: false });
    return { width: info.width, height: info.height, rgb, cmyk: data, profile: describeIcc(meta.icc).description };
  }
  // Screen files: libvips converts a tagged file from its profile to sRGB; no paper to simulate.
  const { data, info } = await sharp(file, { limitInputPixels: false })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const profile = meta.icc ? describeIcc(meta.icc).description : undefined;
  return { width: info.width, height: info.height, rgb: data, ...(profile !== undefined ? { profile } : {}) };
}

/** RGBA: opaque magenta where total ink (C+M+Y+K, in %) is over `limitPercent`, clear elsewhere. */
export function overInkMask(cmyk: Buffer, limitPercent: number): { mask: Buffer; count: number } {
  const pixels = cmyk.length / 4;
  const mask = Buffer.alloc(pixels * 4);
  // Sum of 0-255 samples over the limit: compare in sample units to stay in integers.
  const limit = (limitPercent / 100) * 255;
  let count = 0;
  for (let p = 0; p < pixels; p++) {
    const i = p * 4;
    const total = (cmyk[i] as number) + (cmyk[i + 1] as number) + (cmyk[i + 2] as number) + (cmyk[i + 3] as number);
    if (total > limit + 0.5) {
      mask[i] = 255;
      mask[i + 2] = 255;
      mask[i + 3] = 255;
      count++;
    }
  }
  return { mask, count };
}

/**
 * RGBA: opaque green where the proof differs from the source (fitted to the same pixels) by
 * more than `threshold` in the largest channel: colors the press cannot print as they are.
 */
export function gamutMask(proof: Buffer, source: Buffer, threshold = 40): { mask: Buffer; count: number } {
  const pixels = proof.length / 3;
  const mask = Buffer.alloc(pixels * 4);
  let count = 0;
  for (let p = 0; p < pixels; p++) {
    const i = p * 3;
    const d = Math.max(
      Math.abs((proof[i] as number) - (source[i] as number)),
      Math.abs((proof[i + 1] as number) - (source[i + 1] as number)),
      Math.abs((proof[i + 2] as number) - (source[i + 2] as number)),
    );
    if (d > threshold) {
      mask[p * 4 + 1] = 200;
      mask[p * 4 + 3] = 255;
      count++;
    }
  }
  return { mask, count };
}
