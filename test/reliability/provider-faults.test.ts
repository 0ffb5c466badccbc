/**
 * Provider faults beyond the everyday ones, against the real SDK and the images stand-in: a
 * server that hangs, a refused key, an empty account, a Retry-After given as an HTTP date, a
 * reset connection, an HTML page instead of JSON. Each is reported once, in words a user can act
 * on, and a permanent one is never sent twice (counted at the stand-in).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { count } from '../support/cli-project.js';
import { makeProject, readReport, removeProject, runCli } from '../support/project.js';

const KEY = 'sk-test-FAULTS-8b2d6c0e';

/** One or two assets, no reference between them; fast retries, a short timeout. */
function manifest(options: { assets?: number; maxRetries?: number; timeoutMs?: number } = {}): string {
  const assets = Array.from({ length: options.assets ?? 1 }, (_, i) => `  item${i}: { prompt: "Product ${i} on a plinth", targets: [web] }`).join('\n');
  const opts = [`retryBaseDelayMs: 20`, `retryMaxDelayMs: 3000`, `timeoutMs: ${options.timeoutMs ?? 10_000}`];
  if (options.maxRetries !== undefined) opts.push(`maxRetries: ${options.maxRetries}`);
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low, options: { ${opts.join(', ')} } }
  upscale: { engine: none }
limits: { generate: 1 }
targets:
  web: { width: 32, height: 32, format: png }
assets:
${assets}
`;
}

let api: FakeOpenAI;
const dirs: string[] = [];
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

async function build(text: string) {
  const dir = await makeProject({ 'assets.pipeline.yaml': text }, 'gpt4k-faults-');
  dirs.push(dir);
  const run = await runCli(['build'], { cwd: dir, env: env() });
  return { dir, run, output: run.stdout + run.stderr };
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('provider faults', () => {
  it('a server that never answers times out, is retried within the limit, and says how to give it longer', async () => {
    api.script('hang', 'hang', 'hang');
    const { dir, run, output } = await build(manifest({ timeoutMs: 400, maxRetries: 2 }));
    expect(run.code, output).toBe(1);
    expect(api.requests).toHaveLength(3); // first try + maxRetries, then it gives up
    expect(api.requests.every((r) => r.clientClosed)).toBe(true);
    expect(count(output, /E_TIMEOUT/)).toBe(1);
    expect(output).toMatch(/did not answer within 400 ms/);
    expect(output).toMatch(/timeoutMs/);
    const report = await readReport(dir);
    expect(report.assets[0]?.error).toMatchObject({ step: 'generate', code: 'E_TIMEOUT' });
  });

  it('a refused key (401) is sent once, stops the other requests, and names the variable to fix', async () => {
    api.script('invalid_api_key');
    const { dir, run, output } = await build(manifest({ assets: 2 }));
    expect(run.code, output).toBe(1);
    expect(api.requests).toHaveLength(1);
    expect(count(output, /FAILED .*E_AUTH/)).toBe(1);
    expect(output).toContain('OPENAI_API_KEY');
    expect(output).not.toContain(KEY);
    const report = await readReport(dir);
    expect(report.assets.map((a) => a.status).sort()).toEqual(['failed', 'skipped']);
  });

  it('an empty account (429 insufficient_quota) is permanent: sent once, never retried, points at billing', async () => {
    api.script('insufficient_quota');
    const { run, output } = await build(manifest({ assets: 2 }));
    expect(run.code, output).toBe(1);
    expect(api.requests).toHaveLength(1);
    expect(count(output, /FAILED .*E_QUOTA/)).toBe(1);
    expect(output).toMatch(/no quota left/);
    expect(output).toMatch(/billing/);
    expect(output).not.toMatch(/retry/i);
  });

  it('honours Retry-After given as an HTTP date, then succeeds', async () => {
    // The date is taken when the request arrives, however long the CLI took to start.
    api.script((_, index) => (index === 0 ? { kind: 'rate_limit', retryAfter: new Date(Date.now() + 2_000).toUTCString() } : 'ok'));
    const { dir, run, output } = await build(manifest());
    expect(run.code, output).toBe(0);
    expect(api.requests).toHaveLength(2);
    const waited = api.requests[1]!.receivedAt - api.requests[0]!.receivedAt;
    // HTTP dates have whole seconds: the wait ends at the date, not at a jittered 20 ms backoff.
    expect(waited).toBeGreaterThanOrEqual(900);
    expect((await readReport(dir)).summary).toMatchObject({ built: 1, failed: 0, providerCalls: 2 });
  });

  it('a reset connection is retried and the build completes', async () => {
    api.script('reset');
    const { dir, run, output } = await build(manifest());
    expect(run.code, output).toBe(0);
    expect(api.requests).toHaveLength(2);
    expect((await readReport(dir)).summary).toMatchObject({ built: 1, failed: 0 });
  });

  it('connections reset every time: reported once as a network problem after the retries', async () => {
    api.script(() => 'reset');
    const { run, output } = await build(manifest({ maxRetries: 2 }));
    expect(run.code, output).toBe(1);
    expect(api.requests).toHaveLength(3);
    expect(count(output, /E_CONNECTION/)).toBe(1);
    expect(output).toMatch(/could not reach the images API/);
    expect(output).toMatch(/OPENAI_BASE_URL/);
  });

  it('an HTML page instead of JSON (a proxy error) is reported as such, not as a crash', async () => {
    api.script(() => 'html');
    const { dir, run, output } = await build(manifest({ maxRetries: 1 }));
    expect(run.code, output).toBe(1);
    expect(api.requests).toHaveLength(2); // a 502 is transient: retried, within the limit
    expect(output).not.toMatch(/E_INTERNAL|SyntaxError|at .*\.js:\d+/);
    expect(output).not.toContain('<html');
    const error = (await readReport(dir)).assets[0]?.error;
    expect(error?.code).toBe('E_PROVIDER_UNAVAILABLE');
    expect(error?.message).toMatch(/HTTP 502/);
    expect(error?.message).toMatch(/HTML|not JSON|proxy|gateway/i);
  });

  it('an HTML page with 200 (a wrong base URL) is sent once, stops the provider, and names OPENAI_BASE_URL', async () => {
    api.script(() => ({ kind: 'html', status: 200 }));
    const { dir, run, output } = await build(manifest({ assets: 2, maxRetries: 3 }));
    expect(run.code, output).toBe(1);
    expect(api.requests).toHaveLength(1);
    expect(count(output, /FAILED .*E_BAD_RESPONSE/)).toBe(1);
    expect(output).not.toMatch(/E_INTERNAL|E_OPENAI_UNEXPECTED|at .*\.js:\d+/);
    expect(output).toMatch(/OPENAI_BASE_URL/);
    const error = (await readReport(dir)).assets[0]?.error;
    expect(error?.message).toMatch(/HTML page \(titled "502 Bad Gateway"\), not JSON/);
  });
});
