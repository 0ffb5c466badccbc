import os from 'node:os';
import sharp from 'sharp';
import type { RawImage } from '../util/image.js';

/**
 * Pixel plumbing around the binary, which reads and writes 8-bit PNG and mangles alpha (its
 * model runs over the alpha band too and overshoots at edges: a transparent area next to an
 * opaque one gets opaque stripes). So the colour bands go through the model, alpha goes
 * through Lanczos, and the two are joined again here.
 */

/** 16-bit samples rounded to 8 bits: the ncnn binary only reads 8-bit images. */
export function to8Bit(image: RawImage): RawImage {
  if (image.depth === 'uchar') return image;
  const samples = image.data.length / 2;
  const out = Buffer.allocUnsafe(samples);
  const little = os.endianness() === 'LE';
  for (let i = 0; i < samples; i++) {
    const v = little ? image.data.readUInt16LE(i * 2) : image.data.readUInt16BE(i * 2);
    out[i] = Math.round(v / 257);
  }
  return { ...image, data: out, depth: 'uchar' };
}

export interface SplitImage {
  /** Grey (1) or RGB (3) bands. */
  color: RawImage;
  /** The alpha band, one byte per pixel; null when the input is opaque by layout. */
  alpha: Buffer | null;
}

/** Separates an 8-bit image's alpha band from its colour bands. */
export function splitAlpha(image: RawImage): SplitImage {
  if (image.channels === 1 || image.channels === 3) return { color: image, alpha: null };
  const colorChannels = image.channels === 2 ? 1 : 3;
  const pixels = image.width * image.height;
  const color = Buffer.allocUnsafe(pixels * colorChannels);
  const alpha = Buffer.allocUnsafe(pixels);
  for (let p = 0; p < pixels; p++) {
    const s = p * image.channels;
    for (let c = 0; c < colorChannels; c++) color[p * colorChannels + c] = image.data[s + c] ?? 0;
    alpha[p] = image.data[s + colorChannels] ?? 255;
  }
  return { color: { ...image, data: color, channels: colorChannels }, alpha };
}

/** Interleaves colour bands (1 or 3) and an alpha band of the same size. */
export function joinAlpha(color: RawImage, alpha: Buffer): RawImage {
  const pixels = color.width * color.height;
  const cc = color.channels;
  const out = Buffer.allocUnsafe(pixels * (cc + 1));
  for (let p = 0; p < pixels; p++) {
    const d = p * (cc + 1);
    for (let c = 0; c < cc; c++) out[d + c] = color.data[p * cc + c] ?? 0;
    out[d + cc] = alpha[p] ?? 255;
  }
  return { ...color, data: out, channels: (cc + 1) as 2 | 4 };
}

/** Lanczos-3 resize of 8-bit grey (1 band, e.g. alpha) or RGB (3 bands) pixels to an exact size. */
export async function lanczos8(data: Buffer, width: number, height: number, channels: 1 | 3, toWidth: number, toHeight: number): Promise<Buffer> {
  if (width === toWidth && height === toHeight) return data;
  return sharp(data, { raw: { width, height, channels } })
    .resize(toWidth, toHeight, { kernel: 'lanczos3', fit: 'fill' })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer();
}

/** Writes 8-bit grey or RGB pixels as the RGB PNG the binary reads. */
export async function writeInputPng(color: RawImage, file: string): Promise<void> {
  await sharp(color.data, { raw: { width: color.width, height: color.height, channels: color.channels } })
    .toColourspace('srgb')
    .png({ compressionLevel: 1 })
    .toFile(file);
}

/** Reads the binary's PNG back as 8-bit grey (1 band) or RGB (3 bands). */
export async function readOutputPng(file: string, channels: 1 | 3): Promise<RawImage> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) {
    throw new Error(`realesrgan output has ${info.channels} channels, expected ${channels}`);
  }
  return { data, width: info.width, height: info.height, channels, depth: 'uchar' };
}
