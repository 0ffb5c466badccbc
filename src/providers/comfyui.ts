/**
 * The `comfyui` provider: any ComfyUI graph (SDXL, Flux, ControlNet, LoRAs...) on your own GPU,
 * driven through ComfyUI's HTTP API with a workflow file the manifest names.
 *
 * One image:
 * 1. the style reference, if the workflow has `{{reference_image}}`, is uploaded with
 *    `POST /upload/image` (named by its content hash, so re-uploads are idempotent);
 * 2. the workflow, placeholders filled (see comfyui-workflow.ts), is queued with
 *    `POST /prompt {prompt, client_id}`; a 400 with `node_errors` is reported with each node's id
 *    and class_type, and not retried;
 * 3. `GET /history/{prompt_id}` is polled until the job succeeds or fails (an `execution_error`
 *    names the node id, its class_type and the exception);
 * 4. the output image is fetched with `GET /view?filename=&subfolder=&type=`.
 *
 * `seed` reaches `{{seed}}` unchanged; without one, a seed derived from the prompt is used, so
 * the request is the same for the same asset. The workflow file's content hash is part of the
 * cache key (fingerprint), so editing the graph regenerates, and moving the project does not.
 *
 * `remote: true` (an HTTP call to another machine, refused by --frozen); a queued prompt counts
 * as one request. Cost is GPU time: the server's own execution time (execution_start to
 * execution_success in the history), times the rate in self-hosted.ts.
 *
 * Options:
 *
 * | option             | default                        | meaning                                     |
 * |--------------------|--------------------------------|---------------------------------------------|
 * | workflow           | (required)                     | API-format JSON, relative to the manifest   |
 * | referenceWorkflow  | workflow                       | the workflow used when there is a reference |
 * | negative_prompt    | ""                             | {{negative_prompt}}                         |
 * | steps              | 30                             | {{steps}}                                   |
 * | cfg_scale          | 7                              | {{cfg_scale}}                               |
 * | denoising_strength | 0.55                           | {{denoising_strength}}                      |
 * | outputNode         | the first node with an output image | which node's image is the result       |
 * | pollIntervalMs     | 500                            | how often the history is polled             |
 * | baseUrl            | $COMFYUI_BASE_URL, else http://127.0.0.1:8188 |                              |
 *
 * plus the retry, timeout (the whole job) and cost options of self-hosted.ts.
 */

import { createHash, randomUUID } from 'node:crypto';
import type { GenerateParams } from '../manifest/types.js';
import {
  derivedSeed,
  fillWorkflow,
  loadWorkflow,
  PLACEHOLDER_DEFAULTS,
  workflowHash,
  type LoadedWorkflow,
  type Placeholder,
} from './comfyui-workflow.js';
import { ProviderError, retrySettings, sleep, withRetry } from './retry.js';
import {
  baseUrlOf,
  checkImageBytes,
  clip,
  estimateGpuCost,
  gpuCost,
  haltIfUnreachable,
  readJson,
  readText,
  roundSeconds,
  sendHttp,
  sizeNearMegapixel,
  statusError,
  throwIfInvalid,
  type CheckedImage,
  SELF_HOSTED_COMMON_OPTIONS,
} from './self-hosted.js';
import type { GenerateContext, GenerateRequest, GenerateResult, ImageProvider, ProjectContext } from './types.js';
import { validateComfyUiParams } from './comfyui-checks.js';

export { validateComfyUiParams };

export const COMFYUI_DEFAULT_BASE_URL = 'http://127.0.0.1:8188';
export const COMFYUI_BASE_URL_ENV = 'COMFYUI_BASE_URL';
const DEFAULT_POLL_MS = 500;
const SERVICE = 'ComfyUI';
const CONNECTION_HINT = `start ComfyUI (python main.py --listen), or point ${COMFYUI_BASE_URL_ENV} / generate.options.baseUrl at it`;

