import type { UpscaleParams } from '../manifest/types.js';
import { getUpscaler } from '../upscalers/registry.js';
import type { UpscaleContext, UpscaleResult } from '../upscalers/types.js';
import type { RawImage } from '../util/image.js';

export async function runUpscale(input: RawImage, params: UpscaleParams, context: UpscaleContext): Promise<UpscaleResult> {
  if (params.engine === 'none' || params.scale === 1) return { image: input, meta: { engine: 'none' } };
  const upscaler = await getUpscaler(params.engine);
  return upscaler.upscale(input, params, context);
}
