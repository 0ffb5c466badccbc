/**
 * A stand-in for the OpenAI images API: a real HTTP server on 127.0.0.1 (random port) that the
 * real SDK talks to through `OPENAI_BASE_URL`. Nothing in-process is mocked.
 *
 * Speaks `POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart/form-data),
 * answering `{ created, data: [{ b64_json, revised_prompt }], usage, size, quality, ... }` with a
 * real image of the requested size (a solid color derived from the prompt, so different prompts
 * give different bytes; encoded images are cached, so it stays cheap).
 *
 * Scriptable per request:
 *
 *     const api = await startFakeOpenAI({ latencyMs: 20 });
 *     process.env.OPENAI_BASE_URL = api.url;            // "http://127.0.0.1:PORT/v1"
 *     api.script('rate_limit', 503, 'ok');              // the next three requests, in order
 *     api.script({ kind: 'rate_limit', retryAfterMs: 50 });
 *     api.script((req, i) => (i % 3 === 0 ? 'rate_limit' : 'ok'));  // every request the queue does not cover
 *     ...
 *     expect(api.requests).toHaveLength(4);
 *     expect(api.requests[0]?.body?.['quality']).toBe('high');
 *     await api.close();
 *
 * Behaviours: `ok`, `rate_limit` (429 rate_limit_exceeded, optional `retry-after` /
 * `retry-after-ms`), `insufficient_quota` (429), `status` (any status, e.g. 500, 503, 408),
 * `ok` may carry `image` (the bytes to answer with),
 * `hang` (never answers; the client must time out), `moderation_blocked` (400),
 * `invalid_api_key` (401, quoting the key the way the real API does), `truncated` (200 whose
 * base64 image is cut in half), `not_json` (200 with a broken body), `reset` (the connection is
 * reset before an answer), `html` (an HTML error page instead of JSON, 502 unless `status`). A number is shorthand for
 * `status` (401 and 429 for `invalid_api_key` and `rate_limit`). Each may add `latencyMs`.
 *
 * Besides scripted behaviours the server answers like the real API would to mistakes: 401 when
 * the Authorization header is missing (or differs from `options.apiKey`), 404 `model_not_found`
 * for a shut-down model (gpt-image-1, dall-e-2, dall-e-3), 400 for `response_format`, a quality
 * the model does not take (`xhigh` and `max` only on the 2.5 and 2.6 models), a malformed size,
 * a `complexity` other than low/medium/high, or an edit with more than 16 images, so a test
 * catches anything invalid that reaches the wire. A model it does not know is served like
 * gpt-image-2.6-sunburst (a future model the API knows and gpt4k does not).
 *
 * Every request is recorded (method, path, headers, parsed JSON body or multipart fields and
 * files, the behaviour applied, the status sent) in `requests`, in arrival order.
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export type Behaviour =
  | {
      kind: 'ok';
      latencyMs?: number;
      revisedPrompt?: string | null;
      usage?: Record<string, unknown> | null;
      /** These bytes (base64-encoded as is) instead of the solid image: hostile answers, empty ones. */
      image?: Buffer;
    }
  | { kind: 'rate_limit'; latencyMs?: number; retryAfter?: string | number; retryAfterMs?: number }
  | { kind: 'insufficient_quota'; latencyMs?: number }
  | {
      kind: 'status';
      status: number;
      latencyMs?: number;
      headers?: Record<string, string>;
      body?: unknown;
      retryAfter?: string | number;
    }
  | { kind: 'hang' }
  | { kind: 'moderation_blocked'; latencyMs?: number; message?: string }
  | { kind: 'invalid_api_key'; latencyMs?: number }
  | { kind: 'truncated'; latencyMs?: number }
  | { kind: 'not_json'; latencyMs?: number }
  /** The connection is reset (TCP RST) before any answer. */
  | { kind: 'reset'; latencyMs?: number }
  /** An HTML page instead of JSON, as a proxy or captive portal sends (default status 502). */
  | { kind: 'html'; latencyMs?: number; status?: number };

export type BehaviourKind = Behaviour['kind'];
/** A behaviour, its kind alone, or an HTTP status. */
export type BehaviourSpec = Behaviour | Exclude<BehaviourKind, 'status'> | number;
/** Decides the behaviour of a request the queue does not cover (`index` counts from 0). */
export type BehaviourFn = (request: RecordedRequest, index: number) => BehaviourSpec | undefined;

export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedRequest {
  index: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Milliseconds since the epoch when the request arrived. */
  receivedAt: number;
  /** The JSON body (generations) or the multipart text fields (edits). */
  body: Record<string, unknown> | undefined;
  /** Multipart file parts (edits): `image`, `image[]`, `mask`. */
  files: RecordedFile[];
  /** The behaviour applied (kind). */
  behaviour: BehaviourKind | 'rejected';
  /** The status sent; undefined while pending or when the client went away first. */
  status: number | undefined;
  /** The client closed the connection before an answer (timeout, abort). */
  clientClosed: boolean;
}

