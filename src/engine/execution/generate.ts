import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolvedGenerateParams } from '../../graph/keys.js';
import type { GenerateParams } from '../../manifest/types.js';
import { getProvider } from '../../providers/registry.js';
import type { GenerateResult, ImageProvider, ReferenceImage } from '../../providers/types.js';
import { ExitCode, GptError, toGptError } from '../../util/errors.js';
import { fail, ok, type Result } from '../../util/result.js';
import { BatchPending, batchJob } from '../batch-scheduler.js';
import { candidateImagesOf, generateCall } from '../variants.js';
import type { CandidateSet } from '../../graph/variants.js';
import { upstream, type Execution, type ExecutionFailure, type ExecutionJob, type ExecutionResult, type ExecutionServices } from './types.js';

/** One candidate image made and stored (variants: one provider call each). */
interface Made {
  index: number;
  hash: string;
  meta: Record<string, unknown>;
  costUsd: number;
  requests: number;
  retries: number;
}

/** What one generation sends, shared by its candidates. */
interface Generation {
  job: ExecutionJob;
  services: ExecutionServices;
  params: GenerateParams;
  provider: ImageProvider;
  /** The edit's input images in order (the style's references); none for a plain generation. */
  references: ReferenceImage[];
  variants: CandidateSet;
  /** Retries reported so far (by onRetry), across candidates. */
  retries: number;
  announced: boolean;
}

/** A provider call not sent: the provider stopped earlier in this build. */
const haltedSkip = (provider: string, halt: GptError): ExecutionFailure => ({
  status: 'skipped',
  reason: `not sent: ${provider} stopped earlier in this build (${halt.code}: ${halt.message})`,
});

/** Generate: asks the provider for the asset's image (each missing candidate), and stores it at once. */
export const generateExecution: Execution = {
  async execute(job, services): Promise<ExecutionResult> {
    const params = await resolvedGenerateParams(job.asset, services.manifest);
    const provider = await getProvider(params.provider);
    const halted = services.haltedProviders.get(params.provider);
    if (halted) return fail({ ...haltedSkip(params.provider, halted) });
    const skip = services.skipGenerate?.(job.asset.id, job.decision.key);
    if (skip) return fail({ status: 'skipped', reason: skip });
    if (services.frozen && provider.remote) {
      return fail({ status: 'failed', error: new GptError('E_FROZEN', `--frozen: "${job.asset.id}" would need a ${params.provider} call`, { exitCode: ExitCode.policy }) });
    }
    const references: ReferenceImage[] = [];
    for (const reference of job.node.references ?? []) {
      if ('file' in reference) {
        references.push(await referenceFile(reference.file));
        continue;
      }
      const encoded = await services.encodedImage(reference.input);
      if (!encoded.ok) return fail(upstream(encoded.error));
      references.push(encoded.value);
    }
    const variants = job.decision.variants ?? { candidates: [{ index: 1, key: job.decision.key }], pick: 1, missing: [1] };
    const generation: Generation = { job, services, params, provider, references, variants, retries: 0, announced: false };
    const calls = await Promise.all(variants.missing.map((index) => makeCandidate(generation, index)));
    const made = calls.flatMap((c) => (c.ok ? [c.value] : []));
    // A refusal says more than a candidate still waiting in a batch.
    const failed = calls.find((c) => !c.ok && c.error.status === 'failed') ?? calls.find((c) => !c.ok);
    if (failed && !failed.ok) {
      // The candidates that were made are stored and paid for: the report still counts them.
      const error = failed.error;
      return fail({ ...error, requests: (error.requests ?? 0) + sum(made, 'requests'), retries: (error.retries ?? 0) + sum(made, 'retries') });
    }
    return ok(pickedResult(generation, made));
  },
};

const CONTENT_TYPES: Record<string, ReferenceImage['contentType']> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

/** A style's reference file, sent as it is (named by its file name, typed by its extension). */
async function referenceFile(file: string): Promise<ReferenceImage> {
  const contentType = CONTENT_TYPES[path.extname(file).toLowerCase()];
  return { assetId: path.parse(file).name, image: await readFile(file), ...(contentType ? { contentType } : {}) };
}

const sum = (made: Made[], field: 'requests' | 'retries' | 'costUsd') => made.reduce((n, m) => n + m[field], 0);

/** The node's result: the picked candidate's image, the cost of every call. */
function pickedResult(generation: Generation, made: Made[]) {
  const { job, services, variants } = generation;
  const images = candidateImagesOf(variants, made);
  services.madeCandidates.set(job.asset.id, images);
  const picked = made.find((m) => m.index === variants.pick);
  const pickedRecord = variants.candidates.find((c) => c.index === variants.pick)?.record;
  const meta = { ...(picked?.meta ?? pickedRecord?.meta ?? {}), ...(images.images.length > 1 ? { candidate: images.pick, candidates: images.images.length } : {}) };
  return {
    outputHash: images.images[images.pick - 1] as string,
    costUsd: sum(made, 'costUsd'),
    meta,
    requests: sum(made, 'requests'),
    retries: Math.max(generation.retries, sum(made, 'retries')),
  };
}