export const comfyuiProvider: ImageProvider = {
  name: 'comfyui',
  remote: true,
  // Key variable, endpoint, timeouts, retries and GPU pricing never change the image.
  transportOptions: SELF_HOSTED_COMMON_OPTIONS,

  fingerprint(params: GenerateParams, { projectRoot }: ProjectContext): Record<string, string> {
    const out: Record<string, string> = { provider: 'comfyui', api: 'prompt' };
    const workflow = params.options['workflow'];
    if (typeof workflow === 'string') out['workflow'] = workflowHash(projectRoot, workflow);
    const reference = params.options['referenceWorkflow'];
    if (typeof reference === 'string') out['referenceWorkflow'] = workflowHash(projectRoot, reference);
    return out;
  },

  validate: (params, { projectRoot, at }) => validateComfyUiParams(params, projectRoot, at),

  sizeForAspect(_params: GenerateParams, aspect: number): string {
    return sizeNearMegapixel(aspect);
  },

  estimateCostUsd(params: GenerateParams, pricing?: Record<string, unknown>): number {
    return estimateGpuCost('comfyui', params.options, pricing);
  },

  generate: generateWithComfyUi,
};

interface HistoryImage {
  filename: string;
  subfolder: string;
  type: string;
}

interface Finished {
  outputs: Record<string, unknown>;
  messages: unknown[];
}

async function generateWithComfyUi(request: GenerateRequest, context: GenerateContext): Promise<GenerateResult> {
  const params = request.params;
  const options = params.options;
  throwIfInvalid(request.assetId, validateComfyUiParams(params, context.projectRoot, undefined));
  const settings = retrySettings(options);
  const baseUrl = baseUrlOf(options, COMFYUI_BASE_URL_ENV, COMFYUI_DEFAULT_BASE_URL);
  const pollMs = typeof options['pollIntervalMs'] === 'number' ? options['pollIntervalMs'] : DEFAULT_POLL_MS;
  const chosen = request.reference && typeof options['referenceWorkflow'] === 'string' ? 'referenceWorkflow' : 'workflow';
  const loaded = loadWorkflow(context.projectRoot, options[chosen] as string);
  if (!loaded.ok) throw new ProviderError(loaded.code, `${request.assetId}: ${loaded.message}`, { hint: loaded.hint });
  const workflow = loaded.value;
  const wantsReference = workflow.placeholders.has('reference_image');
  if (wantsReference && !request.reference) {
    throw new ProviderError(
      'E_NO_REFERENCE',
      `${request.assetId}: workflow "${workflow.given}" needs {{reference_image}}, but the asset has no style reference`,
      { hint: 'give the asset a style with a reference, or use a txt2img workflow as workflow and this one as referenceWorkflow' },
    );
  }

  const clientId = randomUUID();
  const seed = params.seed ?? derivedSeed(request.prompt);
  const call = { service: SERVICE, timeoutMs: settings.timeoutMs, signal: context.signal, connectionHint: CONNECTION_HINT };
  const deadline = Date.now() + settings.timeoutMs;
  let requests = 0;
  let retries = 0;
  const retryOptions = {
    maxAttempts: settings.maxAttempts,
    baseDelayMs: settings.baseDelayMs,
    maxDelayMs: settings.maxDelayMs,
    signal: context.signal,
    onRetry: (info: { attempt: number; delayMs: number; reason: string }) => {
      retries++;
      context.onRetry?.(info);
    },
  };

  try {
    let referenceName: string | undefined;
    if (wantsReference && request.reference) {
      const reference = request.reference;
      referenceName = await withRetry(() => uploadReference(baseUrl, reference.image, call), retryOptions);
    }
    const prompt = fillWorkflow(workflow.workflow, placeholderValues(request, seed, referenceName));

    const queuedAt = performance.now();
    const promptId = await withRetry(async () => {
      await context.acquireRate?.();
      requests++;
      return queuePrompt(baseUrl, prompt, clientId, workflow, call);
    }, retryOptions);
    const finished = await waitForHistory(baseUrl, promptId, workflow, { ...call, pollMs, deadline }, retryOptions);
    const wallSeconds = roundSeconds((performance.now() - queuedAt) / 1000);
    const found = pickOutputImage(finished.outputs, options['outputNode']);
    if (!found) {
      throw new ProviderError('E_NO_IMAGE', `ComfyUI finished prompt ${promptId} but no node produced an image`, {
        hint: typeof options['outputNode'] === 'string'
          ? `node "${options['outputNode']}" (outputNode) has no images: check the id in the workflow`
          : 'add a SaveImage node to the workflow',
      });
    }
    const image = await withRetry(() => fetchImage(baseUrl, found.image, call), retryOptions);
    const gpuSeconds = executionSeconds(finished.messages) ?? wallSeconds;
    const ran = { workflow, promptId, seed, referenceName, outputNode: found.node, gpuSeconds, wallSeconds };
    return { image: image.bytes, costUsd: gpuCost('comfyui', gpuSeconds, options, context.pricing), requests, retries, meta: resultMeta(request, ran, image) };
  } catch (err) {
    const error = haltIfUnreachable(err);
    if (error instanceof ProviderError) {
      error.requests = requests;
      error.retries = retries;
    }
    throw error;
  }
}

