import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';
import { makeProject, readReport, removeProject, runCli } from './support/project.js';

/**
 * A style's `reference:` as a list of asset ids and project files, as a user meets it: the real
 * CLI, the real SDK, the images stand-in on 127.0.0.1. What is asserted is what reached the
 * server (the multipart image parts, in order), what was generated again, and exit codes.
 */
const KEY = 'sk-test-SECRET-refs-31cc';

function manifest(styles: string): string {
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2.5-sunburst, size: 1024x1024, quality: low, options: { retryBaseDelayMs: 20, retryMaxDelayMs: 500 } }
  upscale: { engine: none }
styles:
${styles}
targets:
  web: { width: 64, height: 64, format: png }
assets:
  hero: { prompt: "A ceramic mug on linen, soft daylight", targets: [web] }
  sku1: { prompt: "A teal ceramic mug, front view", style: brand, targets: [web] }
  sku2: { prompt: "A sand ceramic mug, front view", style: plain, targets: [web] }
`;
}

const LISTED = `  brand: { reference: [hero, ./brand/bottle-front.jpg] }
  plain: { reference: hero }`;

let api: FakeOpenAI;
const dirs: string[] = [];
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });
const photo = (r: number) => sharp({ create: { width: 40, height: 40, channels: 3, background: { r, g: 120, b: 60 } } }).jpeg().toBuffer();

async function project(styles: string): Promise<{ dir: string; bottle: Buffer }> {
  const bottle = await photo(200);
  const dir = await makeProject({ 'assets.pipeline.yaml': manifest(styles), 'brand/bottle-front.jpg': bottle });
  dirs.push(dir);
  return { dir, bottle };
}

/** The edits requests' image parts by the asset whose prompt they carry. */
function editOf(prompt: string) {
  return api.requestsTo('edits').find((r) => String(r.body?.['prompt'] ?? '').includes(prompt));
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterEach(() => api.reset());
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('a style reference list, end to end', () => {
  it('sends every entry as an image of the edit, in order; a one-asset reference sends one', async () => {
    const { dir, bottle } = await project(LISTED);
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(api.requestsTo('generations')).toHaveLength(1); // hero
    const listed = editOf('teal ceramic mug');
    const images = listed?.files.filter((f) => f.field === 'image' || f.field === 'image[]') ?? [];
    expect(images.map((f) => f.filename)).toEqual(['hero.png', 'bottle-front.jpg']);
    expect(images[1]?.contentType).toBe('image/jpeg');
    expect(images[1]?.bytes.equals(bottle)).toBe(true);
    expect((await sharp(images[0]!.bytes).metadata()).format).toBe('png');
    const single = editOf('sand ceramic mug');
    expect(single?.files.filter((f) => f.field === 'image' || f.field === 'image[]').map((f) => f.filename)).toEqual(['hero.png']);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ failed: 0, providerCalls: 3 });
  });

  it('a reference file edited: only the assets of its style generate again, and plan says which entry changed', async () => {
    const { dir } = await project(LISTED);
    expect((await runCli(['build'], { cwd: dir, env: env() })).code).toBe(0);
    api.reset();
    await writeFile(path.join(dir, 'brand/bottle-front.jpg'), await photo(30));
    const plan = await runCli(['plan', '--json'], { cwd: dir, env: env() });
    expect(plan.code, plan.stderr).toBe(0);
    const nodes = (JSON.parse(plan.stdout) as { nodes: Array<{ id: string; action: string; reasons: string[] }> }).nodes;
    const generating = nodes.filter((n) => n.id.endsWith('/generate') && n.action === 'run');
    expect(generating.map((n) => n.id)).toEqual(['sku1/generate']);
    expect(generating[0]?.reasons).toEqual(['style reference file brand/bottle-front.jpg changed']);
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(api.requests).toHaveLength(1);
    expect(editOf('teal ceramic mug')).toBeDefined();
  });

  it('reference: hero and reference: [hero] are the same key: switching generates nothing', async () => {
    const { dir } = await project(LISTED);
    expect((await runCli(['build'], { cwd: dir, env: env() })).code).toBe(0);
    api.reset();
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest(`${LISTED.replace('reference: hero', 'reference: [hero]')}`));
    const run = await runCli(['build'], { cwd: dir, env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(api.requests).toHaveLength(0);
  });

  it('more references than the model takes: exit 2 at the list, from validate and build, nothing sent', async () => {
    const many = Array.from({ length: 17 }, () => './brand/bottle-front.jpg').join(', ');
    const { dir } = await project(`  brand: { reference: [${many}] }\n  plain: { reference: hero }`);
    for (const command of ['validate', 'build']) {
      const run = await runCli([command], { cwd: dir, env: env() });
      expect(run.code, `${command}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toContain('E_TOO_MANY_REFERENCES');
      expect(run.stderr).toContain('17 reference images are more than gpt-image-2.5-sunburst takes in one edit (at most 16)');
      expect(run.stderr).toMatch(/assets\.pipeline\.yaml:6:\d+/);
    }
    expect(api.requests).toHaveLength(0);
  });

  it('a reference file outside the project or missing: exit 2 at the entry', async () => {
    const { dir } = await project(`  brand: { reference: [hero, ../outside.jpg, ./brand/missing.png] }\n  plain: { reference: hero }`);
    const run = await runCli(['validate'], { cwd: dir, env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('E_PATH_ESCAPE');
    expect(run.stderr).toContain('reference "../outside.jpg" is outside the project directory');
    expect(run.stderr).toContain('E_MISSING_FILE');
    expect(run.stderr).toContain('reference "./brand/missing.png" does not exist');
  });
});
