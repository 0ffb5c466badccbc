import { balanceStatistics, whiteBalanceTo, type BalanceStatistics } from '../color/white-balance.js';
import type { RawImage } from '../util/image.js';

export type { BalanceStatistics } from '../color/white-balance.js';

/**
 * Normalize: with a style's `whiteBalance:` reference, move the asset's color balance to the
 * reference's (src/color/white-balance.ts; the method is in docs/color.md). The reference is
 * its image or its statistics (the balance step's stored output). The result is 16-bit.
 * Without a reference the image passes through untouched.
 */
export async function runNormalize(input: RawImage, whiteBalanceReference: RawImage | BalanceStatistics | undefined): Promise<RawImage> {
  if (!whiteBalanceReference) return input;
  const statistics = 'data' in whiteBalanceReference ? balanceStatistics(whiteBalanceReference) : whiteBalanceReference;
  return whiteBalanceTo(input, statistics);
}

/** Balance: the white-balance statistics of a reference's image, as stored bytes (JSON). */
export function runBalance(reference: RawImage): Buffer {
  return Buffer.from(JSON.stringify(balanceStatistics(reference)));
}