/** The values of the workflow's placeholders for this request. */
function placeholderValues(request: GenerateRequest, seed: number, referenceName: string | undefined): Partial<Record<Placeholder, string | number>> {
  const options = request.params.options;
  const values: Partial<Record<Placeholder, string | number>> = {
    prompt: request.prompt,
    negative_prompt: typeof options['negative_prompt'] === 'string' ? options['negative_prompt'] : '',
    seed,
    width: request.width,
    height: request.height,
    steps: typeof options['steps'] === 'number' ? options['steps'] : PLACEHOLDER_DEFAULTS.steps,
    cfg_scale: typeof options['cfg_scale'] === 'number' ? options['cfg_scale'] : PLACEHOLDER_DEFAULTS.cfg_scale,
    denoising_strength:
      typeof options['denoising_strength'] === 'number' ? options['denoising_strength'] : PLACEHOLDER_DEFAULTS.denoising_strength,
  };
  if (referenceName !== undefined) values.reference_image = referenceName;
  return values;
}

/** What ran, for the report's provenance. */
function resultMeta(
  request: GenerateRequest,
  ran: { workflow: LoadedWorkflow; promptId: string; seed: number; referenceName: string | undefined; outputNode: string; gpuSeconds: number; wallSeconds: number },
  image: CheckedImage,
): Record<string, unknown> {
  const { workflow, referenceName } = ran;
  return {
    provider: 'comfyui',
    workflow: workflow.given,
    workflowHash: workflow.hash,
    promptId: ran.promptId,
    seed: ran.seed,
    requestedSeed: request.params.seed ?? null,
    width: request.width,
    height: request.height,
    referenceAsset: request.reference?.assetId,
    ...(referenceName !== undefined ? { referenceImage: referenceName } : {}),
    ...(request.reference && !workflow.placeholders.has('reference_image') ? { referenceIgnored: true } : {}),
    outputNode: ran.outputNode,
    gpuSeconds: ran.gpuSeconds,
    wallSeconds: ran.wallSeconds,
    output: { format: image.format, width: image.width, height: image.height },
  };
}

type Call = { service: string; timeoutMs: number; signal: AbortSignal; connectionHint: string };

async function uploadReference(baseUrl: string, image: Buffer, call: Call): Promise<string> {
  const name = `gpt4k-ref-${createHash('sha256').update(image).digest('hex').slice(0, 16)}.png`;
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), name);
  form.append('type', 'input');
  form.append('overwrite', 'true');
  const response = await sendHttp({ ...call, method: 'POST', url: `${baseUrl}/upload/image`, body: form });
  if (!response.ok) throw statusError(SERVICE, response, `uploading the reference image failed: ${clip(await readText(response), 200)}`);
  const data = (await readJson(response, SERVICE)) as Record<string, unknown>;
  const stored = typeof data['name'] === 'string' ? data['name'] : name;
  const subfolder = typeof data['subfolder'] === 'string' ? data['subfolder'] : '';
  return subfolder ? `${subfolder}/${stored}` : stored;
}

async function queuePrompt(baseUrl: string, prompt: unknown, clientId: string, workflow: LoadedWorkflow, call: Call): Promise<string> {
  const response = await sendHttp({ ...call, method: 'POST', url: `${baseUrl}/prompt`, body: { prompt, client_id: clientId } });
  if (response.status === 400) {
    const body = await readText(response);
    throw promptRejected(body, workflow, response);
  }
  if (!response.ok) throw statusError(SERVICE, response, clip((await readText(response)) || `HTTP ${response.status}`, 200));
  const data = (await readJson(response, SERVICE)) as Record<string, unknown>;
  const id = data['prompt_id'];
  if (typeof id !== 'string' || id === '') {
    throw new ProviderError('E_BAD_RESPONSE', 'ComfyUI accepted the prompt but returned no prompt_id', { retryable: true, status: response.status });
  }
  return id;
}

