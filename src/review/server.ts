import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import sirv from 'sirv';
import { GptError, toGptError } from '../util/errors.js';
import { CLIENT_JS } from './client.js';
import { renderReviewMain, renderReviewPage, type ReviewModel } from './page.js';
import type { ReviewDecision } from '../report/review-file.js';

/**
 * The review page's HTTP side: the page, its script, the proof tiles and deliverables (sirv),
 * candidate thumbnails, server-sent events, and two POSTs (pick, review). It knows nothing of
 * builds: the session (session.ts) supplies what to show and what a decision does.
 *
 * It listens on loopback by default. Because any web page in the same browser can send
 * requests to 127.0.0.1, a POST must carry the per-server token the page was given (a custom
 * header, which a cross-site page cannot set without a CORS preflight this server never
 * answers), and a request whose Host is not this server's (DNS rebinding) is refused.
 */

export interface ReviewApp {
  model(): ReviewModel;
  /** Folder of the proof pyramids (served under /proofs/). */
  proofsDir: string;
  /** The deliverables folder (served under /files/). */
  outputDir: string;
  candidateImage(asset: string, k: number): Promise<string | undefined>;
  pick(asset: string, k: number): Promise<Record<string, unknown>>;
  review(asset: string, decision: ReviewDecision, comment: string): Promise<Record<string, unknown>>;
}

export interface ReviewServer {
  url: string;
  /** Tells every open page to fetch the page again. */
  broadcast(): void;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new GptError('E_USAGE', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GptError('E_USAGE', 'expected a JSON object');
  return value as Record<string, unknown>;
}

/** A static folder mounted under a prefix; sirv refuses paths that leave it. */
function mount(dir: string) {
  const serve = sirv(dir, { dev: true, dotfiles: false });
  return (req: IncomingMessage, res: ServerResponse, rest: string) => {
    req.url = rest;
    res.setHeader('x-content-type-options', 'nosniff');
    serve(req, res, () => send(res, 404, 'text/plain; charset=utf-8', 'not found'));
  };
}

/** The page itself, with a fresh nonce for its script and style (the only ones it runs). */
function page(res: ServerResponse, app: ReviewApp, token: string): void {
  const nonce = randomBytes(16).toString('base64');
  const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  send(res, 200, 'text/html; charset=utf-8', renderReviewPage(app.model(), { nonce, token }), { 'content-security-policy': csp, 'referrer-policy': 'no-referrer' });
}

/** Serves a candidate's JPEG thumbnail, made once per file. */
function candidateThumbnails(app: ReviewApp): (res: ServerResponse, asset: string, k: number) => Promise<void> {
  const thumbs = new Map<string, Promise<Buffer>>();
  return async (res, asset, k) => {
    const file = await app.candidateImage(asset, k);
    if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'no such candidate');
    let thumb = thumbs.get(file);
    if (!thumb) {
      thumb = sharp(file).resize({ height: 320, withoutEnlargement: true }).flatten({ background: '#ffffff' }).toColourspace('srgb').jpeg({ quality: 82 }).toBuffer();
      thumbs.set(file, thumb);
      thumb.catch(() => thumbs.delete(file));
    }
    send(res, 200, 'image/jpeg', await thumb);
  };
}

/** The two POSTs (pick, review), each carrying the page's token. */
async function post(req: IncomingMessage, res: ServerResponse, route: string, server: { app: ReviewApp; token: string; broadcast: () => void }): Promise<void> {
  const { app } = server;
  if (req.headers['x-gpt4k-token'] !== server.token) return sendJson(res, 403, { error: 'missing or wrong page token: reload the page' });
  const body = await readJson(req);
  const asset = typeof body.asset === 'string' ? body.asset : '';
  if (route === '/api/pick') {
    const k = typeof body.k === 'number' ? body.k : NaN;
    return sendJson(res, 200, await app.pick(asset, k));
  }
  const decision = body.decision;
  if (decision !== 'approved' && decision !== 'changes-requested') return sendJson(res, 400, { error: 'decision must be "approved" or "changes-requested"' });
  const comment = typeof body.comment === 'string' ? body.comment.slice(0, 4000) : '';
  const answer = await app.review(asset, decision, comment);
  server.broadcast();
  return sendJson(res, 200, answer);
}

export async function startReviewServer(app: ReviewApp, options: { host: string; port: number }): Promise<ReviewServer> {
  const token = randomBytes(18).toString('base64url');
  const streams = new Set<ServerResponse>();
  const proofs = mount(app.proofsDir);
  const files = mount(app.outputDir);
  const candidate = candidateThumbnails(app);
  let allowedHosts = new Set<string>();

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 1000\nevent: hello\ndata: ${app.model().cycle}\n\n`);
    streams.add(res);
    req.on('close', () => streams.delete(res));
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (!allowedHosts.has(req.headers.host ?? '')) return send(res, 421, 'text/plain; charset=utf-8', 'unknown host');
    const url = new URL(req.url ?? '/', 'http://review.invalid');
    const p = url.pathname;
    if (req.method === 'POST' && (p === '/api/pick' || p === '/api/review')) return post(req, res, p, { app, token, broadcast });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed');
    if (p === '/') return page(res, app, token);
    if (p === '/main') return send(res, 200, 'text/html; charset=utf-8', renderReviewMain(app.model()));
    if (p === '/review.js') return send(res, 200, 'text/javascript; charset=utf-8', CLIENT_JS);
    if (p === '/events') return events(req, res);
    if (p.startsWith('/proofs/')) return proofs(req, res, p.slice('/proofs'.length));
    if (p.startsWith('/files/')) return files(req, res, p.slice('/files'.length));
    const c = /^\/candidates\/([^/]+)\/(\d+)\.jpg$/.exec(p);
    if (c) return candidate(res, decodeURIComponent(c[1] as string), Number(c[2]));
    return send(res, 404, 'text/plain; charset=utf-8', 'not found');
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const error = toGptError(err);
      if (!res.headersSent) sendJson(res, error.exitCode === 2 || err instanceof SyntaxError ? 400 : 500, { error: error.message, code: error.code, hint: error.hint });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  allowedHosts = new Set([`${shownHost}:${port}`, ...(LOOPBACK.has(options.host) ? [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`] : [])]);
  const heartbeat = setInterval(() => {
    for (const s of streams) s.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  function broadcast(): void {
    const message = `event: update\ndata: ${app.model().cycle}\n\n`;
    for (const s of streams) s.write(message);
  }

  return {
    url: `http://${shownHost}:${port}/`,
    broadcast,
    close: async () => {
      clearInterval(heartbeat);
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
