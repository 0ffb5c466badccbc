import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp, { type TiffOptions } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { inkCoverage, InkHistogram } from '../src/color/preflight.js';
import { loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { libvipsConverts, renderTarget } from '../src/color/render.js';
import { taggedTiff } from '../src/color/tagged.js';
import { stripLayout, tiffFileInkCoverage, tiffInkCoverage } from '../src/color/tiff-ink.js';
import { diskFull } from '../src/color/page-file.js';
import { toGptError } from '../src/util/errors.js';
import type { ResolvedTarget } from '../src/manifest/types.js';
import type { RawImage } from '../src/util/image.js';
import { FOGRA39 } from './support/paths.js';

/**
 * Ink coverage read back from encoded CMYK TIFFs strip by strip (src/color/tiff-ink.ts), as the
 * perceptual fast path counts it, against the same count on the samples libvips decodes.
 */

let fogra: LoadedProfile;

beforeAll(async () => {
  fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
});

/** Deterministic noise: every byte value, no long runs, so LZW fills its table and clears it. */
function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Smooth gradients with a little noise: long LZW strings, 12-bit codes, several strips. */
function gradientCmyk(width: number, height: number): Buffer {
  const out = Buffer.alloc(width * height * 4);
  const grain = noise(width * height, 7);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const g = (grain[y * width + x] as number) & 3;
      out[i] = Math.round((x / width) * 255);
      out[i + 1] = Math.round((y / height) * 255);
      out[i + 2] = (x + y) % 256;
      out[i + 3] = Math.min(255, ((x * y) % 200) + g);
    }
  }
  return out;
}

