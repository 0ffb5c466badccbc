/**
 * A stand-in for ComfyUI's HTTP API: a real HTTP server on 127.0.0.1.
 *
 * - `POST /upload/image` (multipart: image, type, overwrite, subfolder) -> `{name, subfolder, type}`
 * - `POST /prompt {prompt, client_id}` -> `{prompt_id, number, node_errors: {}}`, or 400 with
 *   `{error: {type, message, details, extra_info}, node_errors: {id: {errors, dependent_outputs, class_type}}}`.
 *   Like the real server it validates the graph: an input that should be an INT/FLOAT but is a
 *   string (an unfilled "{{seed}}") and a LoadImage naming an image never uploaded are node errors.
 * - `GET /history/{id}` -> `{}` while the job runs, then `{id: {prompt, outputs, status: {status_str,
 *   completed, messages}}}` with execution_start / execution_success (or execution_error) timestamps.
 * - `GET /view?filename=&subfolder=&type=` -> the PNG.
 *
 * The job's image is a solid PNG of the `width` x `height` found in the graph (EmptyLatentImage),
 * colored from the CLIPTextEncode text and the seed. Scriptable per queued prompt: `ok` (with
 * `runMs`: how long the job takes, so the client must poll), `node_errors` (400, for a node id and
 * class_type), `execution_error` (the job fails at a node), `status` (any status for POST /prompt).
 */

import type http from 'node:http';
import { listen, parseMultipart, readBody, Script, sendJson, solidPng } from './fake-server-kit.js';

export type ComfyBehaviour =
  | { kind: 'ok'; runMs?: number; gpuMs?: number }
  | { kind: 'node_errors'; nodeId?: string; classType?: string; message?: string; details?: string; inputName?: string }
  | { kind: 'execution_error'; nodeId?: string; classType?: string; exceptionType?: string; exceptionMessage?: string; runMs?: number }
  | { kind: 'status'; status: number; body?: unknown };

export interface ComfyRequest {
  index: number;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
  files: Array<{ field: string; filename: string; contentType: string; bytes: Buffer }>;
  fields: Record<string, string>;
  status?: number;
}

interface Job {
  id: string;
  prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  doneAt: number;
  behaviour: ComfyBehaviour;
  startedAt: number;
}

export interface FakeComfyUI {
  url: string;
  requests: ComfyRequest[];
  /** Uploaded images by name. */
  uploads: Map<string, Buffer>;
  /** Requests to one path prefix: '/prompt', '/history', '/view', '/upload/image'. */
  requestsTo(prefix: string): ComfyRequest[];
  script(...items: Array<ComfyBehaviour | ComfyBehaviour['kind'] | ((index: number) => ComfyBehaviour | undefined)>): void;
  reset(): void;
  close(): Promise<void>;
}

const INT_INPUTS = new Set(['seed', 'steps', 'width', 'height', 'batch_size']);
const FLOAT_INPUTS = new Set(['cfg', 'denoise']);

