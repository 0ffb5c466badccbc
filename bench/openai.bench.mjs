// 6. (issue 3) 100 assets against the OpenAI images API stand-in (test/support/fake-openai.ts, a
// real HTTP server driven through the real SDK) at 2 s latency, limits.generate 5,
// limits.imagesPerMinute 60: makespan beside the bound the limits allow; then the same with 30%
// of requests answered 429 (retry-after: 1): every asset completes, retries are in the report.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, fmtMs, fmtX, gpt4k, readReport, result, run, tempDir, writeManifest } from './lib.mjs';

const ASSETS = Number(process.env.BENCH_OPENAI_ASSETS ?? 100); // fewer only to try the script out
const LATENCY_MS = 2000;
const CONCURRENCY = 5;
const PER_MINUTE = 60;
const SIZE = '1024x640'; // the smallest gpt-image-2 size class: 655,360 pixels

/**
 * The earliest finish of N requests of L ms each, with at most k in flight and a token bucket of
 * capacity c refilled at r per ms starting full (one token per request sent, as RateLimiter
 * does): request i starts at s_i = max((i - c + 1) / r, s_{i-k} + L, 0); the bound is s_{N-1} + L.
 * With c = min(limits.generate, imagesPerMinute) = 5, r = 1/s, k = 5, L = 2 s:
 * s_i = i - 4 s, so the bound is (N - c)/r + L = 95 + 2 = 97 s.
 */
export function limitBound({ n, latencyMs, concurrency, capacity, perMinute }) {
  const r = perMinute / 60_000;
  const starts = [];
  for (let i = 0; i < n; i++) {
    const byRate = Math.max(0, (i - capacity + 1) / r);
    const bySlot = i >= concurrency ? starts[i - concurrency] + latencyMs : 0;
    starts.push(Math.max(byRate, bySlot));
  }
  return starts[n - 1] + latencyMs;
}

async function fakeServer() {
  const built = path.join(ROOT, 'bench/.build/fake-openai.js');
  // Compiled from test/support/fake-openai.ts (not copied): bench/tsconfig.json emits it here.
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'bench/tsconfig.json')]);
  if (!existsSync(built)) throw new Error(`${built} was not emitted`);
  return import(pathToFileURL(built).href);
}

function manifest() {
  const assets = {};
  for (let i = 0; i < ASSETS; i++) assets[`p${String(i).padStart(3, '0')}`] = { prompt: `API benchmark product shot number ${i}, front view, centered`, targets: ['tiny'] };
  return {
    version: 1,
    output: 'out',
    defaults: {
      generate: { provider: 'openai', model: 'gpt-image-2', size: SIZE, quality: 'low' },
      upscale: { engine: 'lanczos', scale: 1 },
    },
    limits: { generate: CONCURRENCY, imagesPerMinute: PER_MINUTE, maxCostUsd: 1000 },
    targets: { tiny: { width: 64, height: 40, fit: 'cover', format: 'png' } },
    assets,
  };
}

async function build(api, label, script) {
  const dir = tempDir(`openai-${label}`);
  writeManifest(dir, manifest());
  api.reset();
  if (script) api.script(script);
  const t0 = Date.now();
  const out = await gpt4k(dir, ['build', '-q'], { env: { OPENAI_API_KEY: 'sk-bench-not-a-real-key', OPENAI_BASE_URL: api.url }, allowFail: true });
  const report = readReport(dir);
  const stepRetries = report.assets.reduce((sum, a) => sum + a.steps.reduce((s, st) => s + (st.retries ?? 0), 0), 0);
  const arrivals = api.requests.map((q) => q.receivedAt - t0);
  const firstMs = Math.min(...arrivals);
  const lastMs = Math.max(...arrivals);
  return { ms: out.ms, code: out.code, report, stepRetries, firstMs, lastMs, received: api.requests.length, rateLimited: api.requests.filter((q) => q.behaviour === 'rate_limit').length };
}

