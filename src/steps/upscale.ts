import type { UpscaleParams } from '../manifest/types.js';
import { getUpscaler } from '../upscalers/registry.js';
import type { UpscaleContext, UpscaleResult } from '../upscalers/types.js';
import { describePixels, MAX_IMAGE_PIXELS, type RawImage } from '../util/image.js';
import { GptError } from '../util/errors.js';

export async function runUpscale(input: RawImage, params: UpscaleParams, context: UpscaleContext): Promise<UpscaleResult> {
  if (params.engine === 'none' || params.scale === 1) return { image: input, meta: { engine: 'none' } };
  const width = input.width * params.scale;
  const height = input.height * params.scale;
  if (width * height > MAX_IMAGE_PIXELS) {
    // Refused before any work: an upscale this large takes gigabytes and minutes, and no target needs it.
    throw new GptError('E_IMAGE_TOO_LARGE', `upscaling ${input.width}x${input.height} by ${params.scale} would make ${describePixels(width, height)}, over the limit of ${describePixels(0x3fff, 0x3fff)}`, {
      hint: 'lower upscale.scale for this asset, or set upscale: { engine: none } (a large photo rarely needs upscaling)',
    });
  }
  const upscaler = await getUpscaler(params.engine);
  return upscaler.upscale(input, params, context);
}
