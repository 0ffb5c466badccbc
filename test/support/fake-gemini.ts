/**
 * A stand-in for the Gemini API's `models.generateContent`: a real HTTP server on 127.0.0.1 that
 * the real `@google/genai` SDK talks to (through GOOGLE_GEMINI_BASE_URL or httpOptions.baseUrl).
 *
 * Speaks `POST /v1beta/models/{model}:generateContent` with the `x-goog-api-key` header, answering
 * `{candidates: [{content: {parts: [{inlineData: {mimeType, data}}]}, finishReason: "STOP"}],
 * usageMetadata, modelVersion, responseId}` with a real PNG sized from the request's
 * `generationConfig.imageConfig` (aspect ratio and resolution class).
 *
 * Like the real API it refuses mistakes with Google's error body (`{error: {code, message, status,
 * details}}`): a missing or wrong key (400 API_KEY_INVALID), an unknown model (404 NOT_FOUND), an
 * aspect ratio or imageSize the model lacks (400 INVALID_ARGUMENT).
 *
 * Scriptable per request: `ok`, `rate_limit` (429 RESOURCE_EXHAUSTED with RetryInfo retryDelay),
 * `daily_quota` (429 with a per-day QuotaFailure), `status` (500 INTERNAL, 503 UNAVAILABLE, ...),
 * `permission_denied` (403), `image_safety` (200, finishReason IMAGE_SAFETY, no image),
 * `prompt_blocked` (200, promptFeedback.blockReason SAFETY), `text_only` (200, STOP, text part only).
 * `options.safety`: a prompt matching it is always answered `prompt_blocked` (direct or batched).
 *
 * Batch mode, as the SDK's `batches` resource calls it (Gemini Developer API, v1beta):
 * `POST models/{model}:batchGenerateContent` ({batch: {displayName, inputConfig: {requests:
 * {requests: [{request, metadata}]}}}}) answers an Operation `{name: "batches/N", metadata:
 * {displayName, state: BATCH_STATE_PENDING, ...}}`; each `GET batches/N` moves it one state on
 * (PENDING -> RUNNING -> SUCCEEDED; `hold` keeps it RUNNING), and a succeeded batch carries
 * `metadata.output.inlinedResponses.inlinedResponses`: each request answered as generateContent
 * would have answered it, with its metadata. `GET batches` lists them (`operations`), and
 * `POST batches/N:cancel` cancels one.
 */

import type http from 'node:http';
import { delay, listen, readBody, Script, sendJson, solidPng } from './fake-server-kit.js';

export type GeminiBehaviour =
  | { kind: 'ok'; latencyMs?: number }
  | { kind: 'rate_limit'; retryDelay?: string }
  | { kind: 'daily_quota' }
  | { kind: 'status'; status: number }
  | { kind: 'permission_denied' }
  | { kind: 'image_safety' }
  | { kind: 'prompt_blocked' }
  | { kind: 'text_only' };

export interface GeminiRequest {
  index: number;
  method: string;
  path: string;
  model: string | undefined;
  headers: http.IncomingHttpHeaders;
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  body: Record<string, unknown> | undefined;
  behaviour: GeminiBehaviour['kind'] | 'rejected';
  status?: number;
}

export interface FakeGeminiBatch {
  /** `batches/N` */
  name: string;
  model: string;
  displayName: string | undefined;
  state: 'BATCH_STATE_PENDING' | 'BATCH_STATE_RUNNING' | 'BATCH_STATE_SUCCEEDED' | 'BATCH_STATE_CANCELLED';
  /** The inlined requests as they arrived: `{request: {contents, generationConfig}, metadata}`. */
  requests: Array<{ request: Record<string, unknown>; metadata?: Record<string, string> }>;
  /** Set once it has succeeded. */
  responses?: unknown[];
}

export interface FakeGemini {
  /** Base URL (no version), for GOOGLE_GEMINI_BASE_URL or options.baseUrl. */
  url: string;
  requests: GeminiRequest[];
  /** Direct `models/{model}:generateContent` requests. */
  readonly generateRequests: GeminiRequest[];
  batches: FakeGeminiBatch[];
  /** Keep every batch RUNNING until this is false again. */
  hold: boolean;
  script(...items: Array<GeminiBehaviour | GeminiBehaviour['kind'] | number | ((index: number) => GeminiBehaviour | undefined)>): void;
  reset(): void;
  close(): Promise<void>;
}