export async function bench() {
  const r = result('openai', `OpenAI stand-in: ${ASSETS} assets, ${LATENCY_MS / 1000} s latency, limits.generate ${CONCURRENCY}, ${PER_MINUTE} images/min`);
  const { startFakeOpenAI } = await fakeServer();
  const api = await startFakeOpenAI({ latencyMs: LATENCY_MS });
  try {
    const capacity = Math.min(CONCURRENCY, PER_MINUTE); // build.ts: new RateLimiter(ipm, min(limits.generate, ipm))
    const bound = limitBound({ n: ASSETS, latencyMs: LATENCY_MS, concurrency: CONCURRENCY, capacity, perMinute: PER_MINUTE });

    const clean = await build(api, 'clean');
    const s = clean.report.summary;
    r.row('gpt4k build, no errors (makespan)', fmtMs(clean.ms), `${s.built} built, ${s.failed} failed, ${s.providerCalls} provider calls, ${clean.received} requests received`);
    r.row('peer: the bound the limits allow', fmtMs(bound), `token bucket: capacity ${capacity}, ${PER_MINUTE}/min; ${CONCURRENCY} at once; ${LATENCY_MS / 1000} s each`);
    r.row('makespan / bound', fmtX(clean.ms / bound), `first request ${fmtMs(clean.firstMs)} after spawn; last request sent at ${fmtMs(clean.lastMs)}, answered ${fmtMs(clean.lastMs + LATENCY_MS)}; exit ${fmtMs(clean.ms)}`);
    r.goal(`makespan within 10% of the limits' bound (${fmtMs(bound)})`, fmtX(clean.ms / bound), clean.ms <= 1.1 * bound && s.built === ASSETS);

    // 30% of requests (3 of every 10, spread out) answered 429 rate_limit_exceeded, retry-after: 1 s, at once.
    const noisy = await build(api, '429', (_req, i) => ([1, 4, 7].includes(i % 10) ? { kind: 'rate_limit', retryAfter: 1, latencyMs: 0 } : undefined));
    const n = noisy.report.summary;
    const boundNoisy = limitBound({ n: noisy.received, latencyMs: LATENCY_MS, concurrency: CONCURRENCY, capacity, perMinute: PER_MINUTE });
    r.row('gpt4k build, 30% answered 429 (makespan)', fmtMs(noisy.ms), `${n.built} built, ${n.failed} failed; exit ${noisy.code}`);
    r.row('429 run: first / last request after spawn', `${fmtMs(noisy.firstMs)} / ${fmtMs(noisy.lastMs)}`, '');
    r.row('requests received / answered 429', `${noisy.received} / ${noisy.rateLimited}`, `${((100 * noisy.rateLimited) / Math.max(1, noisy.received)).toFixed(0)}% 429`);
    r.row('report: summary.retries / sum of steps[].retries', `${n.retries} / ${noisy.stepRetries}`, `summary.providerCalls ${n.providerCalls}`);
    r.row(`bound for ${noisy.received} requests through the same limits`, fmtMs(boundNoisy), `makespan / bound ${fmtX(noisy.ms / boundNoisy)} (a 429 spends a token too; answered at once)`);
    r.goal('with 30% 429: every asset completes', `${n.built} of ${ASSETS} built`, n.built === ASSETS && n.failed === 0);
    r.goal('with 30% 429: every retry counted in the report', `summary.retries ${n.retries}, steps ${noisy.stepRetries}, 429s sent ${noisy.rateLimited}`, n.retries === noisy.rateLimited && noisy.stepRetries === noisy.rateLimited);
    r.note(
      `The stand-in is test/support/fake-openai.ts compiled by bench/tsconfig.json into bench/.build/ (gitignored), listening on 127.0.0.1 in the benchmark's process; ` +
        `gpt4k runs as a CLI process with OPENAI_BASE_URL pointing at it. Images are ${SIZE} (the smallest gpt-image-2 size), quality low, ` +
        '`upscale: {scale: 1}`, one 64x40 PNG target, so the time is the API path. The bound is computed from the limits alone: ' +
        'request i may start at max((i - c + 1)/r, start(i - k) + L), with the engine\'s bucket capacity c = min(limits.generate, imagesPerMinute) = 5 ' +
        `(src/engine/build.ts), r = ${PER_MINUTE}/min, k = ${CONCURRENCY}, L = ${LATENCY_MS / 1000} s; for 100 requests that is (100 - 5)/1 s + 2 s = 97 s. ` +
        'It leaves out process start-up and the rendering of the last image. In the 429 run requests 1, 4, 7 of every 10 (by arrival) get 429 at once ' +
        'with retry-after: 1; each attempt takes a token, so its bound is the same formula over the requests actually received.',
    );
    r.figures = { cleanMs: clean.ms, boundMs: bound, noisyMs: noisy.ms, noisyBoundMs: boundNoisy, requests: noisy.received, rateLimited: noisy.rateLimited, retries: n.retries };
  } finally {
    await api.close();
  }
  return r;
}
