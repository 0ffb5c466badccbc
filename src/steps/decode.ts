import sharp from 'sharp';
import type { RawImage } from '../util/image.js';
import { GptError } from '../util/errors.js';

// Every image in a build is new to libvips: its operation cache only holds memory.
sharp.cache(false);

/**
 * Decodes an image file or buffer to sRGB pixels. Embedded profiles are honoured (the
 * conversion to sRGB goes through them); untagged input is taken as sRGB. EXIF orientation
 * is applied so portrait photos stay portrait.
 */
export async function decodeImage(input: string | Buffer, label: string): Promise<RawImage> {
  try {
    const { data, info } = await sharp(input, { failOn: 'error' })
      .autoOrient()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      data,
      width: info.width,
      height: info.height,
      channels: info.channels as RawImage['channels'],
      depth: 'uchar',
    };
  } catch (err) {
    throw new GptError('E_BAD_IMAGE', `${label} is not a readable image: ${(err as Error).message}`, {
      hint: 'replace the file with a PNG, JPEG, TIFF or WebP image',
      cause: err,
    });
  }
}

/** A PNG of the pixels, for the store (fast compression: these are intermediates). */
export async function encodePng(image: RawImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels, ...(image.depth === 'ushort' ? { depth: 'ushort' as const } : {}) } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/** The file extension of encoded image bytes, from their signature. */
export function imageExtension(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpg';
  if (bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[8] === 0x57) return 'webp';
  return 'bin';
}
