import { createReadStream } from 'node:fs';
import type { RemoteCacheConfig } from './config.js';

/** The two areas of the Bazel HTTP cache layout: action records by key, objects by content hash. */
export type Area = 'ac' | 'cas';

/**
 * A remote cache server as the layered store sees it: entries by area and name, over HTTP.
 * Both backends (the Bazel layout on any WebDAV/HTTP server, the Turborepo remote-cache API)
 * differ only in where an entry lives and how it is sent.
 */
export interface RemoteBackend {
  /** The URL, for messages (never a token). */
  readonly label: string;
  /** The entry's bytes as they arrive, or undefined when the server has none (404). */
  get(area: Area, name: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  has(area: Area, name: string): Promise<boolean>;
  /** Sends bytes, or a file's content streamed from disk. */
  put(area: Area, name: string, body: { bytes: Uint8Array } | { file: string; size: number }): Promise<void>;
}

/**
 * The remote cannot be used for the rest of this run (unreachable, too slow, refused the token,
 * a server error, a full disk): the build goes on locally. The message names no token.
 */
export class RemoteUnavailable extends Error {}

/** One HTTP backend: `urlOf` says where an entry lives. */
export class HttpRemote implements RemoteBackend {
  readonly label: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly config: RemoteCacheConfig,
    private readonly urlOf: (area: Area, name: string) => string,
    extraHeaders: Record<string, string> = {},
  ) {
    this.label = config.url;
    this.headers = { ...extraHeaders, ...(config.token ? { authorization: `Bearer ${config.token}` } : {}) };
  }

  async has(area: Area, name: string): Promise<boolean> {
    const response = await this.send('HEAD', area, name);
    return response !== undefined;
  }

  async get(area: Area, name: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    const idle = new IdleTimer(this.config.timeoutMs);
    const response = await this.send('GET', area, name, undefined, idle);
    if (!response?.body) {
      idle.stop();
      return undefined;
    }
    return idle.watch(response.body, () => this.failure('GET', area, name, idle.reason()));
  }

  async put(area: Area, name: string, body: { bytes: Uint8Array } | { file: string; size: number }): Promise<void> {
    const idle = new IdleTimer(this.config.timeoutMs);
    const size = 'bytes' in body ? body.bytes.byteLength : body.size;
    // A file is streamed (a print TIFF may be a hundred megabytes); each chunk read re-arms the timer.
    const content = 'bytes' in body ? body.bytes : fileChunks(body.file, idle);
    try {
      await this.send('PUT', area, name, { content, size }, idle);
    } finally {
      idle.stop();
    }
  }

  /** One request: undefined for 404, the response for 2xx, RemoteUnavailable for anything else. */
  private async send(
    method: 'GET' | 'HEAD' | 'PUT',
    area: Area,
    name: string,
    body?: { content: Uint8Array | AsyncIterable<Uint8Array>; size: number },
    idle = new IdleTimer(this.config.timeoutMs),
  ): Promise<Response | undefined> {
    let response: Response;
    try {
      response = await fetch(this.urlOf(area, name), {
        method,
        headers: { ...this.headers, ...(body ? { 'content-type': 'application/octet-stream', 'content-length': String(body.size) } : {}) },
        ...(body ? { body: body.content, duplex: 'half' } : {}),
        signal: idle.signal,
        redirect: 'follow',
      } as RequestInit);
    } catch (err) {
      idle.stop();
      throw this.failure(method, area, name, idle.reason() ?? describeNetworkError(err));
    }
    if (method !== 'GET') idle.stop();
    if (response.status === 404 && method !== 'PUT') {
      await response.body?.cancel();
      return undefined;
    }
    if (response.ok) return response;
    idle.stop();
    await response.body?.cancel().catch(() => undefined);
    throw this.failure(method, area, name, describeStatus(response.status, !!this.config.token));
  }

  private failure(method: string, area: Area, name: string, reason: string | undefined): RemoteUnavailable {
    return new RemoteUnavailable(`${method} ${area}/${name}: ${reason ?? 'the connection failed'}`);
  }
}

/** The Bazel HTTP cache layout: <url>/ac/<key>, <url>/cas/<hash> (nginx WebDAV, bazel-remote, ...). */
export function bazelHttpRemote(config: RemoteCacheConfig): HttpRemote {
  return new HttpRemote(config, (area, name) => `${config.url}/${area}/${name}`);
}

/** The Turborepo remote-cache API: <url>/v8/artifacts/<area>-<name>?teamId=<team>. */
export function turborepoRemote(config: RemoteCacheConfig): HttpRemote {
  const team = encodeURIComponent(config.team);
  return new HttpRemote(config, (area, name) => `${config.url}/v8/artifacts/gpt4k-${area}-${name}?teamId=${team}`);
}

export function remoteBackendOf(config: RemoteCacheConfig): RemoteBackend {
  return config.backend === 'turborepo' ? turborepoRemote(config) : bazelHttpRemote(config);
}

function describeStatus(status: number, hasToken: boolean): string {
  if (status === 401 || status === 403) {
    return `the server refused ${hasToken ? 'the token in GPT4K_REMOTE_CACHE_TOKEN' : 'the request (no GPT4K_REMOTE_CACHE_TOKEN is set)'} (HTTP ${status})`;
  }
  if (status === 507) return 'the server is out of space (HTTP 507)';
  if (status === 413) return 'the server refused an object as too large (HTTP 413; on nginx, set client_max_body_size 0)';
  if (status === 405) return 'the server does not accept this method (HTTP 405; on nginx, enable dav_methods PUT)';
  return `the server answered HTTP ${status}`;
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the connection was reset';
  return cause?.message ?? (err as Error).message ?? String(err);
}

/**
 * Aborts a request when nothing has moved for `ms`: the answer, or the next chunk of a body.
 * A slow but steady transfer of a large object goes on; a stalled one stops.
 */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;

  constructor(private readonly ms: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.ms);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  reason(): string | undefined {
    return this.timedOut ? `no answer within ${this.ms} ms` : undefined;
  }

  async *watch(body: ReadableStream<Uint8Array>, failure: () => Error): AsyncIterable<Uint8Array> {
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        this.touch();
        yield chunk;
      }
    } catch {
      throw failure();
    } finally {
      this.stop();
    }
  }
}

async function* fileChunks(file: string, idle: IdleTimer): AsyncIterable<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    idle.touch();
    yield chunk as Buffer;
  }
}
