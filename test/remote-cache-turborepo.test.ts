/**
 * The Turborepo backend (`turbo+http://...`, or `backend: turborepo`) against the real
 * turborepo-remote-cache server with local storage: what one checkout uploads, a fresh one
 * builds --frozen from, with no API request and the same bytes.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { startTurboCache, type TurboCacheServer } from './support/turbo-cache.js';

const KEY = 'sk-test-turbo-0000';
const TOKEN = 'turbo-token-7e21';
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

let api: FakeOpenAI;
let turbo: TurboCacheServer;
const projects: Project[] = [];

beforeAll(async () => {
  [api, turbo] = await Promise.all([startFakeOpenAI({ apiKey: KEY }), startTurboCache(TOKEN)]);
}, 60_000);
afterAll(async () => {
  for (const p of projects) await p.remove();
  await Promise.all([api?.close(), turbo?.close()]);
});

describe('the Turborepo remote-cache backend', () => {
  it('shares a build between two checkouts through turborepo-remote-cache', async () => {
    const manifest = `${MANIFEST}cache:\n  remote: { url: "${turbo.url}", backend: turborepo, team: design }\n`;
    const a = await makeProject({ 'assets.pipeline.yaml': manifest }, 'gpt4k-turbo-a-');
    projects.push(a);
    const env = { GPT4K_REMOTE_CACHE_TOKEN: TOKEN, OPENAI_BASE_URL: api.url };
    const first = await a.run(['build'], { ...env, OPENAI_API_KEY: KEY });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).not.toMatch(/warning: remote cache/);
    const stored = await readdir(path.join(turbo.storage, 'design'));
    expect(stored.filter((id) => /^gpt4k-ac-[0-9a-f]{16}$/.test(id))).toHaveLength(4);

    const b = await makeProject({ 'assets.pipeline.yaml': MANIFEST }, 'gpt4k-turbo-b-');
    projects.push(b);
    // The backend picked by the URL alone (turbo+): it reaches the server, but a team's artifacts
    // are its own, and the default team ("gpt4k") has none: --frozen refuses (no paid call made).
    const frozen = await b.run(['build', '--frozen', '--remote-cache', `turbo+${turbo.url}`], env);
    expect(frozen.code, frozen.stderr).toBe(3);
    expect(frozen.stderr).not.toMatch(/warning: remote cache/);
    const b2 = await makeProject({ 'assets.pipeline.yaml': manifest, 'assets.lock.json': await a.read('assets.lock.json') }, 'gpt4k-turbo-b-');
    projects.push(b2);
    const assembled = await b2.run(['build', '--frozen'], env);
    expect(assembled.code, assembled.stderr).toBe(0);
    expect(api.requests).toHaveLength(2);
    expect((await b2.report()).summary).toMatchObject({ providerCalls: 0, remoteHits: 4 });
    for (const rel of ['out/hero/web.png', 'out/mug/web.png']) expect(await b2.bytes(rel), rel).toEqual(await a.bytes(rel));
  });
});
