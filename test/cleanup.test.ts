import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from '../src/engine/build.js';
import { loadManifest } from '../src/index.js';
import { cleanupBackground } from '../src/steps/cleanup.js';
import type { RawImage } from '../src/util/image.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const W = 64;
const H = 48;
/** The product: a box from (16,12) to (47,35), with a near-white label inside it. */
const inProduct = (x: number, y: number) => x >= 16 && x <= 47 && y >= 12 && y <= 35;
const inLabel = (x: number, y: number) => x >= 26 && x <= 37 && y >= 20 && y <= 27;

/** A near-white seamless backdrop (a gentle gradient with noise, 234-254) around a dark product. */
function packshot(): RawImage {
  const data = Buffer.alloc(W * H * 3);
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % 7;
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      let rgb: [number, number, number];
      if (inLabel(x, y)) rgb = [246, 244, 240];
      else if (inProduct(x, y)) rgb = [120 + (x % 5), 60 + (y % 7), 40];
      else {
        const base = 248 - Math.round((y / H) * 10);
        rgb = [base + noise(), base - 2 + noise(), base - 4 + noise()];
      }
      data.set(rgb, i);
    }
  }
  return { data, width: W, height: H, channels: 3, depth: 'uchar' };
}

function check(before: RawImage, after: RawImage, max: number) {
  const at = (image: RawImage, x: number, y: number, c: number) => {
    const i = (y * W + x) * 3 + c;
    return image.depth === 'ushort' ? image.data.readUInt16LE(i * 2) : (image.data[i] as number);
  };
  let backdrop = 0;
  let product = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const nearEdge = [-2, -1, 0, 1, 2].some((d) => inProduct(x + d, y) !== inProduct(x, y) || inProduct(x, y + d) !== inProduct(x, y));
      for (let c = 0; c < 3; c++) {
        if (!inProduct(x, y) && !nearEdge) {
          expect(at(after, x, y, c), `backdrop (${x},${y})`).toBe(max);
          backdrop++;
        }
        if (inProduct(x, y)) {
          // The product, the near-white label inside it included, stays within 1/255.
          expect(Math.abs(at(after, x, y, c) - at(before, x, y, c)), `product (${x},${y})`).toBeLessThanOrEqual(max / 255);
          product++;
        }
      }
    }
  }
  expect(backdrop).toBeGreaterThan(1000);
  expect(product).toBeGreaterThan(1000);
}

describe('packshot cleanup', () => {
  it('makes a near-white backdrop pure white; the product and the white label inside it stay within 1/255', () => {
    const before = packshot();
    const after = cleanupBackground(before, { background: 'white', threshold: 24 });
    check(before, after, 255);
    // Nothing was pure white to begin with.
    expect(Math.max(...before.data)).toBeLessThan(255);
  });

  it('works on 16-bit pixels (after white balance)', () => {
    const eight = packshot();
    const data = Buffer.alloc(eight.data.length * 2);
    for (let i = 0; i < eight.data.length; i++) data.writeUInt16LE((eight.data[i] as number) * 257, i * 2);
    const before: RawImage = { ...eight, data, depth: 'ushort' };
    check(before, cleanupBackground(before, { background: 'white', threshold: 24 }), 65535);
  });

  it('leaves a backdrop farther from white than the threshold alone', () => {
    const before = packshot();
    const after = cleanupBackground(before, { background: 'white', threshold: 0 });
    expect(after.data.equals(before.data)).toBe(true);
  });

  it('runs in the normalize step of a build, keyed by its parameters', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-cleanup-'));
    dirs.push(dir);
    const image = packshot();
    await mkdir(path.join(dir, 'photos'));
    await writeFile(path.join(dir, 'photos/shot.png'), await sharp(image.data, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer());
    const write = (threshold: number) =>
      writeFile(
        path.join(dir, 'assets.pipeline.yaml'),
        `version: 1\ntargets:\n  web: { width: ${W}, height: ${H}, format: png }\nassets:\n  shot:\n    source: photos/shot.png\n    upscale: { engine: none, scale: 1 }\n    normalize: { background: white, threshold: ${threshold} }\n`,
      );
    const buildOnce = async () => {
      const loaded = await loadManifest('assets.pipeline.yaml', { cwd: dir });
      if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
      expect(loaded.value.assets[0]!.normalize).toEqual({ background: 'white', threshold: loaded.value.assets[0]!.normalize!.threshold });
      const result = await build(loaded.value, { contactSheet: false });
      expect(result.exitCode).toBe(0);
      return result.report;
    };
    await write(24);
    const first = await buildOnce();
    expect(first.assets[0]!.steps.find((s) => s.kind === 'render')?.status).toBe('built');
    const { data } = await sharp(await readFile(path.join(dir, 'out/shot/web.png'))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    check(image, { data, width: W, height: H, channels: 3, depth: 'uchar' }, 255);

    await write(30);
    const second = await buildOnce();
    expect(second.assets[0]!.steps.find((s) => s.kind === 'render')?.status).toBe('built');
    const third = await buildOnce();
    expect(third.summary.built).toBe(0);
  });
});
