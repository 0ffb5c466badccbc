/** Uncompressed pixels as they move between steps inside one build (sharp's raw layout). */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  /** 8-bit or 16-bit samples (16-bit is used by white balance). */
  depth: 'uchar' | 'ushort';
  /** Pixels are sRGB unless this names the ICC profile bytes they are in. */
  icc?: Buffer;
}

/**
 * The most pixels one image in a build may have: sharp's own input limit (16383 x 16383), applied
 * to sources and to what an upscale would make, so a small file that inflates to gigapixels (a
 * decompression bomb, or an upscale of a huge photo) fails on its own before any pixel is decoded.
 */
export const MAX_IMAGE_PIXELS = 0x3fff * 0x3fff;

/** "20000x20000 (400 MP)". */
export function describePixels(width: number, height: number): string {
  return `${width}x${height} (${Math.round((width * height) / 1_000_000)} MP)`;
}