/** CMYK samples, exactly these numbers, encoded by libvips as a TIFF with `options`. */
async function cmykTiff(data: Buffer, width: number, height: number, options: TiffOptions): Promise<Buffer> {
  const uncompressed = taggedTiff({ data, width, height, channels: 4, depth: 'uchar', icc: fogra.bytes });
  return sharp(uncompressed, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').keepIccProfile().tiff(options).toBuffer();
}

async function decoded(tiff: Buffer): Promise<Buffer> {
  return sharp(tiff, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
}

describe('ink coverage read back from the TIFF', () => {
  const cases: [string, () => Buffer, number, number][] = [
    ['gradients', () => gradientCmyk(613, 700), 613, 700],
    ['noise', () => noise(301 * 280 * 4, 3), 301, 280],
    ['one pixel', () => Buffer.from([10, 20, 30, 40]), 1, 1],
  ];
  for (const [name, make, width, height] of cases) {
    for (const options of [
      { compression: 'lzw' },
      { compression: 'lzw', predictor: 'none' },
      { compression: 'none' },
    ] as TiffOptions[]) {
      it(`${name}, ${options.compression}${options.predictor ? `, predictor ${options.predictor}` : ''}: the same numbers as the decoded samples`, async () => {
        const pixels = make();
        const tiff = await cmykTiff(pixels, width, height, options);
        const samples = await decoded(tiff);
        expect(samples.equals(pixels)).toBe(true);
        expect(tiffInkCoverage(tiff)).toEqual(inkCoverage(samples));
      });
    }
  }

  it('counts every pixel of every strip (a 400% corner and a blank page differ)', async () => {
    const width = 257;
    const height = 1100; // several strips, the last one short
    const pixels = Buffer.alloc(width * height * 4, 0);
    pixels.fill(255, pixels.length - 4 * 30); // 30 pixels at 400%, in the last strip
    const ink = tiffInkCoverage(await cmykTiff(pixels, width, height, { compression: 'lzw' }));
    expect(ink).toEqual({ max: 400, p99: 0 });
  });

  it('declines what it does not read: RGB, tiled', async () => {
    const rgb = await sharp(noise(20 * 20 * 3), { raw: { width: 20, height: 20, channels: 3 } }).tiff({ compression: 'lzw' }).toBuffer();
    expect(tiffInkCoverage(rgb)).toBeUndefined();
    const tiled = await sharp(await cmykTiff(noise(64 * 64 * 4), 64, 64, { compression: 'none' }), { ignoreIcc: true })
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .tiff({ compression: 'lzw', tile: true, tileWidth: 16, tileHeight: 16 })
      .toBuffer();
    expect(tiffInkCoverage(tiled)).toBeUndefined();
    expect(tiffInkCoverage(Buffer.from('not a tiff at all'))).toBeUndefined();
  });
});

describe('InkHistogram', () => {
  it('undoes horizontal differencing bytewise, carries kept in their byte', () => {
    const rowPixels = 3;
    const pixels = [
      [250, 10, 128, 255],
      [10, 250, 127, 0],
      [255, 255, 255, 255],
    ];
    // Differences mod 256 from the pixel to the left, as TIFF's predictor stores them.
    const diffs = pixels.map((p, i) => p.map((v, k) => (i === 0 ? v : (v - (pixels[i - 1]?.[k] as number) + 256) % 256)));
    const differenced = new InkHistogram();
    differenced.addDifferenced(new Uint32Array(Uint8Array.from(diffs.flat()).buffer), rowPixels);
    expect(differenced.coverage()).toEqual(inkCoverage(Buffer.from(pixels.flat())));
  });
});

describe('the perceptual fast path', () => {
  const target: ResolvedTarget = {
    id: 'card', width: 640, height: 480, trimWidth: 640, trimHeight: 480, dpi: 300, bleedMm: 0,
    fit: 'cover', format: 'tiff', color: { profile: 'fogra39', intent: 'perceptual', bpc: false }, preflight: 'error',
  };
  const image = (): RawImage => {
    const width = 800;
    const height = 500;
    const data = Buffer.alloc(width * height * 3);
    for (let i = 0; i < data.length; i += 3) data.set([(i / 3) % 256, ((i / 3 / width) * 255) / height, 20], i);
    return { data, width, height, channels: 3, depth: 'uchar' };
  };

  it('encodes through a scratch page file, counts the ink of the encoded samples, and leaves no page behind', async () => {
    const input = image();
    expect(libvipsConverts(input, target, fogra)).toBe(true);
    const scratchDir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-scratch-'));
    try {
      const out = await renderTarget(input, target, fogra, undefined, { scratchDir });
      expect(out.pixels.data).toBeUndefined(); // the page never existed uncompressed in memory
      expect(out.ink).toEqual(inkCoverage(await decoded(out.data)));
      expect(out.ink?.max).toBeGreaterThan(100);
      expect(stripLayout(out.data)?.compression).toBe(5); // the deliverable is LZW, not the scratch page
      expect(await readdir(scratchDir)).toEqual([]);
    } finally {
      await rm(scratchDir, { recursive: true, force: true });
    }
  });

  it('a full disk under the scratch page is the user\'s to free (E_NO_SPACE), not a bug', () => {
    const err = diskFull(new Error('tiffsave: TIFFWriteEncodedStrip: No space left on device'), '/p/.gpt4k/tmp/page.tif');
    expect(err?.code).toBe('ENOSPC');
    const gpt = toGptError(err);
    expect(gpt.code).toBe('E_NO_SPACE');
    expect(gpt.message).toContain('/p/.gpt4k/tmp/page.tif');
    expect(diskFull(new Error('tiffsave: unsupported band format'), '/x')).toBeUndefined();
  });

  it('reads the ink of a TIFF file a strip at a time, uncompressed or LZW, as of the samples', async () => {
    const width = 300;
    const height = 200;
    const data = gradientCmyk(width, height);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-inkfile-'));
    try {
      for (const options of [{ compression: 'none' }, { compression: 'lzw', predictor: 'horizontal' }] as TiffOptions[]) {
        const file = path.join(dir, `${options.compression}.tif`);
        await writeFile(file, await cmykTiff(data, width, height, { ...options, tile: false }));
        expect(tiffFileInkCoverage(file)).toEqual(inkCoverage(data));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts the same ink from the raw samples for a PDF', async () => {
    const out = await renderTarget(image(), { ...target, format: 'pdf' }, fogra);
    expect(out.pixels.data).toBeDefined();
    expect(out.ink).toEqual(inkCoverage(out.pixels.data as Buffer));
  });
});