export interface FakeOpenAIOptions {
  /** Latency of every answer unless a behaviour sets its own. Default 0. */
  latencyMs?: number;
  /** When set, any other key gets 401 invalid_api_key. */
  apiKey?: string;
  /** Behaviour when neither the queue nor a function decides. Default 'ok'. */
  default?: BehaviourSpec;
  /** A C2PA manifest store to embed in every PNG answer (a `caBX` chunk), as the real API signs its images. */
  c2pa?: Buffer;
}

export interface FakeOpenAI {
  /** Base URL including /v1, for OPENAI_BASE_URL or the `baseURL` option. */
  url: string;
  /** Every request so far, in arrival order (a live array). */
  requests: RecordedRequest[];
  /** Queue behaviours for the next requests, or set the function that decides the rest. */
  script(...items: Array<BehaviourSpec | BehaviourFn>): void;
  /** Forget the queue, the function and the recorded requests. */
  reset(): void;
  /** Requests to one endpoint: 'generations' or 'edits'. */
  requestsTo(endpoint: 'generations' | 'edits'): RecordedRequest[];
  close(): Promise<void>;
}

const SIZE_PATTERN = /^(\d{1,5})x(\d{1,5})$/;
const QUALITIES = new Set(['low', 'medium', 'high', 'auto', undefined]);
/** The 2.5 and 2.6 models (and models the stand-in does not know) also take xhigh and max. */
const QUALITIES_2_5 = new Set([...QUALITIES, 'xhigh', 'max']);
const OLD_QUALITY_MODELS = /^(gpt-image-2(-\d{4}-\d{2}-\d{2})?|gpt-image-1\.5|gpt-image-1-mini|chatgpt-image-latest)$/;
const SHUT_DOWN = new Set(['gpt-image-1', 'dall-e-2', 'dall-e-3']);
const MAX_EDIT_IMAGES = 16;
/** Output image tokens per 1024x1024 for gpt-image-1 (OpenAI's published counts). */
const OUTPUT_TOKENS: Record<string, number> = { low: 272, medium: 1056, high: 4160, xhigh: 8320, max: 12480, auto: 4160 };

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  let queue: BehaviourSpec[] = [];
  let decide: BehaviourFn | undefined;

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error', code: null } });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const contentType = String(req.headers['content-type'] ?? '');
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      receivedAt: Date.now(),
      body: undefined,
      files: [],
      behaviour: 'rejected',
      status: undefined,
      clientClosed: false,
    };
    requests.push(record);
    res.on('close', () => {
      if (!res.writableEnded) record.clientClosed = true;
    });
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      sendJson(res, status, body, { 'x-request-id': `req_fake_${record.index}`, ...headers });
    };

    if (record.method !== 'POST' || (path !== '/v1/images/generations' && path !== '/v1/images/edits')) {
      answer(404, apiError(`Unknown request URL: ${record.method} ${path}.`, 'invalid_request_error', 'unknown_url'));
      return;
    }
    try {
      if (contentType.startsWith('multipart/form-data')) {
        const parsed = await parseMultipart(raw, contentType);
        record.body = parsed.fields;
        record.files = parsed.files;
      } else {
        record.body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      }
    } catch {
      answer(400, apiError('We could not parse the JSON body of your request.', 'invalid_request_error', null));
      return;
    }

    const key = /^Bearer (.+)$/.exec(String(req.headers['authorization'] ?? ''))?.[1];
    if (!key) {
      answer(401, apiError("You didn't provide an API key.", 'invalid_request_error', null));
      return;
    }
    if (options.apiKey !== undefined && key !== options.apiKey) {
      answer(401, invalidKeyBody(key));
      return;
    }
    const model = String(record.body?.['model'] ?? '');
    if (SHUT_DOWN.has(model)) {
      answer(404, apiError(`The model \`${model}\` has been shut down and is no longer available.`, 'invalid_request_error', 'model_not_found', 'model'));
      return;
    }
    const problem = requestProblem(record);
    if (problem) {
      answer(400, apiError(problem.message, 'invalid_request_error', problem.code, problem.param));
      return;
    }

    const fromQueue = queue.shift();
    const behaviour = normalize(fromQueue ?? decide?.(record, record.index) ?? options.default ?? 'ok');
    record.behaviour = behaviour.kind;
    if (behaviour.kind === 'hang') return; // the client times out, aborts, or close() ends it
    await delay(behaviour.latencyMs ?? options.latencyMs ?? 0, res);
    if (res.destroyed || res.writableEnded) return;

    switch (behaviour.kind) {
      case 'reset':
        record.status = undefined;
        req.socket.resetAndDestroy();
        return;
      case 'html': {
        const status = behaviour.status ?? 502;
        record.status = status;
        res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>\n');
        return;
      }
      case 'ok':
      case 'truncated':
      case 'not_json': {
        const body = await imagesResponse(record, behaviour, options.c2pa);
        if (behaviour.kind === 'not_json') {
          record.status = 200;
          res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_fake_${record.index}` });
          res.end(JSON.stringify(body).slice(0, 40));
          return;
        }
        answer(200, body);
        return;
      }
      case 'rate_limit': {
        const headers: Record<string, string> = {};
        if (behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter);
        if (behaviour.retryAfterMs !== undefined) headers['retry-after-ms'] = String(behaviour.retryAfterMs);
        answer(
          429,
          apiError(
            `Rate limit reached for images per min (IPM): Limit 5, Used 5, Requested 1. Please try again later.`,
            'requests',
            'rate_limit_exceeded',
          ),
          headers,
        );
        return;
      }
      case 'insufficient_quota':
        answer(
          429,
          apiError(
            'You exceeded your current quota, please check your plan and billing details.',
            'insufficient_quota',
            'insufficient_quota',
          ),
        );
        return;
      case 'moderation_blocked':
        answer(
          400,
          apiError(
            behaviour.message ??
              'Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com and include the request ID.',
            'image_generation_user_error',
            'moderation_blocked',
          ),
        );
        return;
      case 'invalid_api_key':
        answer(401, invalidKeyBody(key));
        return;
      case 'status': {
        const headers = { ...behaviour.headers };
        if (behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter);
        answer(behaviour.status, behaviour.body ?? statusBody(behaviour.status), headers);
        return;
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script(...items) {
      for (const item of items) {
        if (typeof item === 'function') decide = item;
        else queue.push(item);
      }
    },
    reset() {
      queue = [];
      decide = undefined;
      requests.length = 0;
    },
    requestsTo(endpoint) {
      return requests.filter((r) => r.path === `/v1/images/${endpoint}`);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function normalize(spec: BehaviourSpec): Behaviour {
  if (typeof spec === 'number') {
    if (spec === 401) return { kind: 'invalid_api_key' };
    if (spec === 429) return { kind: 'rate_limit' };
    return { kind: 'status', status: spec };
  }
  if (typeof spec === 'string') return { kind: spec } as Behaviour;
  return spec;
}

/** What the real API would refuse before generating anything. */
function requestProblem(
  record: RecordedRequest,
): { message: string; code: string; param: string } | undefined {
  const body = record.body ?? {};
  if ('response_format' in body) {
    return { message: "Unknown parameter: 'response_format'.", code: 'unknown_parameter', param: 'response_format' };
  }
  if (typeof body['prompt'] !== 'string' || body['prompt'] === '') {
    return { message: "Missing required parameter: 'prompt'.", code: 'missing_required_parameter', param: 'prompt' };
  }
  const quality = body['quality'] as string | undefined;
  const qualities = OLD_QUALITY_MODELS.test(String(body['model'] ?? '')) ? QUALITIES : QUALITIES_2_5;
  if (!qualities.has(quality)) {
    return {
      message: `Invalid value: '${quality}'. Supported values are: ${[...qualities].filter(Boolean).map((q) => `'${q}'`).join(', ')}.`,
      code: 'invalid_value',
      param: 'quality',
    };
  }
  const complexity = body['complexity'];
  if (complexity !== undefined && !['low', 'medium', 'high'].includes(String(complexity))) {
    return { message: `Invalid value: '${String(complexity)}'.`, code: 'invalid_value', param: 'complexity' };
  }
  const images = record.files.filter((f) => f.field === 'image' || f.field === 'image[]');
  if (images.length > MAX_EDIT_IMAGES) {
    return { message: `Too many images: ${images.length}; at most ${MAX_EDIT_IMAGES}.`, code: 'invalid_value', param: 'image' };
  }
  const size = body['size'];
  if (size !== undefined && size !== 'auto') {
    const m = typeof size === 'string' ? SIZE_PATTERN.exec(size) : null;
    if (!m || Number(m[1]) > 3840 || Number(m[2]) > 3840) {
      return { message: `Invalid value: '${String(size)}'.`, code: 'invalid_value', param: 'size' };
    }
  }
  if (record.path.endsWith('/edits') && record.files.length === 0) {
    return { message: "Missing required parameter: 'image'.", code: 'missing_required_parameter', param: 'image' };
  }
  return undefined;
}

/** The images API's answer to one request (also the body of a batch output line: fake-openai-batch.ts). */
export async function imagesResponse(record: RecordedRequest, behaviour: Behaviour, c2pa?: Buffer): Promise<Record<string, unknown>> {
  const body = record.body ?? {};
  const prompt = String(body['prompt'] ?? '');
  const sizeText = typeof body['size'] === 'string' && body['size'] !== 'auto' ? body['size'] : '1024x1024';
  const m = SIZE_PATTERN.exec(sizeText);
  const width = Number(m?.[1] ?? 1024);
  const height = Number(m?.[2] ?? 1024);
  const format = body['output_format'] === 'jpeg' || body['output_format'] === 'webp' ? body['output_format'] : 'png';
  const quality = typeof body['quality'] === 'string' ? body['quality'] : 'auto';
  const plain = behaviour.kind === 'ok' && behaviour.image ? behaviour.image : await solidImage(width, height, format, prompt);
  const image = c2pa && format === 'png' ? withCaBX(plain, c2pa) : plain;
  let b64 = image.toString('base64');
  if (behaviour.kind === 'truncated') b64 = b64.slice(0, Math.floor(b64.length / 8) * 4);

  const textTokens = Math.ceil(prompt.length / 4);
  const imageTokens = record.files.length * 323;
  const outputTokens = Math.round(((OUTPUT_TOKENS[quality] ?? 4160) * width * height) / (1024 * 1024));
  const usage =
    behaviour.kind === 'ok' && behaviour.usage !== undefined
      ? behaviour.usage
      : {
          input_tokens: textTokens + imageTokens,
          input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
          output_tokens: outputTokens,
          total_tokens: textTokens + imageTokens + outputTokens,
        };
  const revised = behaviour.kind === 'ok' && behaviour.revisedPrompt !== undefined ? behaviour.revisedPrompt : `${prompt} (revised)`;
  const response: Record<string, unknown> = {
    created: Math.floor(Date.now() / 1000),
    background: body['background'] === 'transparent' ? 'transparent' : 'opaque',
    output_format: format,
    quality: quality === 'auto' ? 'high' : quality,
    size: `${width}x${height}`,
    data: [revised === null ? { b64_json: b64 } : { b64_json: b64, revised_prompt: revised }],
  };
  if (usage !== null) response['usage'] = usage;
  return response;
}

/** A PNG with `manifest` in a caBX chunk right after IHDR, before the image data, as C2PA places it. */
function withCaBX(png: Buffer, manifest: Buffer): Buffer {
  const chunk = Buffer.alloc(12 + manifest.length);
  chunk.writeUInt32BE(manifest.length, 0);
  chunk.write('caBX', 4, 'latin1');
  manifest.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + manifest.length)), 8 + manifest.length);
  return Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
}

const imageCache = new Map<string, Buffer>();

/** A solid image whose color comes from the prompt; cached, so big sizes are paid for once. */
async function solidImage(width: number, height: number, format: string, prompt: string): Promise<Buffer> {
  const digest = createHash('sha256').update(prompt).digest();
  const color = { r: digest[0] ?? 0, g: digest[1] ?? 0, b: digest[2] ?? 0 };
  const key = `${width}x${height}|${format}|${color.r},${color.g},${color.b}`;
  const cached = imageCache.get(key);
  if (cached) return cached;
  const base = sharp({ create: { width, height, channels: 3, background: color } });
  const bytes =
    format === 'jpeg'
      ? await base.jpeg({ quality: 80 }).toBuffer()
      : format === 'webp'
        ? await base.webp({ quality: 80 }).toBuffer()
        : await base.png({ compressionLevel: 1 }).toBuffer();
  if (imageCache.size > 64) imageCache.delete(imageCache.keys().next().value as string);
  imageCache.set(key, bytes);
  return bytes;
}

async function parseMultipart(
  raw: Buffer,
  contentType: string,
): Promise<{ fields: Record<string, unknown>; files: RecordedFile[] }> {
  const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, unknown> = {};
  const files: RecordedFile[] = [];
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') {
      fields[field] = value;
    } else {
      files.push({
        field,
        filename: value.name,
        contentType: value.type,
        bytes: Buffer.from(await value.arrayBuffer()),
      });
    }
  }
  return { fields, files };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function delay(ms: number, res: http.ServerResponse): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    }
    res.on('close', done);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function apiError(message: string, type: string, code: string | null, param: string | null = null): unknown {
  return { error: { message, type, param, code } };
}

function invalidKeyBody(key: string): unknown {
  // The real API quotes (most of) the key back; the provider must keep it out of what it throws.
  return apiError(
    `Incorrect API key provided: ${key}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    'invalid_request_error',
    'invalid_api_key',
  );
}

function statusBody(status: number): unknown {
  if (status === 503) return apiError('The engine is currently overloaded, please try again later.', 'server_error', null);
  if (status >= 500) {
    return apiError('The server had an error while processing your request. Sorry about that!', 'server_error', null);
  }
  return apiError(`HTTP ${status}`, 'invalid_request_error', null);
}