export async function startFakeComfyUI(): Promise<FakeComfyUI> {
  const requests: ComfyRequest[] = [];
  const uploads = new Map<string, Buffer>();
  const jobs = new Map<string, Job>();
  const outputs = new Map<string, Buffer>();
  const script = new Script<ComfyBehaviour>({ kind: 'ok' });
  let queued = 0;

  const server = await listen(async (req, res) => {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: ComfyRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: undefined,
      files: [],
      fields: {},
    };
    requests.push(record);
    const answer = (status: number, body: unknown): void => {
      record.status = status;
      sendJson(res, status, body);
    };

    if (record.method === 'POST' && url.pathname === '/upload/image') {
      const form = await parseMultipart(raw, String(req.headers['content-type'] ?? ''));
      record.files = form.files;
      record.fields = form.fields;
      const file = form.files.find((f) => f.field === 'image');
      if (!file) {
        record.status = 400;
        res.writeHead(400).end();
        return;
      }
      const subfolder = form.fields['subfolder'] ?? '';
      uploads.set(subfolder ? `${subfolder}/${file.filename}` : file.filename, file.bytes);
      answer(200, { name: file.filename, subfolder, type: form.fields['type'] ?? 'input' });
      return;
    }

    if (record.method === 'POST' && url.pathname === '/prompt') {
      record.body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      const behaviour = script.next(queued++);
      if (behaviour.kind === 'status') {
        answer(behaviour.status, behaviour.body ?? { error: `HTTP ${behaviour.status}` });
        return;
      }
      const prompt = (record.body['prompt'] ?? {}) as Job['prompt'];
      const problem = behaviour.kind === 'node_errors' ? scriptedNodeError(behaviour, prompt) : validate(prompt, uploads);
      if (problem) {
        answer(400, {
          error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} },
          node_errors: problem,
        });
        return;
      }
      const id = `00000000-0000-4000-8000-${String(queued).padStart(12, '0')}`;
      const runMs = 'runMs' in behaviour && behaviour.runMs !== undefined ? behaviour.runMs : 0;
      jobs.set(id, { id, prompt, behaviour, startedAt: Date.now(), doneAt: Date.now() + runMs });
      answer(200, { prompt_id: id, number: queued, node_errors: {} });
      return;
    }

    if (record.method === 'GET' && url.pathname.startsWith('/history/')) {
      const id = decodeURIComponent(url.pathname.slice('/history/'.length));
      const job = jobs.get(id);
      if (!job || Date.now() < job.doneAt) {
        answer(200, {});
        return;
      }
      answer(200, { [id]: await historyEntry(job, outputs) });
      return;
    }

    if (record.method === 'GET' && url.pathname === '/view') {
      const name = url.searchParams.get('filename') ?? '';
      const bytes = outputs.get(`${url.searchParams.get('type')}/${url.searchParams.get('subfolder') ?? ''}/${name}`);
      if (!bytes) {
        record.status = 404;
        res.writeHead(404).end();
        return;
      }
      record.status = 200;
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(bytes);
      return;
    }
    answer(404, { error: 'Not Found' });
  });

  return {
    url: server.url,
    requests,
    uploads,
    requestsTo: (prefix) => requests.filter((r) => r.path.startsWith(prefix)),
    script(...items) {
      script.push(...items.map((i) => (typeof i === 'string' ? ({ kind: i } as ComfyBehaviour) : i)));
    },
    reset() {
      script.reset();
      requests.length = 0;
      uploads.clear();
      jobs.clear();
      outputs.clear();
      queued = 0;
    },
    close: () => server.close(),
  };
}

type NodeErrors = Record<string, { errors: unknown[]; dependent_outputs: string[]; class_type: string }>;

function nodeError(classType: string, type: string, message: string, details: string, inputName: string): NodeErrors[string] {
  return {
    errors: [{ type, message, details, extra_info: { input_name: inputName } }],
    dependent_outputs: ['9'],
    class_type: classType,
  };
}

function scriptedNodeError(b: Extract<ComfyBehaviour, { kind: 'node_errors' }>, prompt: Job['prompt']): NodeErrors {
  const id = b.nodeId ?? '4';
  const classType = b.classType ?? prompt[id]?.class_type ?? 'CheckpointLoaderSimple';
  return {
    [id]: nodeError(
      classType,
      'value_not_in_list',
      b.message ?? 'Value not in list',
      b.details ?? "ckpt_name: 'sd_xl_base_1.0.safetensors' not in ['v1-5-pruned-emaonly.safetensors']",
      b.inputName ?? 'ckpt_name',
    ),
  };
}

/** What ComfyUI's validate_inputs would refuse. */
function validate(prompt: Job['prompt'], uploads: Map<string, Buffer>): NodeErrors | undefined {
  const errors: NodeErrors = {};
  for (const [id, node] of Object.entries(prompt)) {
    for (const [name, value] of Object.entries(node.inputs ?? {})) {
      if ((INT_INPUTS.has(name) || FLOAT_INPUTS.has(name)) && typeof value === 'string') {
        const kind = INT_INPUTS.has(name) ? 'INT' : 'FLOAT';
        errors[id] = nodeError(
          node.class_type,
          'invalid_input_type',
          `Failed to convert an input value to a ${kind} value`,
          `${name}, ${value}, invalid literal for ${kind === 'INT' ? 'int() with base 10' : 'float()'}: '${value}'`,
          name,
        );
      }
    }
    if (node.class_type === 'LoadImage' && !uploads.has(String(node.inputs['image']))) {
      errors[id] = nodeError('LoadImage', 'custom_validation_failed', 'Custom validation failed for node', `image - Invalid image file: ${String(node.inputs['image'])}`, 'image');
    }
  }
  return Object.keys(errors).length > 0 ? errors : undefined;
}