const TEN = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];
const FOURTEEN = [...TEN, '1:4', '4:1', '1:8', '8:1'];
const MODELS: Record<string, { aspects: string[]; sizes: string[] }> = {
  'gemini-2.5-flash-image': { aspects: TEN, sizes: [] },
  'gemini-3-pro-image-preview': { aspects: TEN, sizes: ['1K', '2K', '4K'] },
  'gemini-3-pro-image': { aspects: TEN, sizes: ['1K', '2K', '4K'] },
  'gemini-3.1-flash-image-preview': { aspects: FOURTEEN, sizes: ['512', '1K', '2K', '4K'] },
  'gemini-3.1-flash-image': { aspects: FOURTEEN, sizes: ['512', '1K', '2K', '4K'] },
  // Nano Banana 2 Lite: 1K only.
  'gemini-3.1-flash-lite-image': { aspects: FOURTEEN, sizes: ['1K'] },
};
const EDGE: Record<string, number> = { '512': 512, '1K': 1024, '2K': 2048, '4K': 4096 };

function googleError(code: number, status: string, message: string, details: unknown[] = []): unknown {
  return { error: { code, message, status, ...(details.length > 0 ? { details } : {}) } };
}

type Answer = { status: number; body: unknown };

const badKey = (): Answer => ({
  status: 400,
  body: googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
  ]),
});

const promptOf = (body: Record<string, unknown>) =>
  ((body['contents'] ?? []) as Array<{ parts?: Array<{ text?: string }> }>).flatMap((c) => c.parts ?? []).map((p) => p.text ?? '').join('');

