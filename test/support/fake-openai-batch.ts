/**
 * A stand-in for the OpenAI Files and Batches APIs (images endpoints): a real HTTP server on
 * 127.0.0.1 (random port) that the real SDK talks to through `OPENAI_BASE_URL`.
 *
 * - `POST /v1/files` (multipart: `file`, `purpose`), `GET /v1/files/:id/content`.
 * - `POST /v1/batches` (checks the input file exists, has purpose `batch`, and that every
 *   line's url is the batch's endpoint), `GET /v1/batches` (a cursor page, newest first),
 *   `GET /v1/batches/:id`, `POST /v1/batches/:id/cancel`.
 * - A batch moves one state per retrieve: validating -> in_progress -> finalizing ->
 *   completed (unless `hold` is set: it then stays in_progress). On completing, every line
 *   is answered as the images API would (fake-openai.ts's `imagesResponse`: a real image of
 *   the requested size) in the output file, or, for a prompt `moderate` matches or an edit
 *   whose `images[0].file_id` is not an uploaded image, with the direct API's 400 error in
 *   the error file.
 * - `expireAfter = N`: an in_progress batch expires instead (its 24 h window ran out), as the
 *   real API does: the first N lines answered in the output file, the others in the error
 *   file with no response and `error.code` `batch_expired`.
 * - `/v1/images/*` is answered 404 and recorded: a batched build must send none.
 *
 *     const api = await startFakeOpenAIBatch({ apiKey: KEY, moderate: /forbidden/ });
 *     api.hold = true;  ...  api.hold = false;
 *     expect(api.batches).toHaveLength(1);
 *     expect(api.imageRequests).toHaveLength(0);
 */

import type http from 'node:http';
import { imagesResponse, type RecordedRequest } from './fake-openai.js';
import { listen, readBody, sendJson } from './fake-server-kit.js';

export interface FakeFile {
  id: string;
  purpose: string;
  filename: string;
  bytes: Buffer;
}

export interface FakeBatch {
  id: string;
  status: string;
  endpoint: string;
  input_file_id: string;
  output_file_id?: string;
  error_file_id?: string;
  created_at: number;
  metadata: Record<string, string> | null;
  request_counts: { total: number; completed: number; failed: number };
}

export interface FakeOpenAIBatchOptions {
  apiKey?: string;
  /** Prompts matching this are refused by moderation (400 moderation_blocked, in the error file). */
  moderate?: RegExp;
}

export interface FakeOpenAIBatch {
  url: string;
  files: FakeFile[];
  batches: FakeBatch[];
  /** Every request, in arrival order: method and path. */
  requests: Array<{ method: string; path: string }>;
  /** Requests to /v1/images/* (direct generations or edits). */
  imageRequests: Array<{ method: string; path: string }>;
  /** While true, batches stop at in_progress. */
  hold: boolean;
  /** When set, an in_progress batch expires with only its first N lines answered. */
  expireAfter: number | undefined;
  /** The input lines of a batch. */
  linesOf(batch: FakeBatch): Array<Record<string, unknown>>;
  reset(): void;
  close(): Promise<void>;
}

const ORDER = ['validating', 'in_progress', 'finalizing', 'completed'];

