import { getUpscaler } from '../../upscalers/registry.js';
import { refOf } from '../events.js';
import { fail, ok } from '../../util/result.js';
import { actionRecord, upstream, type Execution, type ExecutionResult } from './types.js';

/**
 * Upscale: a slow engine's result (Real-ESRGAN) is stored; a cheap one (Lanczos) is recomputed
 * whenever a consumer needs its pixels. An upscale turned off hands its input on (pass-through).
 */
export const upscaleExecution: Execution = {
  async execute(job, services): Promise<ExecutionResult> {
    const { node, asset, decision } = job;
    const pixels = await services.pixels(node.inputs[0] as string);
    if (!pixels.ok) return fail(upstream(pixels.error));
    const input = pixels.value;
    const upscaler = await getUpscaler(asset.upscale.engine);
    const stored = decision.persisted;
    if (!stored) services.started(node, job.reasons);
    const result = await services.pools[upscaler.pool].run(async () => {
      if (stored) services.started(node, job.reasons);
      return (await services.stepsWithCores(upscaler.pool)).runUpscale(input, asset.upscale, {
        signal: services.signal,
        tmpDir: services.tmpDir,
        warn: (message) => services.warn(node, message),
        progress: (fraction) => services.emit({ type: 'progress', node: refOf(node), fraction }),
      });
    }, services.signal);
    if (!stored) return ok({ outputHash: decision.outputHash as string, meta: result.meta, pixels: result.image });
    const object = await services.store.putBytes(await (await services.steps()).encodePng(result.image));
    // A fallback result is not what the key promises: keep it out of the cache, so the real
    // engine runs once it is available (e.g. after Vulkan is installed).
    if (!result.meta.fallback) await services.store.putAction(actionRecord(job, { hash: object.hash, size: object.size, ext: 'png' }, result.meta));
    services.keepPixels(node.id, result.image);
    return ok({ outputHash: object.hash, meta: result.meta });
  },
};
