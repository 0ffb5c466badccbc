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

/** The container formats gpt4k takes from a provider, told by their first bytes. */
export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** An image's format by its signature; undefined for anything else (TIFF, HTML, nothing). */
export function sniffFormat(data: Uint8Array): ImageFormat | undefined {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return undefined;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