export async function startFakeGemini(options: { apiKey?: string; safety?: RegExp } = {}): Promise<FakeGemini> {
  const requests: GeminiRequest[] = [];
  const batches: FakeGeminiBatch[] = [];
  const script = new Script<GeminiBehaviour>({ kind: 'ok' });
  const control = { hold: false };

  /** A batch as the API shows it: a long-running Operation around a GenerateContentBatch. */
  const operationOf = (batch: FakeGeminiBatch) => ({
    name: batch.name,
    metadata: {
      '@type': 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch',
      model: `models/${batch.model}`,
      ...(batch.displayName !== undefined ? { displayName: batch.displayName } : {}),
      state: batch.state,
      createTime: new Date().toISOString(),
      batchStats: { requestCount: String(batch.requests.length) },
      ...(batch.responses ? { output: { inlinedResponses: { inlinedResponses: batch.responses } } } : {}),
    },
    done: batch.state === 'BATCH_STATE_SUCCEEDED' || batch.state === 'BATCH_STATE_CANCELLED',
  });

  /** The batch endpoints; undefined when the path is none of them. */
  const batchAnswer = async (method: string, path: string, body: Record<string, unknown> | undefined, record: GeminiRequest): Promise<Answer | undefined> => {
    const create = /^\/v1beta\/models\/([^/:]+):batchGenerateContent$/.exec(path);
    if (create && method === 'POST') {
      record.model = create[1];
      const batch = (body?.['batch'] ?? {}) as { displayName?: string; inputConfig?: { requests?: { requests?: FakeGeminiBatch['requests'] } } };
      const created: FakeGeminiBatch = {
        name: `batches/fake${batches.length + 1}`, model: create[1] as string, displayName: batch.displayName,
        state: 'BATCH_STATE_PENDING', requests: batch.inputConfig?.requests?.requests ?? [],
      };
      if (!MODELS[created.model]) return { status: 404, body: googleError(404, 'NOT_FOUND', `models/${created.model} is not found`) };
      batches.push(created);
      return { status: 200, body: operationOf(created) };
    }
    if (path === '/v1beta/batches' && method === 'GET') return { status: 200, body: { operations: batches.map(operationOf) } };
    const one = /^\/v1beta\/(batches\/[^/:]+)(:cancel)?$/.exec(path);
    const batch = one ? batches.find((b) => b.name === one[1]) : undefined;
    if (!one) return undefined;
    if (!batch) return { status: 404, body: googleError(404, 'NOT_FOUND', `Requested entity was not found: ${one[1]}`) };
    if (one[2] && method === 'POST') {
      if (batch.state !== 'BATCH_STATE_SUCCEEDED') batch.state = 'BATCH_STATE_CANCELLED';
      return { status: 200, body: {} };
    }
    if (batch.state === 'BATCH_STATE_PENDING') batch.state = 'BATCH_STATE_RUNNING';
    else if (batch.state === 'BATCH_STATE_RUNNING' && !control.hold) {
      const responses: unknown[] = [];
      for (const [i, item] of batch.requests.entries()) {
        const answer = await generateAnswer(batch.model, item.request, () => ({ kind: 'ok' }), `${batch.name}-${i}`);
        responses.push(answer.status === 200 ? { response: answer.body, ...(item.metadata ? { metadata: item.metadata } : {}) } : { error: (answer.body as { error: unknown }).error, ...(item.metadata ? { metadata: item.metadata } : {}) });
      }
      batch.responses = responses;
      batch.state = 'BATCH_STATE_SUCCEEDED';
    }
    return { status: 200, body: operationOf(batch) };
  };

  /** What generateContent answers for this body (direct, or one request of a batch). */
  async function generateAnswer(modelId: string, body: Record<string, unknown>, pick: () => GeminiBehaviour, responseId: string | number): Promise<Answer> {
    const answer = (status: number, answerBody: unknown): Answer => ({ status, body: answerBody });
    const model = MODELS[modelId];
    if (!model) {
      return answer(404, googleError(404, 'NOT_FOUND', `models/${modelId} is not found for API version v1beta, or is not supported for generateContent.`));
    }
    const generation = (body['generationConfig'] ?? {}) as Record<string, unknown>;
    const imageConfig = (generation['imageConfig'] ?? {}) as Record<string, unknown>;
    const aspect = typeof imageConfig['aspectRatio'] === 'string' ? imageConfig['aspectRatio'] : '1:1';
    const imageSize = typeof imageConfig['imageSize'] === 'string' ? imageConfig['imageSize'] : undefined;
    if (!model.aspects.includes(aspect)) {
      return answer(400, googleError(400, 'INVALID_ARGUMENT', `Unsupported aspect ratio: ${aspect}`));
    }
    if (imageSize !== undefined && !model.sizes.includes(imageSize)) {
      return answer(400, googleError(400, 'INVALID_ARGUMENT', `Unsupported image size: ${imageSize}`));
    }

    const blocked = options.safety?.test(promptOf(body)) === true;
    const behaviour: GeminiBehaviour = blocked ? { kind: 'prompt_blocked' } : pick();
    switch (behaviour.kind) {
      case 'rate_limit':
        return answer(
          429,
          googleError(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel' }],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: behaviour.retryDelay ?? '0.02s' },
          ]),
        );
      case 'daily_quota':
        return answer(
          429,
          googleError(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota. Quota exceeded for metric: generate_content_free_tier_requests, limit: 0', [
            {
              '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
              violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier' }],
            },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '40s' },
          ]),
        );
      case 'status': {
        const status = behaviour.status;
        const name = status === 503 ? 'UNAVAILABLE' : status === 504 ? 'DEADLINE_EXCEEDED' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
        const message = status === 503 ? 'The model is overloaded. Please try again later.' : 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting';
        return answer(status, googleError(status, name, message));
      }
      case 'permission_denied':
        return answer(403, googleError(403, 'PERMISSION_DENIED', 'Generative Language API has not been used in project 1234 before or it is disabled.'));
      case 'image_safety':
        return answer(200, {
          candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'IMAGE_SAFETY', finishMessage: 'Unable to show the generated image.', index: 0 }],
          usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 },
          modelVersion: modelId,
          responseId: `fake-${responseId}`,
        });
      case 'prompt_blocked':
        return answer(200, {
          promptFeedback: { blockReason: 'SAFETY', safetyRatings: [] },
          usageMetadata: { promptTokenCount: 12, totalTokenCount: 12 },
          modelVersion: modelId,
          responseId: `fake-${responseId}`,
        });
      case 'text_only':
        return answer(200, {
          candidates: [{ content: { role: 'model', parts: [{ text: 'Here is a description of the image you asked for.' }] }, finishReason: 'STOP', index: 0 }],
          usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 11, totalTokenCount: 23 },
          modelVersion: modelId,
          responseId: `fake-${responseId}`,
        });
      case 'ok':
        await delay(behaviour.latencyMs ?? 0);
        break;
    }
    const [a, b] = aspect.split(':').map(Number) as [number, number];
    const edge = EDGE[imageSize ?? '1K'] ?? 1024;
    // A long edge of `edge` keeps the stand-in cheap; the real API makes about as many pixels as edge x edge.
    const width = a >= b ? edge : Math.max(16, Math.round((edge * a) / b));
    const height = a >= b ? Math.max(16, Math.round((edge * b) / a)) : edge;
    const contents = (body['contents'] ?? []) as Array<{ parts?: Array<{ text?: string }> }>;
    const text = contents.flatMap((c) => c.parts ?? []).map((p) => p.text ?? '').join('');
    const image = await solidPng(width, height, `${text}|${String(generation['seed'] ?? '')}`);
    const imageTokens = imageSize === '4K' ? 2000 : modelId === 'gemini-2.5-flash-image' ? 1290 : 1120;
    return answer(200, {
      candidates: [
        {
          content: { role: 'model', parts: [{ inlineData: { mimeType: 'image/png', data: image.toString('base64') } }] },
          finishReason: 'STOP',
          index: 0,
        },
      ],
      usageMetadata: {
        promptTokenCount: 10,
        candidatesTokenCount: imageTokens,
        totalTokenCount: 10 + imageTokens,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: 10 }],
        candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: imageTokens }],
      },
      modelVersion: modelId,
      responseId: `fake-${responseId}`,
    });
  }

  const server = await listen(async (req, res) => {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(path);
    const record: GeminiRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path,
      model: match?.[1],
      headers: req.headers,
      receivedAt: Date.now(),
      body: undefined,
      behaviour: 'rejected',
    };
    requests.push(record);
    const send = ({ status, body }: Answer): void => {
      record.status = status;
      sendJson(res, status, body);
    };
    record.body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
    const key = req.headers['x-goog-api-key'];
    const keyOk = !!key && (options.apiKey === undefined || key === options.apiKey);
    if (!match || record.method !== 'POST') {
      const isBatch = /^\/v1beta\/(batches\b|models\/[^/:]+:batchGenerateContent$)/.test(path);
      const batch = isBatch && keyOk ? await batchAnswer(record.method, path, record.body, record) : undefined;
      if (batch) record.behaviour = 'ok';
      send(batch ?? (isBatch && !keyOk ? badKey() : { status: 404, body: googleError(404, 'NOT_FOUND', `Requested entity was not found: ${path}`) }));
      return;
    }
    if (!keyOk) {
      send(badKey());
      return;
    }
    const pick = (): GeminiBehaviour => {
      const behaviour = script.next(record.index);
      record.behaviour = behaviour.kind;
      return behaviour;
    };
    send(await generateAnswer(match[1] as string, record.body ?? {}, pick, record.index));
  });

  return {
    url: server.url,
    requests,
    get generateRequests() {
      return requests.filter((r) => r.path.endsWith(':generateContent'));
    },
    batches,
    get hold() {
      return control.hold;
    },
    set hold(value: boolean) {
      control.hold = value;
    },
    script(...items) {
      script.push(
        ...items.map((i) =>
          typeof i === 'number' ? ({ kind: 'status', status: i } as GeminiBehaviour) : typeof i === 'string' ? ({ kind: i } as GeminiBehaviour) : i,
        ),
      );
    },
    reset() {
      script.reset();
      requests.length = 0;
      batches.length = 0;
      control.hold = false;
    },
    close: () => server.close(),
  };
}