export async function startFakeOpenAIBatch(options: FakeOpenAIBatchOptions = {}): Promise<FakeOpenAIBatch> {
  const files: FakeFile[] = [];
  const batches: FakeBatch[] = [];
  const requests: FakeOpenAIBatch['requests'] = [];
  const imageRequests: FakeOpenAIBatch['imageRequests'] = [];
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}${(++counter).toString(36).padStart(6, '0')}`;
  const fileById = (id: string) => files.find((f) => f.id === id);
  const linesOf = (batch: FakeBatch) =>
    (fileById(batch.input_file_id)?.bytes.toString('utf8') ?? '')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  const api: FakeOpenAIBatch = {
    url: '',
    files,
    batches,
    requests,
    imageRequests,
    hold: false,
    expireAfter: undefined,
    linesOf,
    reset() {
      requests.length = 0;
      imageRequests.length = 0;
      batches.length = 0;
      api.hold = false;
      api.expireAfter = undefined;
    },
    close: async () => undefined,
  };

  /** Answers the first `answered` lines of a batch (the rest expired) and writes the output and error files. */
  async function complete(batch: FakeBatch, answered = Infinity): Promise<void> {
    const out: string[] = [];
    const errors: string[] = [];
    for (const [i, line] of linesOf(batch).entries()) {
      const body = (line['body'] ?? {}) as Record<string, unknown>;
      const requestId = `req_batch_${batch.id}_${i}`;
      if (i >= answered) {
        const expired = { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' };
        errors.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: line['custom_id'], response: null, error: expired }));
        continue;
      }
      const refusal = refusalOf(body, batch.endpoint);
      if (refusal) {
        errors.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: line['custom_id'], response: { status_code: 400, request_id: requestId, body: { error: refusal } }, error: null }));
        continue;
      }
      const record = { body, files: [] } as unknown as RecordedRequest;
      const answer = await imagesResponse(record, { kind: 'ok' });
      out.push(JSON.stringify({ id: `batch_req_${i}`, custom_id: line['custom_id'], response: { status_code: 200, request_id: requestId, body: answer }, error: null }));
    }
    const save = (lines: string[], name: string) => {
      const file: FakeFile = { id: nextId('file-'), purpose: 'batch_output', filename: name, bytes: Buffer.from(lines.map((l) => `${l}\n`).join('')) };
      files.push(file);
      return file.id;
    };
    if (out.length > 0) batch.output_file_id = save(out, `${batch.id}_output.jsonl`);
    if (errors.length > 0) batch.error_file_id = save(errors, `${batch.id}_error.jsonl`);
    batch.request_counts = { total: out.length + errors.length, completed: out.length, failed: errors.length };
  }

  function refusalOf(body: Record<string, unknown>, endpoint: string): Record<string, unknown> | undefined {
    if (options.moderate?.test(String(body['prompt'] ?? ''))) {
      return { message: 'Your request was rejected by the safety system.', type: 'image_generation_user_error', param: null, code: 'moderation_blocked' };
    }
    if (endpoint.endsWith('/edits')) {
      const ref = (body['images'] as Array<{ file_id?: string }> | undefined)?.[0]?.file_id;
      const file = ref ? fileById(ref) : undefined;
      if (!file || file.purpose !== 'vision') return { message: "Invalid 'images[0].file_id'.", type: 'invalid_request_error', param: 'images', code: 'invalid_value' };
    }
    return undefined;
  }

  async function advance(batch: FakeBatch): Promise<void> {
    if (batch.status === 'cancelling') {
      batch.status = 'cancelled';
      return;
    }
    const at = ORDER.indexOf(batch.status);
    if (at < 0 || at === ORDER.length - 1) return;
    if (api.expireAfter !== undefined && batch.status === 'in_progress') {
      await complete(batch, api.expireAfter);
      batch.status = 'expired';
      return;
    }
    if (api.hold && batch.status === 'in_progress') return;
    const next = ORDER[at + 1] as string;
    if (next === 'completed') await complete(batch);
    batch.status = next;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push({ method, path });
    const fail = (status: number, message: string, code: string | null = null) =>
      sendJson(res, status, { error: { message, type: 'invalid_request_error', param: null, code } });
    const key = /^Bearer (.+)$/.exec(String(req.headers['authorization'] ?? ''))?.[1];
    if (!key || (options.apiKey !== undefined && key !== options.apiKey)) return fail(401, 'Incorrect API key provided.', 'invalid_api_key');
    if (path.startsWith('/v1/images/')) {
      imageRequests.push({ method, path });
      return fail(404, `direct image request ${path} in a batch test`);
    }
    if (method === 'POST' && path === '/v1/files') {
      const form = await new Response(raw, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
      const upload = form.get('file');
      if (!(upload instanceof Blob)) return fail(400, "Missing required parameter: 'file'.");
      const file: FakeFile = { id: nextId('file-'), purpose: String(form.get('purpose')), filename: (upload as File).name, bytes: Buffer.from(await upload.arrayBuffer()) };
      files.push(file);
      return sendJson(res, 200, { id: file.id, object: 'file', bytes: file.bytes.length, created_at: Math.floor(Date.now() / 1000), filename: file.filename, purpose: file.purpose, status: 'processed' });
    }
    const content = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
    if (method === 'GET' && content) {
      const file = fileById(content[1] as string);
      if (!file) return fail(404, 'No such File object');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(file.bytes);
      return;
    }
    if (method === 'POST' && path === '/v1/batches') {
      const body = JSON.parse(raw.toString('utf8')) as { input_file_id?: string; endpoint?: string; metadata?: Record<string, string> };
      const input = body.input_file_id ? fileById(body.input_file_id) : undefined;
      if (!input || input.purpose !== 'batch') return fail(400, `Invalid input_file_id '${body.input_file_id}'.`, 'invalid_value');
      const batch: FakeBatch = {
        id: nextId('batch_'), status: 'validating', endpoint: String(body.endpoint), input_file_id: input.id,
        created_at: Math.floor(Date.now() / 1000), metadata: body.metadata ?? null, request_counts: { total: 0, completed: 0, failed: 0 },
      };
      const wrong = linesOf(batch).find((l) => l['url'] !== batch.endpoint);
      if (wrong) return fail(400, `line url ${String(wrong['url'])} is not the batch endpoint ${batch.endpoint}`, 'invalid_value');
      batch.request_counts.total = linesOf(batch).length;
      batches.push(batch);
      return sendJson(res, 200, { object: 'batch', completion_window: '24h', ...batch });
    }
    if (method === 'GET' && path === '/v1/batches') {
      const data = [...batches].reverse().map((b) => ({ object: 'batch', completion_window: '24h', ...b }));
      return sendJson(res, 200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: false });
    }
    const one = /^\/v1\/batches\/([^/]+)(\/cancel)?$/.exec(path);
    const batch = one ? batches.find((b) => b.id === one[1]) : undefined;
    if (one && !batch) return fail(404, 'No such Batch object');
    if (batch && method === 'POST' && one?.[2]) {
      if (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) batch.status = 'cancelling';
      return sendJson(res, 200, { object: 'batch', completion_window: '24h', ...batch });
    }
    if (batch && method === 'GET') {
      await advance(batch);
      return sendJson(res, 200, { object: 'batch', completion_window: '24h', ...batch });
    }
    return fail(404, `Unknown request URL: ${method} ${path}.`, 'unknown_url');
  }

  const server = await listen(handle);
  api.url = `${server.url}/v1`;
  api.close = server.close;
  return api;
}
