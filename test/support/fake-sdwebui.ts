/**
 * A stand-in for the AUTOMATIC1111 / Forge API (`--api`): a real HTTP server on 127.0.0.1.
 *
 * Speaks `POST /sdapi/v1/txt2img` and `POST /sdapi/v1/img2img`, answering like the WebUI does:
 * `{ images: [b64 PNG of width x height], parameters: <the request>, info: "<JSON string>" }`, the
 * info holding the seed actually used (the requested one, or a server-picked one for -1) and the
 * checkpoint. Unknown paths answer 404 `{"detail":"Not Found"}` (what a WebUI without --api says).
 *
 * Scriptable per request: `ok`, `error` (500 `{error, detail, body, errors}` from the WebUI's
 * exception handler), `oom` (the same with a CUDA OutOfMemoryError), `validation` (422, FastAPI's
 * `{detail: [{loc, msg, type}]}`), `status` (any status), each with optional `latencyMs`.
 *
 *     const sd = await startFakeSdWebUI();
 *     sd.script({ kind: 'error' }, 'ok');
 *     ...
 *     expect(sd.requests[1]?.body?.['seed']).toBe(1234);
 */

import type http from 'node:http';
import { listen, readBody, Script, sendJson, solidPng, delay } from './fake-server-kit.js';

export type SdBehaviour =
  | { kind: 'ok'; latencyMs?: number }
  | { kind: 'error'; latencyMs?: number; error?: string; errors?: string }
  | { kind: 'oom' }
  | { kind: 'validation'; field: string; msg: string }
  | { kind: 'status'; status: number; body?: unknown };

export interface SdRequest {
  index: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
  behaviour: SdBehaviour['kind'] | 'not_found';
  status?: number;
}

export interface FakeSdWebUI {
  url: string;
  requests: SdRequest[];
  script(...items: Array<SdBehaviour | SdBehaviour['kind'] | ((index: number) => SdBehaviour | undefined)>): void;
  reset(): void;
  close(): Promise<void>;
}

/** The seed the server "picks" for seed -1. */
export const SERVER_PICKED_SEED = 3_141_592_653;

export async function startFakeSdWebUI(options: { checkpoint?: string } = {}): Promise<FakeSdWebUI> {
  const requests: SdRequest[] = [];
  const script = new Script<SdBehaviour>({ kind: 'ok' });
  const checkpoint = options.checkpoint ?? 'sd_xl_base_1.0.safetensors';

  const server = await listen(async (req, res) => {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const record: SdRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body: undefined,
      behaviour: 'not_found',
    };
    requests.push(record);
    const answer = (status: number, body: unknown): void => {
      record.status = status;
      sendJson(res, status, body);
    };
    if (record.method !== 'POST' || (path !== '/sdapi/v1/txt2img' && path !== '/sdapi/v1/img2img')) {
      answer(404, { detail: 'Not Found' });
      return;
    }
    try {
      record.body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      answer(422, { detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] });
      return;
    }
    const behaviour = script.next(record.index);
    record.behaviour = behaviour.kind;
    if ('latencyMs' in behaviour) await delay(behaviour.latencyMs ?? 0);
    switch (behaviour.kind) {
      case 'error':
        answer(500, {
          error: behaviour.error ?? 'RuntimeError',
          detail: '',
          body: '',
          errors: behaviour.errors ?? 'Expected all tensors to be on the same device, but found at least two devices',
        });
        return;
      case 'oom':
        answer(500, {
          error: 'OutOfMemoryError',
          detail: '',
          body: '',
          errors: 'CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 7.79 GiB total capacity; 5.10 GiB already allocated)',
        });
        return;
      case 'validation':
        answer(422, { detail: [{ loc: ['body', behaviour.field], msg: behaviour.msg, type: 'type_error' }] });
        return;
      case 'status':
        answer(behaviour.status, behaviour.body ?? { detail: `HTTP ${behaviour.status}` });
        return;
      case 'ok':
        break;
    }
    const body = record.body;
    const width = typeof body['width'] === 'number' ? body['width'] : 512;
    const height = typeof body['height'] === 'number' ? body['height'] : 512;
    if (path.endsWith('img2img') && !(Array.isArray(body['init_images']) && body['init_images'].length > 0)) {
      answer(500, { error: 'IndexError', detail: '', body: '', errors: 'list index out of range' });
      return;
    }
    const requested = typeof body['seed'] === 'number' ? body['seed'] : -1;
    const seed = requested === -1 ? SERVER_PICKED_SEED : requested;
    const overrides = (body['override_settings'] ?? {}) as Record<string, unknown>;
    const model = typeof overrides['sd_model_checkpoint'] === 'string' ? overrides['sd_model_checkpoint'] : checkpoint;
    const image = await solidPng(width, height, `${String(body['prompt'])}|${seed}|${model}`);
    const images = [image.toString('base64')];
    // ControlNet appends its detected map after the picture.
    if (body['alwayson_scripts']) images.push((await solidPng(width, height, 'controlnet-map')).toString('base64'));
    answer(200, {
      images,
      parameters: { ...body, init_images: undefined },
      info: JSON.stringify({
        prompt: body['prompt'],
        all_prompts: [body['prompt']],
        seed,
        all_seeds: [seed],
        width,
        height,
        sampler_name: body['sampler_name'] ?? 'DPM++ 2M',
        cfg_scale: body['cfg_scale'],
        steps: body['steps'],
        sd_model_name: model.replace(/\.safetensors$/, ''),
        sd_model_hash: '31e35c80fc',
        job_timestamp: '20260501120000',
      }),
    });
  });

  return {
    url: server.url,
    requests,
    script(...items) {
      script.push(...items.map((i) => (typeof i === 'string' ? ({ kind: i } as SdBehaviour) : i)));
    },
    reset() {
      script.reset();
      requests.length = 0;
    },
    close: () => server.close(),
  };
}