async function historyEntry(job: Job, outputs: Map<string, Buffer>): Promise<Record<string, unknown>> {
  const b = job.behaviour;
  const started = job.startedAt;
  if (b.kind === 'execution_error') {
    const nodeId = b.nodeId ?? '3';
    return {
      prompt: [1, job.id, job.prompt, {}, ['9']],
      outputs: {},
      status: {
        status_str: 'error',
        completed: false,
        messages: [
          ['execution_start', { prompt_id: job.id, timestamp: started }],
          ['execution_cached', { nodes: [], prompt_id: job.id, timestamp: started }],
          [
            'execution_error',
            {
              prompt_id: job.id,
              node_id: nodeId,
              node_type: b.classType ?? job.prompt[nodeId]?.class_type ?? 'KSampler',
              executed: [],
              exception_message: b.exceptionMessage ?? 'Expected query, key, and value to have the same dtype',
              exception_type: b.exceptionType ?? 'RuntimeError',
              traceback: ['Traceback (most recent call last):', '...'],
              current_inputs: {},
              current_outputs: {},
              timestamp: started + 10,
            },
          ],
        ],
      },
      meta: {},
    };
  }
  let width = 512;
  let height = 512;
  let text = '';
  let seed: unknown = 0;
  for (const node of Object.values(job.prompt)) {
    if (node.class_type === 'EmptyLatentImage') {
      width = Number(node.inputs['width']);
      height = Number(node.inputs['height']);
    }
    if (node.class_type === 'CLIPTextEncode' && text === '') text = String(node.inputs['text']);
    if (node.inputs['seed'] !== undefined) seed = node.inputs['seed'];
  }
  const saveId = Object.entries(job.prompt).find(([, n]) => n.class_type === 'SaveImage')?.[0] ?? '9';
  const filename = `ComfyUI_${job.id.slice(-5)}_.png`;
  outputs.set(`output//${filename}`, await solidPng(width, height, `${text}|${String(seed)}`));
  const gpuMs = b.kind === 'ok' && b.gpuMs !== undefined ? b.gpuMs : 1500;
  return {
    prompt: [1, job.id, job.prompt, { client_id: 'x' }, [saveId]],
    outputs: { [saveId]: { images: [{ filename, subfolder: '', type: 'output' }] } },
    status: {
      status_str: 'success',
      completed: true,
      messages: [
        ['execution_start', { prompt_id: job.id, timestamp: started }],
        ['execution_cached', { nodes: [], prompt_id: job.id, timestamp: started }],
        ['execution_success', { prompt_id: job.id, timestamp: started + gpuMs }],
      ],
    },
    meta: { [saveId]: { node_id: saveId, display_node: saveId, parent_node: null, real_node_id: saveId } },
  };
}

/** A small txt2img workflow in API format, with every placeholder. */
export function txt2imgWorkflow(): Record<string, unknown> {
  return {
    '3': {
      class_type: 'KSampler',
      inputs: {
        seed: '{{seed}}',
        steps: '{{steps}}',
        cfg: '{{cfg_scale}}',
        sampler_name: 'dpmpp_2m',
        scheduler: 'karras',
        denoise: 1,
        model: ['4', 0],
        positive: ['6', 0],
        negative: ['7', 0],
        latent_image: ['5', 0],
      },
      _meta: { title: 'KSampler' },
    },
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
    '5': { class_type: 'EmptyLatentImage', inputs: { width: '{{width}}', height: '{{height}}', batch_size: 1 } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: '{{prompt}}', clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry, {{negative_prompt}}', clip: ['4', 1] } },
    '8': { class_type: 'VAEDecode', inputs: { samples: ['3', 0], vae: ['4', 2] } },
    '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
  };
}

/** The same with a LoadImage of the reference feeding the latent (img2img). */
export function img2imgWorkflow(): Record<string, unknown> {
  const workflow = txt2imgWorkflow() as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  workflow['10'] = { class_type: 'LoadImage', inputs: { image: '{{reference_image}}' } };
  workflow['11'] = { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } };
  (workflow['3'] as { inputs: Record<string, unknown> }).inputs['latent_image'] = ['11', 0];
  (workflow['3'] as { inputs: Record<string, unknown> }).inputs['denoise'] = '{{denoising_strength}}';
  return workflow;
}

