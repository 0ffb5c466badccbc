/**
 * The shared remote cache, against a real nginx (WebDAV PUT, its own temp config and root, a
 * random loopback port) and the real CLI in separate checkouts: what one checkout paid for,
 * another builds --frozen with no API request and the same bytes; the remote failing in any
 * way costs one warning, never the build; a corrupt object is caught; the token never shows.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { count, makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { startWebDav, type WebDavServer } from './support/nginx-webdav.js';

const KEY = 'sk-test-remote-0000';
const TOKEN = 'remote-cache-token-5f3a9c';
let api: FakeOpenAI;
let nginx: WebDavServer;
const projects: Project[] = [];

const MANIFEST = `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "front view, a teal coffee bag"
  mug:
    prompt: "front view, a red enamel mug"
`;

/** A checkout: the manifest (and what else is committed), no .gpt4k/, no out/. */
async function checkout(files: Record<string, string> = {}): Promise<Project> {
  const project = await makeProject({ 'assets.pipeline.yaml': MANIFEST, ...files }, 'gpt4k-remote-');
  projects.push(project);
  return project;
}

const remoteEnv = (extra: Record<string, string | undefined> = {}) => ({
  GPT4K_REMOTE_CACHE: `${nginx.url}/team-cache`,
  GPT4K_REMOTE_CACHE_TOKEN: TOKEN,
  OPENAI_BASE_URL: api.url,
  ...extra,
});
const withKey = (extra: Record<string, string | undefined> = {}) => remoteEnv({ OPENAI_API_KEY: KEY, ...extra });
const remoteWarnings = (stderr: string) => count(stderr, /^warning: remote cache/m);

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api.close();
});
beforeEach(async () => {
  api.reset();
  nginx = await startWebDav({ token: TOKEN });
});
afterEach(async () => {
  for (const p of projects.splice(0)) await p.remove();
  await nginx.remove();
});

