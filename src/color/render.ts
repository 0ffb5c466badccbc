import sharp, { type Sharp } from 'sharp';
import type { Fit, ResolvedTarget } from '../manifest/types.js';
import { MM_PER_INCH } from '../manifest/paper.js';
import type { PreflightResult } from '../report/types.js';
import { GptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import { channelsOf, convertPixels, type ProfileBytes } from './lcms.js';
import { writeImagePdf } from './pdf.js';
import { describeIcc, type IccColorSpace, type LoadedProfile } from './profiles.js';
import { taggedTiff } from './tagged.js';

/**
 * Rendering one deliverable, in three passes over the pixels:
 *
 *   fit      sharp resizes (lanczos3) to the target's exact pixel size, in the image's own
 *            color space, and flattens onto paper white for formats without alpha;
 *   convert  LittleCMS converts to the target's profile with its rendering intent and black
 *            point compensation (src/color/lcms.ts), exactly as `tificc` would;
 *   encode   sharp writes TIFF/PNG/JPEG with the profile embedded and no further conversion;
 *            PDF is written by src/color/pdf.ts.
 *
 * The converted pixels are handed back with the file, so preflight reads the very numbers
 * that were encoded (ink coverage) without decoding the file again.
 */

export interface RenderInfo {
  width: number;
  height: number;
  format: string;
  space: 'cmyk' | 'srgb';
  dpi?: number;
  /** Description of the embedded ICC profile. */
  icc?: string;
  /** Filled in by the render step (src/steps/render.ts) for print deliverables. */
  preflight?: PreflightResult;
}

/** Interleaved 8-bit pixels in a profile's color space, as they were encoded. */
export interface DevicePixels {
  data: Buffer;
  width: number;
  height: number;
  space: IccColorSpace;
  /** 1 when an alpha channel was encoded too (PNG only; not included in `data`). */
  alpha: boolean;
}

export interface RenderedTarget {
  data: Buffer;
  info: RenderInfo;
  pixels: DevicePixels;
}

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

const FIT: Record<Fit, 'cover' | 'contain' | 'fill'> = { cover: 'cover', contain: 'contain', fill: 'fill' };

/** The target's pixels in the source's color space, before conversion. */
interface Fitted {
  data: Buffer;
  width: number;
  height: number;
  space: IccColorSpace;
  profile: ProfileBytes;
  /** The alpha channel, one byte per pixel, when the format keeps it. */
  alpha?: Buffer;
}

function resize(pipeline: Sharp, width: number, height: number, fit: Fit): Sharp {
  return pipeline.resize(width, height, {
    fit: FIT[fit],
    // Centre, not sharp's "attention": the crop must not depend on the picture's content.
    position: 'centre',
    background: WHITE,
    kernel: 'lanczos3',
  });
}

/**
 * Resizes without any color management: sharp sees sRGB-like numbers and leaves them so.
 * 16-bit samples are resized at 16 bits and only then reduced to 8 (sharp would otherwise treat
 * 16-bit RGB as Display P3 on the way through).
 */
async function fitImage(image: RawImage, target: ResolvedTarget, keepAlpha: boolean): Promise<Fitted> {
  const space: IccColorSpace = image.icc ? describeIcc(image.icc).colorSpace : image.channels <= 2 ? 'GRAY' : 'RGB';
  const profile: ProfileBytes = image.icc ?? 'srgb';
  const colorBands = channelsOf(space);
  if (space === 'GRAY' && !image.icc) {
    throw new GptError('E_UNSUPPORTED', 'untagged grayscale pixels cannot be rendered yet; decode them to sRGB first');
  }
  if (image.channels < colorBands || image.channels > colorBands + 1) {
    throw new GptError('E_BAD_IMAGE', `${image.channels}-channel pixels cannot be in a ${space} profile`);
  }
  let pipeline: Sharp;
  if (space === 'CMYK') {
    // A 4-band raw image would be taken for RGBA: go through a CMYK TIFF so the K band is
    // resized as ink, not used as alpha.
    pipeline = sharp(taggedTiff({ ...image, icc: image.icc as Buffer }), { ignoreIcc: true, limitInputPixels: false })
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk');
  } else {
    const data = image.depth === 'ushort' && image.data.byteOffset % 2 !== 0 ? Buffer.from(image.data) : image.data;
    const raw = { width: image.width, height: image.height, channels: image.channels };
    const input = image.depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : data;
    pipeline = sharp(input, { raw, limitInputPixels: false });
    if (image.depth === 'ushort') pipeline = pipeline.toColourspace(space === 'GRAY' ? 'b-w' : 'srgb');
  }
  pipeline = resize(pipeline, target.width, target.height, target.fit);
  const hasAlpha = image.channels > colorBands;
  if (hasAlpha && !keepAlpha) pipeline = pipeline.flatten({ background: WHITE });
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== target.width || info.height !== target.height) {
    throw new GptError('E_INTERNAL', `target "${target.id}": resized to ${info.width}x${info.height}, expected ${target.width}x${target.height}`);
  }
  if (info.channels === colorBands) return { data, width: info.width, height: info.height, space, profile };
  const pixels = info.width * info.height;
  const color = Buffer.allocUnsafe(pixels * colorBands);
  const alpha = Buffer.allocUnsafe(pixels);
  for (let p = 0, i = 0; p < pixels; p++) {
    for (let c = 0; c < colorBands; c++) color[p * colorBands + c] = data[i++] as number;
    alpha[p] = data[i++] as number;
  }
  return { data: color, width: info.width, height: info.height, space, profile, alpha };
}

