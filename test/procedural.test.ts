import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { GenerateParams } from '../src/manifest/types.js';
import { proceduralProvider } from '../src/providers/procedural.js';
import type { GenerateRequest } from '../src/providers/types.js';
import { loadManifest } from '../src/index.js';
import { makeProject, removeProject } from './support/project.js';

const params = (over: Partial<GenerateParams> = {}): GenerateParams => ({
  provider: 'procedural',
  model: 'procedural',
  size: '1536x1024',
  quality: 'high',
  options: {},
  ...over,
});

function request(prompt: string, width: number, height: number, over: Partial<GenerateRequest> = {}): GenerateRequest {
  return { assetId: 'a', prompt, params: params(), width, height, ...over };
}

const context = () => ({ signal: new AbortController().signal, projectRoot: process.cwd() });

async function generate(prompt: string, width: number, height: number, over: Partial<GenerateRequest> = {}): Promise<Buffer> {
  return (await proceduralProvider.generate(request(prompt, width, height, over), context())).image;
}

/** Standard deviation of the luminance after the pipeline's operations (stats() sees only the input). */
async function stdev(image: Sharp): Promise<number> {
  const grey = await image.greyscale().raw().toBuffer();
  let sum = 0;
  let squares = 0;
  for (const v of grey) {
    sum += v;
    squares += v * v;
  }
  const mean = sum / grey.length;
  return Math.sqrt(squares / grey.length - mean * mean);
}

describe('procedural provider', () => {
  afterEach(() => {
    delete process.env.GPT4K_PROCEDURAL_LATENCY_MS;
  });

  it('is local, free, and fingerprinted by its algorithm version', () => {
    expect(proceduralProvider.name).toBe('procedural');
    expect(proceduralProvider.remote).toBe(false);
    expect(proceduralProvider.estimateCostUsd(params())).toBe(0);
    expect(Object.keys(proceduralProvider.fingerprint(params(), { projectRoot: process.cwd() }))).toEqual(['procedural']);
  });

  it('is deterministic in prompt, size and seed', async () => {
    const a = await generate('a teal coffee bag', 320, 200);
    const b = await generate('a teal coffee bag', 320, 200);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(await generate('a black perfume bottle', 320, 200))).toBe(false);
    expect(a.equals(await generate('a teal coffee bag', 320, 200, { params: params({ seed: 7 }) }))).toBe(false);
    const result = await proceduralProvider.generate(request('x', 16, 16), context());
    expect(result.costUsd).toBe(0);
  });

  it('returns a PNG of exactly the size asked, odd sizes included', async () => {
    for (const [w, h] of [
      [1536, 1024],
      [1000, 333],
      [333, 1000],
      [7, 5],
      [1, 1],
    ] as const) {
      const meta = await sharp(await generate('sizes', w, h)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', w, h]);
    }
  });

  it('has structure at every scale: neither flat nor plain noise', async () => {
    const png = await generate('Commercial packshot of a premium coffee bag, dark teal kraft paper', 1536, 1024);
    // Whole-picture structure survives a heavy downscale (plain noise would average out).
    expect(await stdev(sharp(png).resize(48, 32, { kernel: 'linear' }))).toBeGreaterThan(8);
    // And every region has detail of its own.
    for (const [left, top] of [
      [0, 0],
      [736, 480],
      [1472, 200],
      [300, 960],
    ] as const) {
      expect(await stdev(sharp(png).extract({ left, top, width: 64, height: 64 }))).toBeGreaterThan(3);
    }
    // Neighbouring pixels are alike: it is a picture, not noise.
    const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
    let alike = 0;
    let pairs = 0;
    for (let y = 0; y < info.height; y += 8) {
      for (let x = 0; x + 1 < info.width; x++) {
        const i = y * info.width + x;
        if (Math.abs((data[i] ?? 0) - (data[i + 1] ?? 0)) <= 6) alike++;
        pairs++;
      }
    }
    expect(alike / pairs).toBeGreaterThan(0.8);
  });

  it('tints toward the reference image (image-to-image)', async () => {
    const swatch = (r: number, g: number, b: number) =>
      sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toBuffer();
    const plain = await generate('sku 001', 256, 256);
    const red = await generate('sku 001', 256, 256, { reference: { assetId: 'hero', image: await swatch(220, 30, 30) } });
    const blue = await generate('sku 001', 256, 256, { reference: { assetId: 'hero', image: await swatch(30, 30, 220) } });
    expect(red.equals(plain)).toBe(false);
    expect(red.equals(await generate('sku 001', 256, 256, { reference: { assetId: 'hero', image: await swatch(220, 30, 30) } }))).toBe(true);
    const mean = async (png: Buffer) => (await sharp(png).stats()).channels.map((c) => c.mean);
    const [rr = 0, , rb = 0] = await mean(red);
    const [br = 0, , bb = 0] = await mean(blue);
    expect(rr - rb).toBeGreaterThan(br - bb + 40);
  });

  it('waits GPT4K_PROCEDURAL_LATENCY_MS per call, and the wait is abortable', async () => {
    process.env.GPT4K_PROCEDURAL_LATENCY_MS = '150';
    const started = Date.now();
    await generate('slow', 8, 8);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    process.env.GPT4K_PROCEDURAL_LATENCY_MS = '10000';
    const controller = new AbortController();
    const pending = proceduralProvider.generate(request('slow', 8, 8), { signal: controller.signal, projectRoot: process.cwd() });
    setTimeout(() => controller.abort(), 20);
    const abortedAt = Date.now();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - abortedAt).toBeLessThan(2000);
  });

  it('refuses sizes it cannot draw', async () => {
    await expect(generate('x', 0, 10)).rejects.toMatchObject({ code: 'E_BAD_SIZE' });
    await expect(generate('x', 10.5, 10)).rejects.toMatchObject({ code: 'E_BAD_SIZE' });
  });
});

describe('procedural provider: manifest checks', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await removeProject(dir);
    dir = undefined;
  });

  const manifest = (generate: string) =>
    `version: 1\ndefaults:\n  generate: ${generate}\ntargets:\n  web: { width: 64, height: 64, format: png }\nassets:\n  hero:\n    prompt: "A red apple, front view, centered"\n`;

  it('refuses a quality the OpenAI model it stands in for does not take, with the nearest one', async () => {
    dir = await makeProject({ 'assets.pipeline.yaml': manifest('{ provider: procedural, model: gpt-image-2, size: 64x64, quality: hgh }') });
    const loaded = await loadManifest(path.join(dir, 'assets.pipeline.yaml'));
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.error).toHaveLength(1);
    expect(loaded.error[0]).toMatchObject({ code: 'E_INVALID_QUALITY', hint: expect.stringContaining('did you mean "high"?') });
    expect(loaded.error[0]?.message).toContain('gpt-image-2');
  });

  it('takes any size, and any quality for a model of its own', async () => {
    for (const generate of ['{ provider: procedural, model: gpt-image-2, size: 64x64, quality: low }', '{ provider: procedural, model: sketch, size: 50x30, quality: draft }']) {
      dir = await makeProject({ 'assets.pipeline.yaml': manifest(generate) });
      const loaded = await loadManifest(path.join(dir, 'assets.pipeline.yaml'));
      if (!loaded.ok) expect.fail(loaded.error.map((d) => `${d.code}: ${d.message}`).join('\n'));
      await removeProject(dir);
      dir = undefined;
    }
  });
});
