import type { BalanceStatistics } from '../../steps/normalize.js';
import { fail, ok } from '../../util/result.js';
import { upstream, type Execution, type ExecutionResult } from './types.js';

/**
 * Normalize: white balance to the statistics of the style's reference (its balance node), then
 * the packshot cleanup when asked for. Cheap: recomputed whenever a consumer needs its pixels
 * (never stored).
 */
export const normalizeExecution: Execution = {
  async execute(job, services): Promise<ExecutionResult> {
    const { node, asset } = job;
    const input = await services.pixels(node.inputs[0] as string);
    if (!input.ok) return fail(upstream(input.error));
    let reference: BalanceStatistics | undefined;
    if (node.whiteBalanceInput) {
      const statistics = await services.data(node.whiteBalanceInput);
      if (!statistics.ok) return fail(upstream(statistics.error));
      reference = statistics.value as BalanceStatistics;
    }
    services.started(node, job.reasons);
    const image = await services.pools.process.run(async () => {
      const { runNormalize, cleanupBackground } = await services.stepsWithCores('process');
      const balanced = await runNormalize(input.value, reference);
      return asset.normalize ? cleanupBackground(balanced, asset.normalize) : balanced;
    }, services.signal);
    return ok({ outputHash: job.decision.outputHash as string, pixels: image });
  },
};
