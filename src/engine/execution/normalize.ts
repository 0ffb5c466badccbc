import type { RawImage } from '../../util/image.js';
import { ok } from '../../util/result.js';
import type { Execution, ExecutionResult } from './types.js';

/**
 * Normalize: white balance to the style's reference, then the packshot cleanup when asked for.
 * Cheap: recomputed whenever a consumer needs its pixels (never stored).
 */
export const normalizeExecution: Execution = {
  async execute(job, services): Promise<ExecutionResult> {
    const { node, asset } = job;
    const inputs = job.pixels as RawImage[];
    const reference = node.whiteBalanceInput ? inputs[node.inputs.indexOf(node.whiteBalanceInput)] : undefined;
    const image = await services.pools.process.run(async () => {
      const { runNormalize, cleanupBackground } = await services.stepsWithCores('process');
      const balanced = await runNormalize(inputs[0] as RawImage, reference);
      return asset.normalize ? cleanupBackground(balanced, asset.normalize) : balanced;
    }, services.signal);
    return ok({ outputHash: job.decision.outputHash as string, pixels: image });
  },
};