/** Halts the provider on an error that would fail every further request (a 401). */
function haltOn(services: ExecutionServices, provider: string, error: GptError): void {
  if (error.haltsProvider && !services.haltedProviders.has(provider)) services.haltedProviders.set(provider, error);
}

/** One provider call for candidate `index`, its image committed to the store before anything downstream runs. */
async function makeCandidate(generation: Generation, index: number): Promise<Result<Made, ExecutionFailure>> {
  const { job, services, params, provider } = generation;
  const call = await generateCall(params, job.decision, generation.variants, index);
  let sent: Sent;
  try {
    // Batched (generate.batch, or already in an open batch): the batch scheduler sends it, not the pool.
    sent = (await services.batches.takes(call.params, call.key))
      ? await sendInBatch(generation, call)
      : await services.pools.generate.run(() => send(generation, call.params), services.signal);
  } catch (err) {
    // Thrown while waiting for a slot (the build stopped) or by the provider.
    const error = toGptError(err);
    haltOn(services, params.provider, error);
    const usage = err as { requests?: number; retries?: number };
    return fail({ status: 'failed', error, requests: usage.requests ?? 0, retries: usage.retries ?? 0 });
  }
  if (!sent.ok) return sent;
  const result = sent.value;
  // Commit the paid image before anything downstream runs: a crash from here costs no second call.
  const ext = (await services.steps()).imageExtension(result.image);
  const object = await services.store.putBytes(result.image);
  const meta = {
    provider: params.provider,
    model: params.model,
    size: params.size,
    quality: params.quality,
    ...(result.revisedPrompt ? { revisedPrompt: result.revisedPrompt } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
    requests: result.requests,
    retries: result.retries,
    ...result.meta,
    ...call.meta,
  };
  await services.store.putAction({
    version: 1, key: call.key, nodeId: job.node.id, kind: job.node.kind,
    output: { hash: object.hash, size: object.size, ext }, fingerprint: call.fingerprint, meta, ms: Date.now() - job.started,
    costUsd: result.costUsd, createdAt: new Date().toISOString(),
  });
  return ok({ index, hash: object.hash, meta, costUsd: result.costUsd, requests: provider.remote ? result.requests : 0, retries: result.retries });
}

type Sent = Result<GenerateResult, ExecutionFailure>;

/** Says the node started, once for all its candidates. */
function announce(generation: Generation): void {
  if (!generation.announced) generation.services.started(generation.job.node, generation.job.reasons);
  generation.announced = true;
}

/**
 * The request through the provider's batch API: answered when the batch ends (the scheduler
 * has stored the image by then), or pending when this build does not wait (`--no-wait`).
 */
async function sendInBatch(generation: Generation, call: Awaited<ReturnType<typeof generateCall>>): Promise<Sent> {
  const { job, services } = generation;
  announce(generation);
  services.waitingOnBatch(job.asset.id);
  try {
    return ok(await services.batches.generate(batchJob(job.node.id, job.asset, call, generation.references)));
  } catch (err) {
    if (err instanceof BatchPending) return fail({ status: 'pending', reason: err.message });
    throw err;
  }
}

/** The request itself, holding a generate slot. */
async function send(generation: Generation, params: GenerateParams): Promise<Sent> {
  const { job, services } = generation;
  // Halted while queued: do not send.
  const halted = services.haltedProviders.get(params.provider);
  if (halted) return fail(haltedSkip(params.provider, halted));
  announce(generation);
  try {
    return ok(
      await (await services.steps()).runGenerate(job.asset, params, generation.references, {
        // A request already sent is paid for: cancelling the build (Ctrl-C, --fail-fast)
        // lets it finish and stores the image; only requests not yet sent are dropped.
        signal: services.requestSignal,
        projectRoot: services.manifest.root,
        pricing: services.manifest.pricing,
        acquireRate: async () => {
          services.signal.throwIfAborted();
          await services.rate?.take(services.signal);
        },
        onRetry: (info) => {
          generation.retries++;
          services.emit({ type: 'retry', node: refOf(job), ...info });
        },
      }),
    );
  } catch (err) {
    // Halt before this slot is released, so no queued request goes out after a 401.
    haltOn(services, params.provider, toGptError(err));
    throw err;
  }
}

const refOf = (job: ExecutionJob) => ({ id: job.node.id, asset: job.node.asset, kind: job.node.kind, ...(job.node.target ? { target: job.node.target } : {}) });
