import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { describePixels, MAX_IMAGE_PIXELS, sniffFormat, type RawImage } from '../util/image.js';
import { GptError } from '../util/errors.js';

// Every image in a build is new to libvips: its operation cache only holds memory.
sharp.cache(false);

/**
 * Decodes an image file or buffer to sRGB pixels. Embedded profiles are honoured (the
 * conversion to sRGB goes through them); untagged input is taken as sRGB. EXIF orientation
 * is applied so portrait photos stay portrait.
 */
export async function decodeImage(input: string | Buffer, label: string): Promise<RawImage> {
  await refuseHostile(input, label);
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
    // Its header read (refuseHostile): the pixel data is cut short or damaged. The verdict comes
    // from the file, not libvips' message: libvips keeps one error buffer for every pipeline, so
    // with other images decoding at the same moment the text may be another image's ("VipsJpeg:
    // premature end" for a PNG) or "Unknown error". It stays in `cause`.
    const bytes = typeof input === 'string' ? await readFile(input).catch(() => Buffer.alloc(0)) : input;
    throw new GptError('E_BAD_IMAGE', `${label} is truncated or damaged: ${endMissing(bytes) ?? 'its pixels do not decode'}`, {
      hint: 'copy or export the file again (an interrupted copy or download leaves it cut short), or replace it with a PNG, JPEG, TIFF or WebP image',
      cause: err,
    });
  }
}

/** How a PNG, JPEG or WebP file shows that it was cut short, if it does: its end is missing. */
export function endMissing(bytes: Buffer): string | undefined {
  const tail = bytes.subarray(Math.max(0, bytes.length - 64));
  switch (sniffFormat(bytes)) {
    case 'png':
      return tail.includes('IEND', 0, 'latin1') ? undefined : `the PNG data stops before its end (no IEND chunk in ${bytes.length} bytes)`;
    case 'jpeg':
      return tail.includes(JPEG_END) ? undefined : `the JPEG data stops before its end marker (${bytes.length} bytes)`;
    case 'webp': {
      const declared = bytes.readUInt32LE(4) + 8;
      return declared > bytes.length ? `the WebP file is ${bytes.length} bytes of the ${declared} its header declares` : undefined;
    }
    default:
      return undefined;
  }
}

const JPEG_END = Buffer.from([0xff, 0xd9]);

/**
 * What the header alone shows to be unusable, before any pixel is decoded: an empty file, an
 * image over MAX_IMAGE_PIXELS (a decompression bomb, or a header that lies), an animation.
 */
async function refuseHostile(input: string | Buffer, label: string): Promise<void> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    const empty = typeof input === 'string' ? (await stat(input).catch(() => undefined))?.size === 0 : input.length === 0;
    if (empty) throw new GptError('E_BAD_IMAGE', `${label} is an empty file (0 bytes)`, { hint: 'replace it with a PNG, JPEG, TIFF or WebP image (an interrupted copy or download leaves empty files)' });
    throw new GptError('E_BAD_IMAGE', `${label} is not a readable image: ${(err as Error).message}`, { hint: 'replace the file with a PNG, JPEG, TIFF or WebP image', cause: err });
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new GptError('E_IMAGE_TOO_LARGE', `${label} is ${describePixels(width, height)}, over the limit of ${describePixels(0x3fff, 0x3fff)}`, {
      hint: 'scale it down first (an A0 print at 300 dpi needs about 140 MP); a small file this large is a decompression bomb',
    });
  }
  if ((meta.pages ?? 1) > 1 && (meta.format === 'gif' || meta.format === 'webp' || meta.format === 'png')) {
    throw new GptError('E_ANIMATED_IMAGE', `${label} is an animation (${meta.pages} frames), not a still image`, {
      hint: 'export the frame you want as a PNG or JPEG and name that file',
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
  const format = sniffFormat(bytes);
  return format === 'jpeg' ? 'jpg' : (format ?? 'bin');
}
