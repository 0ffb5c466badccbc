/**
 * Gemini batch mode for images: `batches.create({ model, src: InlinedRequest[] })` (REST:
 * `POST models/{model}:batchGenerateContent`), run within 24 hours at half price. Each inlined
 * request is the direct path's generateContent request (gemini-request.ts), tagged with its
 * custom_id in `metadata`; the finished batch answers with `dest.inlinedResponses`, one
 * GenerateContentResponse (or a per-request error) per request, in order.
 *
 * A response is read exactly as the direct path reads one (`imageOf`): a safety block is
 * E_SAFETY_BLOCKED, a per-request error goes through the same mapping as a direct HTTP error.
 *
 * `batches.create` is never retried blindly: `findOrCreate` first lists the batches for one
 * whose display name is gpt4k's local id (an earlier build died while creating it).
 */

import { ApiError, JobState, type BatchJob, type GenerateContentResponse, type GoogleGenAI, type InlinedRequest } from '@google/genai';
import type { GenerateParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import { readApiKey } from './api-key.js';
import { INPUT_LOST, type BatchBackend, type BatchConnection, type BatchLineResult, type RemoteBatch } from './batch-types.js';
import { GEMINI_API_KEY, geminiErrorFrom, imageOf } from './gemini.js';
import { geminiImageConfig } from './gemini-models.js';
import { geminiActualCost, type GeminiUsage } from './gemini-pricing.js';
import { geminiClient, geminiContentRequest } from './gemini-request.js';
import { ProviderError } from './retry.js';
import type { GenerateResult } from './types.js';

/** Gemini batch mode bills at 50% of the interactive price (ai.google.dev/gemini-api/docs/batch-mode). */
export const GEMINI_BATCH_DISCOUNT = 0.5;

/** How many of the newest batches `findOrCreate` looks through for one a killed build created. */
const LOOKUP_LIMIT = 500;
const CONTROL_TIMEOUT_MS = 120_000;

function clientFor(conn: BatchConnection): { client: GoogleGenAI; key: string } {
  const key = readApiKey(conn.apiKeyEnv ? { apiKeyEnv: conn.apiKeyEnv } : {}, GEMINI_API_KEY);
  return { client: geminiClient(key, { baseUrl: conn.baseURL, timeoutMs: CONTROL_TIMEOUT_MS }), key };
}

/** Runs one control request; whatever the SDK throws becomes a key-free GptError. */
async function call<T>(conn: BatchConnection, run: (client: GoogleGenAI) => Promise<T>): Promise<T> {
  const { client, key } = clientFor(conn);
  try {
    return await run(client);
  } catch (err) {
    const error = geminiErrorFrom(err, [key], CONTROL_TIMEOUT_MS, new AbortController().signal);
    throw new ProviderError(error.code, error.message.replace('the Gemini API', 'the Gemini batch API'), {
      ...(error.hint ? { hint: error.hint } : {}),
      retryable: error.retryable,
      haltsProvider: error.haltsProvider,
      ...(error instanceof ProviderError && error.status !== undefined ? { status: error.status } : {}),
    });
  }
}

/** Gemini job states in the scheduler's words (batch-types.ts FINAL_BATCH_STATUSES). */
const STATUS: Record<string, string> = {
  [JobState.JOB_STATE_UNSPECIFIED]: 'pending',
  [JobState.JOB_STATE_QUEUED]: 'pending',
  [JobState.JOB_STATE_PENDING]: 'pending',
  [JobState.JOB_STATE_RUNNING]: 'in_progress',
  [JobState.JOB_STATE_UPDATING]: 'in_progress',
  [JobState.JOB_STATE_PAUSED]: 'in_progress',
  [JobState.JOB_STATE_SUCCEEDED]: 'completed',
  [JobState.JOB_STATE_PARTIALLY_SUCCEEDED]: 'completed',
  [JobState.JOB_STATE_FAILED]: 'failed',
  [JobState.JOB_STATE_CANCELLING]: 'cancelling',
  [JobState.JOB_STATE_CANCELLED]: 'cancelled',
  [JobState.JOB_STATE_EXPIRED]: 'expired',
};

const answered = (r: { response?: GenerateContentResponse; error?: unknown }) =>
  !r.error && (r.response?.candidates?.[0]?.content?.parts ?? []).some((p) => p.inlineData?.data);

function remoteOf(job: BatchJob): RemoteBatch {
  const responses = job.dest?.inlinedResponses ?? [];
  const completed = responses.filter(answered).length;
  return {
    id: job.name ?? '',
    status: STATUS[job.state ?? ''] ?? String(job.state ?? 'pending').toLowerCase(),
    // Gemini reports no counts while a batch runs (the SDK leaves batchStats out): known when it ends.
    counts: { total: responses.length, completed, failed: responses.length - completed },
    ...(job.createTime ? { createdAt: Math.floor(Date.parse(job.createTime) / 1000) } : {}),
    errors: job.error ? [`${job.error.code ?? 'error'}: ${job.error.message ?? ''}`] : [],
  };
}

/** google.rpc.Code -> the HTTP status the direct call would have got. */
const HTTP_OF_RPC: Record<number, [number, string]> = {
  1: [499, 'CANCELLED'], 3: [400, 'INVALID_ARGUMENT'], 4: [504, 'DEADLINE_EXCEEDED'], 5: [404, 'NOT_FOUND'],
  7: [403, 'PERMISSION_DENIED'], 8: [429, 'RESOURCE_EXHAUSTED'], 9: [400, 'FAILED_PRECONDITION'], 13: [500, 'INTERNAL'],
  14: [503, 'UNAVAILABLE'], 16: [401, 'UNAUTHENTICATED'],
};

/** A per-request error as the direct path's GptError for the same refusal. */
function requestError(error: { code?: number; message?: string }, key: string): GptError {
  const [status, name] = HTTP_OF_RPC[error.code ?? 13] ?? [500, 'UNKNOWN'];
  const body = { error: { code: status, message: error.message ?? `error ${error.code ?? ''}`, status: name } };
  return geminiErrorFrom(new ApiError({ message: JSON.stringify(body), status }), [key], 0, new AbortController().signal);
}

const modelOf = (endpoint: string) => /^models\/([^:]+):batchGenerateContent$/.exec(endpoint)?.[1] ?? endpoint;

function pixelsOf(params: GenerateParams, fallback: { width: number; height: number }): { width: number; height: number } {
  const m = /^(\d+)x(\d+)$/.exec(params.size);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : fallback;
}

export const geminiBatch: BatchBackend = {
  provider: 'gemini',
  discount: GEMINI_BATCH_DISCOUNT,

  connection(params: GenerateParams): BatchConnection {
    const o = params.options;
    return {
      ...(typeof o['baseUrl'] === 'string' ? { baseURL: o['baseUrl'] } : {}),
      ...(typeof o['apiKeyEnv'] === 'string' ? { apiKeyEnv: o['apiKeyEnv'] } : {}),
    };
  },

  // A Gemini batch runs one model: requests for different models go in different batches.
  endpointFor: (request) => `models/${request.params.model}:batchGenerateContent`,

  requestLine(customId, request) {
    const { contents, config } = geminiContentRequest(request);
    const line: InlinedRequest = { contents, config, metadata: { gpt4k: customId } };
    return line as Record<string, unknown>;
  },

  async findOrCreate(conn, endpoint, input, localId) {
    if (!('lines' in input)) throw new GptError('E_BATCH_FAILED', 'the Gemini batch API takes the requests inline; none were given');
    return call(conn, async (c) => {
      let seen = 0;
      for await (const job of await c.batches.list({ config: { pageSize: 100 } })) {
        if (job.displayName === localId) return remoteOf(job);
        if (++seen >= LOOKUP_LIMIT) break;
      }
      if (!input.lines) {
        throw new GptError(INPUT_LOST, `batch ${localId} was never created, and its requests are no longer in .gpt4k/batch-inputs`, {
          hint: 'build again: these images are submitted in a new batch',
        });
      }
      const src = input.lines as InlinedRequest[];
      return remoteOf(await c.batches.create({ model: modelOf(endpoint), src, config: { displayName: localId } }));
    });
  },

  retrieve: (conn, batchId) => call(conn, async (c) => remoteOf(await c.batches.get({ name: batchId }))),

  cancel: (conn, batchId) =>
    call(conn, async (c) => {
      await c.batches.cancel({ name: batchId });
      return remoteOf(await c.batches.get({ name: batchId }));
    }),

  async results(conn, batch, customIds) {
    const { key } = clientFor(conn);
    const job = await call(conn, (c) => c.batches.get({ name: batch.id }));
    const results = new Map<string, BatchLineResult>();
    (job.dest?.inlinedResponses ?? []).forEach((answer, i) => {
      // Named by the metadata sent with it; Google also keeps the order of the requests.
      const customId = answer.metadata?.['gpt4k'] ?? customIds[i];
      if (customId === undefined) return;
      if (answer.error) results.set(customId, { ok: false, error: requestError(answer.error, key) });
      else if (answer.response) results.set(customId, { ok: true, body: answer.response as unknown as Record<string, unknown> });
    });
    return results;
  },

  async toResult(body, params, request, pricing): Promise<GenerateResult> {
    const response = body as unknown as GenerateContentResponse;
    const image = await imageOf(response);
    const { width, height } = pixelsOf(params, image);
    const usage = response.usageMetadata as GeminiUsage | undefined;
    return {
      image: image.bytes,
      ...(usage ? { usage: usage as Record<string, unknown> } : {}),
      costUsd: geminiActualCost(params, usage, pricing, width, height) * GEMINI_BATCH_DISCOUNT,
      requests: 1,
      retries: 0,
      meta: {
        provider: 'gemini',
        endpoint: 'batches.create',
        batch: request.batchId,
        model: params.model,
        ...(response.modelVersion ? { modelVersion: response.modelVersion } : {}),
        imageConfig: geminiImageConfig(params, width, height),
        ...(params.seed !== undefined ? { seed: params.seed } : {}),
        ...(request.reference ? { referenceAsset: request.reference } : {}),
        output: { format: image.format, width: image.width, height: image.height },
      },
    };
  },
};
