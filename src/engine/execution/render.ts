import path from 'node:path';
import { deliverablePath } from '../../graph/plan.js';
import { toGptError } from '../../util/errors.js';
import { renderProvenance, restoreProviderC2pa } from '../provenance.js';
import { fail, ok } from '../../util/result.js';
import { actionRecord, upstream, type Execution, type ExecutionResult } from './types.js';

/** Render: the target's file (size, color, format, preflight), stored and copied into out/. */
export const renderExecution: Execution = {
  async execute(job, services): Promise<ExecutionResult> {
    const { node, decision } = job;
    const manifest = services.manifest;
    const target = manifest.targets.get(node.target as string)!;
    await services.admit(node.asset);
    const input = await services.pixels(node.inputs[0] as string);
    if (!input.ok) return fail(upstream(input.error));
    const provenance = await renderProvenance(job, services);
    const rendered = await services.pools.process.run(async () => {
      services.started(node, job.reasons);
      return (await services.stepsWithCores('process')).runRender(input.value, target, manifest, provenance, { scratchDir: services.tmpDir });
    }, services.signal);
    // Preflight problems of a `preflight: warn` target: delivered, and said.
    for (const message of rendered.warnings) services.warn(node, message);
    const object = await services.store.putBytes(rendered.data);
    // The render's small sRGB preview: the contact sheet's thumbnail, without decoding the file.
    const preview = await services.store.putBytes(rendered.preview);
    const meta: Record<string, unknown> = { ...rendered.info, previewHash: preview.hash, ...(provenance.c2pa ? { c2pa: provenance.c2pa.file } : {}) };
    const ext = path.extname(deliverablePath(manifest, node.asset, target.id)).slice(1);
    await services.store.putAction(actionRecord(job, { hash: object.hash, size: object.size, ext }, meta));
    await services.writeDeliverable(node, object.hash);
    return ok({ outputHash: object.hash, meta, output: services.deliverableInfo(node, meta) });
  },

  async reuse(job, record, services) {
    try {
      // The plan stat'ed it a moment ago: an intact deliverable is not looked at twice.
      const restored = job.decision.deliverableIntact === true ? false : await services.ensureDeliverable(job.node, record.output.hash);
      await restoreProviderC2pa(job, record.meta, services);
      return ok({ restored, output: services.deliverableInfo(job.node, record.meta) });
    } catch (err) {
      return fail({ status: 'failed', error: toGptError(err, 'E_WRITE') });
    }
  },
};
