/**
 * The OpenAI Batch API for images: `/v1/images/generations` and `/v1/images/edits` requests
 * in a JSONL input file (Files API, purpose `batch`), run within 24 hours at half price.
 *
 * Edits name their style reference by file id (`images: [{ file_id }]`), so the reference
 * is uploaded once (purpose `vision`) and every line refers to it. Answers come back as the
 * same JSON bodies the direct endpoints send; a request the API refused comes back with the
 * status and error body the direct request would have got, and is turned into the same
 * GptError (moderation_blocked -> E_MODERATION_BLOCKED, ...) through `providerErrorFrom`.
 *
 * Only the SDK's `files` and `batches` resources are used. `batches.create` is never retried
 * blindly (a retry after a timeout could create a second batch): `findOrCreate` first looks
 * for a batch that already reads the input file.
 */

import OpenAI, { APIError, toFile } from 'openai';
import type { GenerateParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import { unansweredError, type BatchBackend, type BatchConnection, type BatchLineResult, type RemoteBatch } from './batch-types.js';
import { AUTO_FROM_TARGETS, chooseSizeForAspect } from './openai-models.js';
import { API_KEY, checkImage, endpointBody, providerErrorFrom } from './openai.js';
import { openAiActualCost, type ImageUsage } from './pricing.js';
import { readApiKey } from './api-key.js';
import { ProviderError } from './retry.js';
import { referenceImages, type GenerateRequest, type GenerateResult } from './types.js';

/** OpenAI bills batched requests at 50% of the synchronous price. */
export const OPENAI_BATCH_DISCOUNT = 0.5;

/** How far back `findOrCreate` looks for a batch an interrupted build created. */
const LOOKUP_PAGES = 5;

function clientFor(conn: BatchConnection): { client: OpenAI; key: string } {
  const key = readApiKey(conn.apiKeyEnv ? { apiKeyEnv: conn.apiKeyEnv } : {}, API_KEY);
  return { client: new OpenAI({ apiKey: key, baseURL: conn.baseURL, maxRetries: 0, timeout: 120_000 }), key };
}

/** Runs one control request; whatever the SDK throws becomes a key-free GptError. */
async function call<T>(conn: BatchConnection, run: (client: OpenAI) => Promise<T>): Promise<T> {
  const { client, key } = clientFor(conn);
  try {
    return await run(client);
  } catch (err) {
    const error = providerErrorFrom(err, [key], 120_000);
    throw new ProviderError(error.code, error.message.replace('the images API', 'the OpenAI batch API'), {
      ...(error.hint ? { hint: error.hint } : {}),
      retryable: error.retryable,
      haltsProvider: error.haltsProvider,
      ...(error instanceof ProviderError && error.status !== undefined ? { status: error.status } : {}),
    });
  }
}

function remoteOf(batch: OpenAI.Batch): RemoteBatch {
  return {
    id: batch.id,
    status: batch.status,
    counts: { total: batch.request_counts?.total ?? 0, completed: batch.request_counts?.completed ?? 0, failed: batch.request_counts?.failed ?? 0 },
    createdAt: batch.created_at,
    ...(batch.output_file_id ? { outputFileId: batch.output_file_id } : {}),
    ...(batch.error_file_id ? { errorFileId: batch.error_file_id } : {}),
    errors: (batch.errors?.data ?? []).map((e) => `${e.code ?? 'error'}${e.line != null ? ` (line ${e.line})` : ''}: ${e.message ?? ''}`),
  };
}

const sizeOf = (request: GenerateRequest) =>
  request.params.size === AUTO_FROM_TARGETS ? chooseSizeForAspect(request.params.model, request.width / request.height) : request.params.size;

/** Error-file codes of requests the batch never ran because the whole batch ended. */
const BATCH_ENDED = new Set(['batch_expired', 'batch_cancelled']);

/** One output or error file line as the direct path would have seen it. */
function lineResult(line: Record<string, unknown>, key: string, batch: RemoteBatch): BatchLineResult {
  const response = line['response'] as { status_code?: number; request_id?: string; body?: Record<string, unknown> } | null | undefined;
  if (response && response.status_code === 200 && response.body) return { ok: true, body: response.body };
  if (response && typeof response.status_code === 'number') {
    const headers = new Headers(response.request_id ? { 'x-request-id': response.request_id } : {});
    const err = APIError.generate(response.status_code, response.body as object | undefined, undefined, headers);
    return { ok: false, error: providerErrorFrom(err, [key], 0) };
  }
  const error = (line['error'] ?? {}) as { code?: string; message?: string };
  // Not this request's fault: the batch expired (or was cancelled) before running it.
  if (error.code && BATCH_ENDED.has(error.code)) return { ok: false, error: unansweredError(batch) };
  return {
    ok: false,
    error: new ProviderError('E_BATCH_REQUEST_FAILED', `the batch did not run this request (${error.code ?? 'no answer'}): ${error.message ?? 'no message'}`, {
      hint: 'build again: only the images without a result are sent again',
    }),
  };
}

async function readJsonl(client: OpenAI, fileId: string): Promise<Record<string, unknown>[]> {
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export const openAiBatch: BatchBackend = {
  provider: 'openai',
  discount: OPENAI_BATCH_DISCOUNT,

  connection(params: GenerateParams): BatchConnection {
    const o = params.options;
    return {
      ...(typeof o['baseURL'] === 'string' ? { baseURL: o['baseURL'] } : {}),
      ...(typeof o['apiKeyEnv'] === 'string' ? { apiKeyEnv: o['apiKeyEnv'] } : {}),
    };
  },

  endpointFor: (request) => (referenceImages(request).length > 0 ? '/v1/images/edits' : '/v1/images/generations'),

  requestLine(customId, request, referenceFileIds) {
    const edit = referenceFileIds.length > 0;
    const body = endpointBody(request.params, sizeOf(request), edit, request.prompt);
    if (edit) body['images'] = referenceFileIds.map((file_id) => ({ file_id }));
    return { custom_id: customId, method: 'POST', url: edit ? '/v1/images/edits' : '/v1/images/generations', body };
  },

  async uploadReference(conn, image, name) {
    const file = await call(conn, async (c) => c.files.create({ file: await toFile(image, name, { type: 'image/png' }), purpose: 'vision' }));
    return file.id;
  },

  async uploadInput(conn, lines) {
    const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    const file = await call(conn, async (c) => c.files.create({ file: await toFile(Buffer.from(text), 'gpt4k-batch.jsonl', { type: 'application/jsonl' }), purpose: 'batch' }));
    return file.id;
  },

  async findOrCreate(conn, endpoint, input, localId) {
    if (!('fileId' in input)) throw new GptError('E_BATCH_FAILED', 'the OpenAI batch API reads an uploaded input file; none was given');
    const inputFileId = input.fileId;
    return call(conn, async (c) => {
      let page = await c.batches.list({ limit: 100 });
      for (let i = 0; i < LOOKUP_PAGES; i++) {
        const found = page.data.find((b) => b.input_file_id === inputFileId || b.metadata?.['gpt4k'] === localId);
        if (found) return remoteOf(found);
        if (!page.hasNextPage()) break;
        page = await page.getNextPage();
      }
      const created = await c.batches.create({
        input_file_id: inputFileId,
        endpoint: endpoint as OpenAI.BatchCreateParams['endpoint'],
        completion_window: '24h',
        metadata: { gpt4k: localId },
      });
      return remoteOf(created);
    });
  },

  retrieve: (conn, batchId) => call(conn, async (c) => remoteOf(await c.batches.retrieve(batchId))),

  cancel: (conn, batchId) => call(conn, async (c) => remoteOf(await c.batches.cancel(batchId))),

  async results(conn, batch) {
    const { key } = clientFor(conn);
    return call(conn, async (c) => {
      const results = new Map<string, BatchLineResult>();
      for (const fileId of [batch.outputFileId, batch.errorFileId]) {
        if (!fileId) continue;
        for (const line of await readJsonl(c, fileId)) {
          if (typeof line['custom_id'] === 'string') results.set(line['custom_id'], lineResult(line, key, batch));
        }
      }
      return results;
    });
  },

  async toResult(body, params, request, pricing): Promise<GenerateResult> {
    const data = (body['data'] as Array<{ b64_json?: string; revised_prompt?: string }> | undefined)?.[0];
    const image = await checkImage(data?.b64_json);
    const usage = body['usage'] as ImageUsage | undefined;
    const size = typeof body['size'] === 'string' ? body['size'] : params.size;
    return {
      image: image.bytes,
      ...(typeof data?.revised_prompt === 'string' ? { revisedPrompt: data.revised_prompt } : {}),
      ...(usage ? { usage: usage as unknown as Record<string, unknown> } : {}),
      costUsd: openAiActualCost(params, usage, pricing, params.size === AUTO_FROM_TARGETS ? size : params.size) * OPENAI_BATCH_DISCOUNT,
      requests: 1,
      retries: 0,
      meta: {
        provider: 'openai',
        endpoint: request.endpoint.replace('/v1/', ''),
        batch: request.batchId,
        ...(request.reference ? { referenceAsset: request.reference } : {}),
        output: { format: image.format, width: image.width, height: image.height },
      },
    };
  },
};