async function convert(fitted: Fitted, target: ResolvedTarget, profile: LoadedProfile): Promise<Buffer> {
  // sRGB pixels for an sRGB deliverable: nothing to convert (every intent is the identity).
  if (fitted.profile === 'srgb' && profile.ref.kind === 'builtin' && profile.ref.name === 'srgb') return fitted.data;
  return convertPixels(fitted.data, {
    from: fitted.profile,
    fromSpace: fitted.space,
    to: profile.bytes,
    toSpace: profile.colorSpace,
    intent: target.color.intent,
    bpc: target.color.bpc,
  });
}

function interleave(color: Buffer, alpha: Buffer, bands: number): Buffer {
  const pixels = alpha.length;
  const out = Buffer.allocUnsafe(pixels * (bands + 1));
  for (let p = 0, o = 0; p < pixels; p++) {
    for (let c = 0; c < bands; c++) out[o++] = color[p * bands + c] as number;
    out[o++] = alpha[p] as number;
  }
  return out;
}

/** Encodes device pixels with `profile` embedded; sharp is told not to convert them. */
async function encode(device: DevicePixels, alpha: Buffer | undefined, target: ResolvedTarget, profile: LoadedProfile): Promise<Buffer> {
  const bands = channelsOf(device.space);
  const data = alpha ? interleave(device.data, alpha, bands) : device.data;
  const tagged = taggedTiff({ data, width: device.width, height: device.height, channels: (bands + (alpha ? 1 : 0)) as RawImage['channels'], depth: 'uchar', icc: profile.bytes });
  let pipeline = sharp(tagged, { ignoreIcc: true, limitInputPixels: false });
  if (device.space === 'CMYK') pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  pipeline = pipeline.keepIccProfile();
  switch (target.format) {
    case 'tiff': {
      const perMm = (target.dpi ?? 300) / MM_PER_INCH;
      return pipeline.tiff({ compression: 'lzw', xres: perMm, yres: perMm, resolutionUnit: 'inch' }).toBuffer();
    }
    case 'png':
      if (target.dpi !== undefined) pipeline = pipeline.withDensity(target.dpi);
      return pipeline.png().toBuffer();
    case 'jpeg':
      if (target.dpi !== undefined) pipeline = pipeline.withDensity(target.dpi);
      return pipeline.jpeg({ quality: target.quality ?? 90 }).toBuffer();
    case 'pdf':
      return writeImagePdf(device, {
        widthMm: target.widthMm ?? (target.trimWidth / (target.dpi ?? 300)) * MM_PER_INCH,
        heightMm: target.heightMm ?? (target.trimHeight / (target.dpi ?? 300)) * MM_PER_INCH,
        bleedMm: target.bleedMm,
        profile: profile.bytes,
        profileDescription: profile.description,
        title: `${target.id} (${profile.description})`,
      });
  }
}

function checkTarget(target: ResolvedTarget, profile: LoadedProfile): void {
  if (!Number.isInteger(target.width) || !Number.isInteger(target.height) || target.width < 1 || target.height < 1) {
    throw new GptError('E_BAD_SIZE', `target "${target.id}": size must be whole pixels, got ${target.width}x${target.height}`);
  }
  if (profile.colorSpace === 'GRAY') {
    throw new GptError('E_UNSUPPORTED', `target "${target.id}": grayscale profile "${profile.name}" (${profile.description}) is not supported yet`, {
      hint: 'use an RGB or CMYK profile',
    });
  }
  if (profile.colorSpace === 'CMYK' && target.format !== 'tiff' && target.format !== 'pdf') {
    throw new GptError('E_BAD_PROFILE', `target "${target.id}": format ${target.format} cannot carry CMYK, but profile "${profile.name}" (${profile.description}) is CMYK`, {
      hint: 'use format: tiff or pdf for CMYK, or an RGB profile (e.g. srgb) for screen formats',
    });
  }
}

/** Fits, converts and encodes `image` for one delivery target. */
export async function renderTarget(image: RawImage, target: ResolvedTarget, profile: LoadedProfile): Promise<RenderedTarget> {
  checkTarget(target, profile);
  const fitted = await fitImage(image, target, target.format === 'png');
  const device: DevicePixels = {
    data: await convert(fitted, target, profile),
    width: fitted.width,
    height: fitted.height,
    space: profile.colorSpace,
    alpha: fitted.alpha !== undefined,
  };
  const data = await encode(device, fitted.alpha, target, profile);
  const dpi = target.format === 'tiff' || target.format === 'pdf' ? (target.dpi ?? 300) : target.dpi;
  return {
    data,
    info: {
      width: device.width,
      height: device.height,
      format: target.format,
      space: profile.colorSpace === 'CMYK' ? 'cmyk' : 'srgb',
      ...(dpi !== undefined ? { dpi } : {}),
      icc: profile.description,
    },
    pixels: device,
  };
}
