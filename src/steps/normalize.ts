import { whiteBalance } from '../color/white-balance.js';
import type { RawImage } from '../util/image.js';

/**
 * Normalize: with a style's `whiteBalance:` reference, move the asset's color balance to the
 * reference's (src/color/white-balance.ts; the method is in docs/color.md). The result is
 * 16-bit. Without a reference the image passes through untouched.
 */
export async function runNormalize(input: RawImage, whiteBalanceReference: RawImage | undefined): Promise<RawImage> {
  if (!whiteBalanceReference) return input;
  return whiteBalance(input, whiteBalanceReference);
}

