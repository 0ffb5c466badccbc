import { fail, ok } from '../../util/result.js';
import { actionRecord, upstream, type Execution, type ExecutionResult } from './types.js';

/**
 * Balance: the white-balance statistics of a style's `whiteBalance:` asset (its neutral), from
 * its upscaled pixels, stored as a small JSON object. The style's other assets are normalized
 * to it, so editing one of them never needs the reference's pixels again: only this stored
 * result, which stays cached while the reference does not change.
 */
export const balanceExecution: Execution = {
  async execute(job, services): Promise<ExecutionResult> {
    const { node } = job;
    const input = await services.pixels(node.inputs[0] as string);
    if (!input.ok) return fail(upstream(input.error));
    const bytes = await services.pools.process.run(async () => {
      services.started(node, job.reasons);
      return (await services.steps()).runBalance(input.value);
    }, services.signal);
    const object = await services.store.putBytes(bytes);
    const meta = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    await services.store.putAction(actionRecord(job, { hash: object.hash, size: object.size, ext: 'json' }, meta));
    return ok({ outputHash: object.hash, meta });
  },
};
