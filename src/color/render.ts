import sharp, { type Sharp } from 'sharp';
import type { Fit, ResolvedTarget } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import { sharpProfileArg, type LoadedProfile } from './profiles.js';
import { taggedTiff } from './tagged.js';

/**
 * Rendering one deliverable: fit the image to the target's exact pixel size, convert it through
 * the target's ICC profile, and encode it. One sharp pipeline per deliverable, the same calls a
 * hand-written sharp script would make, so gpt4k adds no pass over the pixels of its own.
 */

export interface RenderedTarget {
  data: Buffer;
  info: {
    width: number;
    height: number;
    format: string;
    space: 'cmyk' | 'srgb';
    dpi?: number;
    /** Description of the embedded ICC profile. */
    icc?: string;
  };
}

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
const MM_PER_INCH = 25.4;

const FIT: Record<Fit, 'cover' | 'contain' | 'fill'> = { cover: 'cover', contain: 'contain', fill: 'fill' };

/**
 * A sharp pipeline over the pixels, in sRGB as sharp understands it.
 *
 * Untagged 8-bit pixels go in as they are. Pixels with their own profile go in as a TIFF with the
 * profile embedded, which sharp converts from on load. Untagged 16-bit pixels are resized at 16
 * bits and then reduced to 8 before the ICC step: sharp treats 16-bit RGB input as Display P3
 * when it applies an output profile, which would shift every saturated color of sRGB pixels.
 */
async function openImage(image: RawImage, width: number, height: number, fit: Fit): Promise<{ pipeline: Sharp; resized: boolean }> {
  if (image.icc) {
    const tiff = taggedTiff({ ...image, icc: image.icc });
    return { pipeline: sharp(tiff, { limitInputPixels: false }), resized: false };
  }
  const raw = { width: image.width, height: image.height, channels: image.channels };
  if (image.depth === 'uchar') return { pipeline: sharp(image.data, { raw }), resized: false };
  const data = image.data.byteOffset % 2 === 0 ? image.data : Buffer.from(image.data);
  const samples = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
  const eight = await resize(sharp(samples, { raw }), width, height, fit)
    .toColourspace(image.channels <= 2 ? 'b-w' : 'srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const channels = eight.info.channels as 1 | 2 | 3 | 4;
  return { pipeline: sharp(eight.data, { raw: { width: eight.info.width, height: eight.info.height, channels } }), resized: true };
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

function checkTarget(target: ResolvedTarget, profile: LoadedProfile): void {
  if (target.format === 'pdf') {
    throw new GptError('E_UNSUPPORTED', `target "${target.id}": format pdf is not supported yet`, {
      hint: 'use format: tiff for print deliverables for now',
    });
  }
  if (!Number.isInteger(target.width) || !Number.isInteger(target.height) || target.width < 1 || target.height < 1) {
    throw new GptError('E_BAD_SIZE', `target "${target.id}": size must be whole pixels, got ${target.width}x${target.height}`);
  }
  if (profile.colorSpace === 'GRAY') {
    throw new GptError('E_UNSUPPORTED', `target "${target.id}": grayscale profile "${profile.name}" (${profile.description}) is not supported yet`, {
      hint: 'use an RGB or CMYK profile',
    });
  }
  if (profile.colorSpace === 'CMYK' && target.format !== 'tiff') {
    throw new GptError('E_BAD_PROFILE', `target "${target.id}": format ${target.format} cannot carry CMYK, but profile "${profile.name}" (${profile.description}) is CMYK`, {
      hint: 'use format: tiff for CMYK, or an RGB profile (e.g. srgb) for screen formats',
    });
  }
}

/** Fits, converts and encodes `image` for one delivery target. */
export async function renderTarget(image: RawImage, target: ResolvedTarget, profile: LoadedProfile): Promise<RenderedTarget> {
  checkTarget(target, profile);
  const opened = await openImage(image, target.width, target.height, target.fit);
  let pipeline = opened.resized ? opened.pipeline : resize(opened.pipeline, target.width, target.height, target.fit);

  // Print and JPEG carry no alpha: flatten onto paper white before the ICC transform.
  if (target.format !== 'png') pipeline = pipeline.flatten({ background: WHITE });
  // The profile's transform from sRGB (perceptual intent) and the profile itself, embedded.
  pipeline = pipeline.withIccProfile(sharpProfileArg(profile));

  switch (target.format) {
    case 'tiff': {
      const perMm = (target.dpi ?? 300) / MM_PER_INCH;
      pipeline = pipeline.tiff({ compression: 'lzw', xres: perMm, yres: perMm, resolutionUnit: 'inch' });
      break;
    }
    case 'png':
      if (target.dpi !== undefined) pipeline = pipeline.withDensity(target.dpi);
      pipeline = pipeline.png();
      break;
    case 'jpeg':
      if (target.dpi !== undefined) pipeline = pipeline.withDensity(target.dpi);
      pipeline = pipeline.jpeg({ quality: target.quality ?? 90 });
      break;
  }

  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  if (info.width !== target.width || info.height !== target.height) {
    throw new GptError('E_INTERNAL', `target "${target.id}": rendered ${info.width}x${info.height}, expected ${target.width}x${target.height}`);
  }
  const dpi = target.format === 'tiff' ? (target.dpi ?? 300) : target.dpi;
  return {
    data,
    info: {
      width: info.width,
      height: info.height,
      format: info.format,
      space: profile.colorSpace === 'CMYK' ? 'cmyk' : 'srgb',
      ...(dpi !== undefined ? { dpi } : {}),
      icc: profile.description,
    },
  };
}