/**
 * POST /prompt's 400: `{error: {type, message, details}, node_errors: {id: {class_type, errors: [{message, details, extra_info: {input_name}}]}}}`,
 * one line per node, naming its id and class_type.
 */
export function promptRejected(bodyText: string, workflow: LoadedWorkflow, response: Response): ProviderError {
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    if (isRecord(parsed)) body = parsed;
  } catch {
    // not JSON: fall through with the text
  }
  const error = isRecord(body['error']) ? body['error'] : {};
  const nodeErrors = isRecord(body['node_errors']) ? body['node_errors'] : {};
  const lines: string[] = [];
  for (const [id, entry] of Object.entries(nodeErrors)) {
    if (!isRecord(entry)) continue;
    const classType = typeof entry['class_type'] === 'string' ? entry['class_type'] : workflow.workflow[id]?.class_type ?? '?';
    const errors = Array.isArray(entry['errors']) ? entry['errors'].filter(isRecord) : [];
    const what = errors.map((e) => {
      const input = isRecord(e['extra_info']) && typeof e['extra_info']['input_name'] === 'string' ? `${e['extra_info']['input_name']}: ` : '';
      const details = typeof e['details'] === 'string' && e['details'] !== '' ? e['details'] : '';
      const message = typeof e['message'] === 'string' ? e['message'] : 'invalid';
      return details ? `${message} (${details.startsWith(input) || !input ? details : input + details})` : `${input}${message}`;
    });
    lines.push(`node ${id} (${classType}): ${what.join('; ') || 'invalid'}`);
  }
  const summary = typeof error['message'] === 'string' ? error['message'] : 'invalid prompt';
  const details = typeof error['details'] === 'string' && error['details'] !== '' ? `: ${error['details']}` : '';
  const message =
    lines.length > 0
      ? `ComfyUI rejected workflow "${workflow.given}" (${summary}): ${lines.join('; ')}`
      : `ComfyUI rejected workflow "${workflow.given}": ${summary}${details}${bodyText && !isRecord(body['error']) ? ` ${clip(bodyText, 200)}` : ''}`;
  return new ProviderError('E_WORKFLOW_INVALID', message, {
    status: response.status,
    providerCode: typeof error['type'] === 'string' ? error['type'] : undefined,
    hint: 'fix the node named above in the workflow (a missing model file, a custom node not installed, a bad input); it is not retried',
  });
}

/** Polls /history/{id} until the prompt has finished; an execution_error becomes a ProviderError naming the node. */
async function waitForHistory(
  baseUrl: string,
  promptId: string,
  workflow: LoadedWorkflow,
  call: Call & { pollMs: number; deadline: number },
  retryOptions: Parameters<typeof withRetry>[1],
): Promise<Finished> {
  for (;;) {
    const entry = await withRetry(async () => {
      const response = await sendHttp({ ...call, method: 'GET', url: `${baseUrl}/history/${encodeURIComponent(promptId)}` });
      if (!response.ok) throw statusError(SERVICE, response, clip((await readText(response)) || `HTTP ${response.status}`, 200));
      const data = (await readJson(response, SERVICE)) as Record<string, unknown>;
      return data[promptId];
    }, retryOptions);
    if (isRecord(entry)) {
      const status = isRecord(entry['status']) ? entry['status'] : {};
      const messages = Array.isArray(status['messages']) ? status['messages'] : [];
      if (status['status_str'] === 'error') throw executionError(promptId, messages, workflow);
      const outputs = isRecord(entry['outputs']) ? entry['outputs'] : {};
      if (status['completed'] === true || status['status_str'] === 'success') return { outputs, messages };
    }
    if (Date.now() + call.pollMs > call.deadline) {
      throw new ProviderError('E_TIMEOUT', `ComfyUI did not finish prompt ${promptId} within ${Math.round(call.timeoutMs / 1000)} s`, {
        hint: 'the job may still be running in ComfyUI; raise generate.options.timeoutMs for slow workflows',
      });
    }
    await sleep(call.pollMs, call.signal);
  }
}

