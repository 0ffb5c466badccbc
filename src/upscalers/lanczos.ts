import type { Sharp } from 'sharp';
import { sharpVersionsOnDisk } from './sharp-versions.js';
import type { UpscaleParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import type { UpscaleContext, UpscaleResult, Upscaler } from './types.js';

/**
 * The built-in upscaler: a Lanczos-3 resize in libvips, optionally followed by a mild unsharp
 * mask. Cheap enough to recompute, so its output is not persisted in the store.
 */

const SCALES = [1, 2, 4];
/** A gentle unsharp mask: restores some edge contrast lost to interpolation without halos. */
const SHARPEN = { sigma: 0.7, m1: 0.6, m2: 2 };

function abortError(): Error {
  const err = new Error('cancelled');
  err.name = 'AbortError';
  return err;
}

/** sharp (libvips) loads when pixels are resized, not when a key is computed. */
let sharpModule: Promise<typeof import('sharp').default> | undefined;
const loadSharp = () => (sharpModule ??= import('sharp').then((m) => m.default));

/** A sharp instance over the raw pixels, without copying them. */
function sharpFromRaw(sharp: typeof import('sharp').default, image: RawImage): Sharp {
  const raw = { width: image.width, height: image.height, channels: image.channels };
  if (image.depth === 'ushort') {
    // sharp reads 16-bit raw samples from a Uint16Array; one needs 2-byte alignment.
    const data =
      image.data.byteOffset % 2 === 0 ? image.data : Buffer.from(image.data);
    return sharp(new Uint16Array(data.buffer, data.byteOffset, data.length / 2), { raw });
  }
  return sharp(image.data, { raw });
}

/**
 * The output colourspace that keeps the input's channels and depth: raw input is sRGB (or grey)
 * to sharp, which otherwise converts everything to 8-bit sRGB on output.
 */
function keepSpace(image: RawImage): string {
  const grey = image.channels <= 2;
  if (image.depth === 'ushort') return grey ? 'grey16' : 'rgb16';
  return grey ? 'b-w' : 'srgb';
}

export const lanczosUpscaler: Upscaler = {
  name: 'lanczos',
  persist: false,
  pool: 'process',

  async fingerprint(): Promise<Record<string, string>> {
    const versions = sharpVersionsOnDisk() ?? (await loadSharp()).versions;
    return { sharp: versions.sharp, vips: versions.vips };
  },

  async upscale(input: RawImage, params: UpscaleParams, context: UpscaleContext): Promise<UpscaleResult> {
    if (!SCALES.includes(params.scale)) {
      throw new GptError('E_BAD_SCALE', `lanczos: scale must be one of ${SCALES.join(', ')}, got ${params.scale}`, {
        hint: 'set upscale.scale to 1, 2 or 4',
      });
    }
    if (context.signal.aborted) throw abortError();
    const width = input.width * params.scale;
    const height = input.height * params.scale;
    let pipeline = sharpFromRaw(await loadSharp(), input);
    if (params.scale !== 1) pipeline = pipeline.resize(width, height, { kernel: 'lanczos3', fit: 'fill' });
    if (params.sharpen) pipeline = pipeline.sharpen(SHARPEN);
    // 8-bit grey with alpha: sharp's raw output keeps only the first band of a b-w image, so
    // run it as sRGB and take grey and alpha back out below.
    const greyAlpha8 = input.channels === 2 && input.depth === 'uchar';
    const { data, info } = await pipeline
      .toColourspace(greyAlpha8 ? 'srgb' : keepSpace(input))
      .raw({ depth: input.depth })
      .toBuffer({ resolveWithObject: true });
    const image: RawImage = {
      data: greyAlpha8 ? greyAndAlpha(data) : data,
      width: info.width,
      height: info.height,
      channels: input.channels,
      depth: input.depth,
      ...(input.icc ? { icc: input.icc } : {}),
    };
    if (image.data.length !== width * height * input.channels * (input.depth === 'ushort' ? 2 : 1)) {
      throw new GptError('E_INTERNAL', `lanczos: expected ${width}x${height}x${input.channels}, got ${info.width}x${info.height}x${info.channels}`);
    }
    return { image, meta: { engine: 'lanczos', kernel: 'lanczos3', scale: params.scale, sharpen: params.sharpen === true } };
  },
};

/** RGBA (grey in every colour band) to grey + alpha. */
function greyAndAlpha(rgba: Buffer): Buffer {
  const out = Buffer.allocUnsafe(rgba.length / 2);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 2) {
    out[o] = rgba[i] ?? 0;
    out[o + 1] = rgba[i + 3] ?? 0;
  }
  return out;
}