describe('a remote cache shared by two checkouts', () => {
  it('checkout B builds --frozen from what A uploaded: zero API requests, the same bytes', async () => {
    const a = await checkout();
    const first = await a.run(['build'], withKey());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toMatch(/warning/);
    expect(api.requests).toHaveLength(2);
    // Uploaded before the process exited: records and objects, under the URL's path.
    const puts = (await nginx.requests()).filter((r) => r.startsWith('PUT '));
    expect(puts.filter((r) => /^PUT \/team-cache\/ac\/[0-9a-f]{16} 201$/.test(r))).toHaveLength(4); // 2 generates, 2 renders
    expect(puts.filter((r) => /^PUT \/team-cache\/cas\/[0-9a-f]{16} 201$/.test(r)).length).toBeGreaterThanOrEqual(4);

    // A fresh checkout, nothing in .gpt4k/, no API key: everything comes from the remote.
    const b = await checkout({ 'assets.lock.json': await a.read('assets.lock.json') });
    // Its plan consults the remote: nothing would run, and planning downloads and keeps nothing.
    const beforePlan = (await nginx.requests()).length;
    const planned = await b.run(['plan'], remoteEnv());
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(/cached \(remote\)\s+generate/);
    expect(planned.stdout).toMatch(/out\/hero\/web\.png is missing: restored from the remote cache/);
    expect(planned.stdout).toMatch(/nothing to do: all \d+ steps of 2 assets are cached \(4 on the remote cache\)/);
    const planRequests = (await nginx.requests()).slice(beforePlan);
    expect(planRequests.filter((r) => /^GET \/team-cache\/ac\/[0-9a-f]{16} 200$/.test(r))).toHaveLength(4);
    expect(planRequests.filter((r) => !r.startsWith('GET /team-cache/ac/'))).toEqual([]);
    expect(b.exists('.gpt4k/actions')).toBe(false);
    const planJson = JSON.parse((await b.run(['plan', '--json'], remoteEnv())).stdout) as { nodes: { kind: string; action: string; remote?: boolean }[] };
    expect(planJson.nodes.filter((n) => n.remote).map((n) => n.kind).sort()).toEqual(['generate', 'generate', 'render', 'render']);
    // Without the remote, the same checkout would generate both images.
    expect((await b.run(['plan', '--remote-cache', 'off'], remoteEnv())).stdout).toMatch(/2 images to generate/);

    const frozen = await b.run(['build', '--frozen'], remoteEnv());
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(frozen.stderr).not.toMatch(/warning/);
    expect(api.requests).toHaveLength(2);
    const report = await b.report();
    expect(report.summary).toMatchObject({ assets: 2, built: 0, failed: 0, providerCalls: 0, remoteHits: 4 });
    for (const rel of ['out/hero/web.png', 'out/mug/web.png']) expect(await b.bytes(rel), rel).toEqual(await a.bytes(rel));
    // Nothing uploaded by B: it made nothing.
    expect((await nginx.requests()).filter((r) => r.startsWith('PUT '))).toHaveLength(puts.length);

    const stats = await b.run(['cache', 'stats', '--json'], remoteEnv());
    expect(JSON.parse(stats.stdout).remote).toMatchObject({ hits: 4, misses: 0, corrupt: 0, uploads: 0 });
    expect(JSON.parse(stats.stdout).remote.bytesDown).toBeGreaterThan(0);
    const text = await b.run(['cache', 'stats'], remoteEnv());
    expect(text.stdout).toMatch(/remote cache: 4 hit\(s\), 0 miss\(es\)/);

    // A's second build is local: no request reaches the remote.
    const before = (await nginx.requests()).length;
    expect((await a.run(['build'], withKey())).code).toBe(0);
    expect(await nginx.requests()).toHaveLength(before);
  });

  it('cache push uploads what a checkout built without the remote; a fresh checkout then plans nothing to run', async () => {
    const a = await checkout();
    expect((await a.run(['cache', 'push'], withKey({ GPT4K_REMOTE_CACHE: '' }))).stderr).toMatch(/E_NO_REMOTE_CACHE/);
    const first = await a.run(['build', '--remote-cache', 'off'], withKey());
    expect(first.code, first.stderr).toBe(0);
    expect(await nginx.requests()).toEqual([]);

    const push = await a.run(['cache', 'push'], remoteEnv());
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/4 record\(s\) uploaded, 0 already there, of 4/);
    expect((await nginx.requests()).filter((r) => /^PUT \/team-cache\/ac\/[0-9a-f]{16} 201$/.test(r))).toHaveLength(4);
    const again = await a.run(['cache', 'push', '--json'], remoteEnv());
    expect(JSON.parse(again.stdout)).toMatchObject({ local: 4, present: 4, uploaded: 0, complete: true });

    const b = await checkout({ 'assets.lock.json': await a.read('assets.lock.json') });
    const planned = await b.run(['plan'], remoteEnv());
    expect(planned.stdout).toMatch(/nothing to do: all \d+ steps of 2 assets are cached \(4 on the remote cache\)/);
    expect(planned.stdout).not.toContain(TOKEN);
  });

  it('read-only (write: false, or GPT4K_REMOTE_CACHE_WRITE=0) reads and uploads nothing', async () => {
    const a = await checkout({ 'assets.pipeline.yaml': `${MANIFEST}cache:\n  remote: { write: false }\n` });
    const first = await a.run(['build'], withKey());
    expect(first.code, first.stderr).toBe(0);
    const b = await checkout();
    expect((await b.run(['build'], withKey({ GPT4K_REMOTE_CACHE_WRITE: '0' }))).code).toBe(0);
    const requests = await nginx.requests();
    expect(requests.filter((r) => r.startsWith('PUT '))).toEqual([]);
    expect(requests.filter((r) => /^GET \/team-cache\/ac\//.test(r)).length).toBeGreaterThan(0);
  });
});

describe('the remote is never a point of failure', () => {
  it('stopped before the build: one warning, the build succeeds locally', async () => {
    await nginx.stop();
    const a = await checkout();
    const result = await a.run(['build'], withKey());
    expect(result.code, result.stderr).toBe(0);
    expect(remoteWarnings(result.stderr), result.stderr).toBe(1);
    expect(result.stderr).toMatch(/connection refused/);
    expect(a.exists('out/hero/web.png') && a.exists('out/mug/web.png')).toBe(true);
  });

  it('stopped in the middle of the build: one warning, every deliverable built', async () => {
    const a = await checkout({ 'assets.pipeline.yaml': MANIFEST.replace('targets:\n', 'limits: { generate: 1 }\ntargets:\n') });
    // The second image request stops the server; its answer comes after the server is gone.
    api.script((_request, index) => {
      if (index === 1) void nginx.stop();
      return index === 1 ? { kind: 'ok', latencyMs: 1500 } : undefined;
    });
    const result = await a.run(['build'], withKey());
    expect(result.code, result.stderr).toBe(0);
    expect(remoteWarnings(result.stderr), result.stderr).toBe(1);
    expect((await a.report()).summary).toMatchObject({ built: 2, failed: 0 });
  });

  it('a corrupt object on the server is detected, not used, and the warning names its key', async () => {
    const a = await checkout();
    expect((await a.run(['build'], withKey())).code).toBe(0);
    const heroKey = (await a.report()).assets.find((x) => x.id === 'hero')!.steps.find((s) => s.kind === 'generate')!.key!;
    const record = JSON.parse(await readFile(path.join(nginx.root, 'team-cache', 'ac', heroKey), 'utf8')) as { output: { hash: string } };
    const mugKey = (await a.report()).assets.find((x) => x.id === 'mug')!.steps.find((s) => s.kind === 'generate')!.key!;
    const mugRecord = JSON.parse(await readFile(path.join(nginx.root, 'team-cache', 'ac', mugKey), 'utf8')) as { output: { hash: string } };
    // A valid image, but not the one the record names: usable if it were not verified.
    await writeFile(path.join(nginx.root, 'team-cache', 'cas', record.output.hash), await readFile(path.join(nginx.root, 'team-cache', 'cas', mugRecord.output.hash)));

    const b = await checkout();
    const result = await b.run(['build'], withKey());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^warning: remote cache: the object ${record.output.hash} of hero/generate \\(key ${heroKey}\\) is corrupt`, 'm'));
    expect(api.requests).toHaveLength(3); // hero generated again, mug from the remote
    expect(await b.bytes('out/hero/web.png')).toEqual(await a.bytes('out/hero/web.png'));
    expect(await b.bytes('out/hero/web.png')).not.toEqual(await b.bytes('out/mug/web.png'));
    // B's good image went up over the corrupt one.
    expect(await readFile(path.join(nginx.root, 'team-cache', 'cas', record.output.hash))).toEqual(await readFile(path.join(b.dir, '.gpt4k', 'objects', record.output.hash.slice(0, 2), record.output.hash)));
  });

  it('a wrong token: one warning, and the token appears in no output, report or cache file', async () => {
    const wrong = 'wrong-token-d41d8cd98f00';
    const a = await checkout();
    const result = await a.run(['build'], withKey({ GPT4K_REMOTE_CACHE_TOKEN: wrong }));
    expect(result.code, result.stderr).toBe(0);
    expect(remoteWarnings(result.stderr), result.stderr).toBe(1);
    expect(result.stderr).toMatch(/refused the token in GPT4K_REMOTE_CACHE_TOKEN \(HTTP 401\)/);
    const json = await a.run(['build', '--json', '--regenerate', 'hero'], withKey({ GPT4K_REMOTE_CACHE_TOKEN: wrong }));
    const outputs = [result.stdout, result.stderr, json.stdout, json.stderr];
    for (const file of await readdir(a.dir, { recursive: true })) {
      const full = path.join(a.dir, file);
      if (/\.(json|html)$/.test(file)) outputs.push(await readFile(full, 'utf8'));
    }
    for (const text of outputs) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(TOKEN);
    }
  });
});