function executionError(promptId: string, messages: unknown[], workflow: LoadedWorkflow): ProviderError {
  const found = messages.find((m) => Array.isArray(m) && (m[0] === 'execution_error' || m[0] === 'execution_interrupted'));
  const kind = Array.isArray(found) ? (found[0] as string) : 'execution_error';
  const data = Array.isArray(found) && isRecord(found[1]) ? found[1] : {};
  const nodeId = data['node_id'] !== undefined ? String(data['node_id']) : '?';
  const nodeType = typeof data['node_type'] === 'string' ? data['node_type'] : workflow.workflow[nodeId]?.class_type ?? '?';
  if (kind === 'execution_interrupted') {
    return new ProviderError('E_INTERRUPTED', `ComfyUI prompt ${promptId} was interrupted at node ${nodeId} (${nodeType})`, {
      retryable: true,
      hint: 'someone pressed Cancel in ComfyUI, or the server restarted; gpt4k retries it',
    });
  }
  const exceptionType = typeof data['exception_type'] === 'string' ? data['exception_type'] : 'error';
  const exception = typeof data['exception_message'] === 'string' ? clip(data['exception_message'], 300) : 'failed';
  const oom = /OutOfMemory|out of memory/i.test(`${exceptionType} ${exception}`);
  return new ProviderError(
    oom ? 'E_GPU_OUT_OF_MEMORY' : 'E_COMFYUI_EXECUTION',
    `ComfyUI failed at node ${nodeId} (${nodeType}) in workflow "${workflow.given}": ${exceptionType}: ${exception}`,
    {
      providerCode: exceptionType,
      hint: oom
        ? 'the GPU ran out of memory: use a smaller size (the upscaler does the rest) or start ComfyUI with --lowvram'
        : `fix node ${nodeId} (${nodeType}) in the workflow; the full traceback is in the ComfyUI log`,
    },
  );
}

/** The history's images: the `outputNode`, else the first node with a saved (type "output") image, else any image. */
function pickOutputImage(outputs: Record<string, unknown>, outputNode: unknown): { node: string; image: HistoryImage } | undefined {
  const imagesOf = (id: string): HistoryImage[] => {
    const node = outputs[id];
    const images = isRecord(node) && Array.isArray(node['images']) ? node['images'] : [];
    return images.filter(
      (i): i is HistoryImage => isRecord(i) && typeof i['filename'] === 'string' && typeof i['type'] === 'string',
    ).map((i) => ({ filename: i.filename, subfolder: typeof i.subfolder === 'string' ? i.subfolder : '', type: i.type }));
  };
  if (typeof outputNode === 'string') {
    const image = imagesOf(outputNode)[0];
    return image ? { node: outputNode, image } : undefined;
  }
  const ids = Object.keys(outputs).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  for (const wanted of ['output', undefined]) {
    for (const id of ids) {
      const image = imagesOf(id).find((i) => wanted === undefined || i.type === wanted);
      if (image) return { node: id, image };
    }
  }
  return undefined;
}

async function fetchImage(baseUrl: string, image: HistoryImage, call: Call): Promise<CheckedImage> {
  const query = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
  const response = await sendHttp({ ...call, method: 'GET', url: `${baseUrl}/view?${query.toString()}` });
  if (!response.ok) throw statusError(SERVICE, response, `fetching ${image.filename} failed: ${clip(await readText(response), 200)}`);
  return checkImageBytes(Buffer.from(await response.arrayBuffer()), SERVICE);
}

/** Seconds between execution_start and execution_success, as the server timed them. */
function executionSeconds(messages: unknown[]): number | undefined {
  const at = (kind: string): number | undefined => {
    const m = messages.find((x) => Array.isArray(x) && x[0] === kind);
    const t = Array.isArray(m) && isRecord(m[1]) ? m[1]['timestamp'] : undefined;
    return typeof t === 'number' ? t : undefined;
  };
  const start = at('execution_start');
  const end = at('execution_success');
  return start !== undefined && end !== undefined && end >= start ? roundSeconds((end - start) / 1000) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
