/**
 * What the provider stand-ins (fake-gemini, fake-sdwebui, fake-comfyui) share: a real HTTP server
 * on 127.0.0.1 with a random port, body reading, JSON answers, a behaviour queue, and cheap solid
 * images whose color comes from the prompt (so different prompts give different bytes).
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import sharp from 'sharp';

export interface StartedServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): Promise<StartedServer> {
  const server = http.createServer((req, res) => {
    void handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = await listen(async () => undefined);
  await server.close();
  return server.port;
}

const imageCache = new Map<string, Buffer>();

/** A solid PNG whose color comes from `seedText`; cached. */
export async function solidPng(width: number, height: number, seedText: string): Promise<Buffer> {
  const digest = createHash('sha256').update(seedText).digest();
  const color = { r: digest[0] ?? 0, g: digest[1] ?? 0, b: digest[2] ?? 0 };
  const key = `${width}x${height}|${color.r},${color.g},${color.b}`;
  const cached = imageCache.get(key);
  if (cached) return cached;
  const bytes = await sharp({ create: { width, height, channels: 3, background: color } }).png({ compressionLevel: 1 }).toBuffer();
  if (imageCache.size > 64) imageCache.delete(imageCache.keys().next().value as string);
  imageCache.set(key, bytes);
  return bytes;
}

export async function parseMultipart(
  raw: Buffer,
  contentType: string,
): Promise<{ fields: Record<string, string>; files: Array<{ field: string; filename: string; contentType: string; bytes: Buffer }> }> {
  const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  const fields: Record<string, string> = {};
  const files: Array<{ field: string; filename: string; contentType: string; bytes: Buffer }> = [];
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') fields[field] = value;
    else files.push({ field, filename: value.name, contentType: value.type, bytes: Buffer.from(await value.arrayBuffer()) });
  }
  return { fields, files };
}

/** A queue of scripted behaviours, then a function, then a default. */
export class Script<B> {
  private queue: B[] = [];
  private decide: ((index: number) => B | undefined) | undefined;
  constructor(private readonly fallback: B) {}
  push(...items: Array<B | ((index: number) => B | undefined)>): void {
    for (const item of items) {
      if (typeof item === 'function') this.decide = item as (index: number) => B | undefined;
      else this.queue.push(item);
    }
  }
  next(index: number): B {
    return this.queue.shift() ?? this.decide?.(index) ?? this.fallback;
  }
  reset(): void {
    this.queue = [];
    this.decide = undefined;
  }
}
