/**
 * Three builds of one project started at once (three terminals, a watch and a CI job): the
 * build lock lets one send the requests; the others wait, then find everything built. Each
 * prompt reaches the stand-in once, and all three exit cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import path from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { makeProject, readReport, removeProject, startCli } from '../support/project.js';

const KEY = 'sk-test-CONCURRENT-6f0b2a4d';
const ASSETS = ['hero', 'mug', 'bag', 'cup'];
let api: FakeOpenAI;
let dir: string;

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY, latencyMs: 150 });
  const assets = ASSETS.map((id) => `  ${id}: { prompt: "A ${id} on white, front view, centered", targets: [web] }`).join('\n');
  dir = await makeProject(
    {
      'assets.pipeline.yaml': `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low }
  upscale: { engine: none }
limits: { generate: 2 }
targets:
  web: { width: 40, height: 30, format: png }
assets:
${assets}
`,
    },
    'gpt4k-concurrent-',
  );
});
afterAll(async () => {
  await api?.close();
  if (dir) await removeProject(dir);
});

describe('three concurrent builds of one project', () => {
  it('send each request once and all exit 0', async () => {
    const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url };
    const runs = await Promise.all([0, 1, 2].map(() => startCli(['build'], { cwd: dir, env }).done));
    for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0);
    for (const id of ASSETS) {
      expect(api.requests.filter((r) => String(r.body?.['prompt']).startsWith(`A ${id} on white`)), id).toHaveLength(1);
    }
    expect(api.requests).toHaveLength(ASSETS.length);
    // One build did the work; the others waited for it (and said so) and found it all built.
    expect(runs.filter((r) => /4 provider call\(s\)/.test(r.stdout + r.stderr))).toHaveLength(1);
    expect(runs.filter((r) => /0 provider call\(s\)/.test(r.stdout + r.stderr))).toHaveLength(2);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ assets: 4, failed: 0 });
    for (const id of ASSETS) {
      const meta = await sharp(path.join(dir, 'out', id, 'web.png')).metadata();
      expect([meta.width, meta.height]).toEqual([40, 30]);
    }
  });
});
