import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIcc, loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { renderTarget } from '../src/color/render.js';
import type { Fit, OutputFormat, ResolvedTarget } from '../src/manifest/types.js';
import { GptError } from '../src/util/errors.js';
import type { RawImage } from '../src/util/image.js';
import { FOGRA39, SWOP } from './support/paths.js';
import { bytes, numbers, readTiffTags, Tag } from './support/tiff.js';

type Rgb = [number, number, number];

function target(over: Partial<ResolvedTarget> & { width: number; height: number; format: OutputFormat }): ResolvedTarget {
  return {
    id: over.format,
    trimWidth: over.width,
    trimHeight: over.height,
    bleedMm: 0,
    fit: 'cover',
    color: { profile: 'test', intent: 'perceptual', bpc: true },
    preflight: 'off',
    ...over,
  };
}

const a3 = (bleed: boolean): ResolvedTarget =>
  target({
    id: bleed ? 'a3-bleed' : 'a3',
    format: 'tiff',
    paper: 'A3',
    orientation: 'portrait',
    dpi: 300,
    bleedMm: bleed ? 3 : 0,
    width: bleed ? 3579 : 3508,
    height: bleed ? 5031 : 4961,
    trimWidth: 3508,
    trimHeight: 4961,
  });

function solid(color: Rgb, width = 8, height = 8): RawImage {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(color, i);
  return { data, width, height, channels: 3, depth: 'uchar' };
}

/** A picture with soft gradients and hard edges, so resizes are exercised for real. */
function pattern(width: number, height: number): RawImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const checker = ((x >> 4) + (y >> 4)) % 2 === 0 ? 40 : 0;
      data[i] = Math.round((x / width) * 215) + checker;
      data[i + 1] = Math.round((y / height) * 215) + checker;
      data[i + 2] = 120 + checker;
    }
  }
  return { data, width, height, channels: 3, depth: 'uchar' };
}

/** Vertical thirds: red, green, blue. */
function thirds(width: number, height: number): RawImage {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const band = Math.floor((x * 3) / width);
      data.set(band === 0 ? [255, 0, 0] : band === 1 ? [0, 255, 0] : [0, 0, 255], (y * width + x) * 3);
    }
  }
  return { data, width, height, channels: 3, depth: 'uchar' };
}

/** The CMYK samples exactly as stored in the TIFF, with no color management on the way out. */
async function cmykPixels(tiff: Buffer): Promise<Buffer> {
  return sharp(tiff, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
}

async function rgbPixels(encoded: Buffer): Promise<{ data: Buffer; channels: number; width: number }> {
  const { data, info } = await sharp(encoded, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
  return { data, channels: info.channels, width: info.width };
}

function pixel(p: { data: Buffer; channels: number; width: number }, x: number, y: number): number[] {
  const i = (y * p.width + x) * p.channels;
  return [...p.data.subarray(i, i + p.channels)];
}

let fogra: LoadedProfile;
let swop: LoadedProfile;
let srgb: LoadedProfile;
let work: string;
let srgbFile: string;

beforeAll(async () => {
  fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
  swop = await loadProfile('swop', { kind: 'file', path: SWOP });
  srgb = await loadProfile('srgb', { kind: 'builtin', name: 'srgb' });
  work = mkdtempSync(path.join(tmpdir(), 'gpt4k-render-'));
  srgbFile = path.join(work, 'srgb.icc');
  writeFileSync(srgbFile, srgb.bytes);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** What littleCMS itself computes (perceptual intent): the numbers of each output line. */
function transiccRun(input: string, output: string, lines: number[][]): number[][] {
  const run = spawnSync('transicc', [`-i${input}`, `-o${output}`, '-t0'], {
    input: lines.map((c) => c.join(' ')).join('\n') + '\n',
    encoding: 'utf8',
  });
  if (run.error) throw new Error(`transicc (liblcms2-utils) is required for this test: ${run.error.message}`);
  const rows = run.stdout
    .split('\n')
    .filter((line) => /^\s*[A-Za-z]+=/.test(line))
    .map((line) => [...line.matchAll(/=(-?[\d.]+)/g)].map((m) => Number(m[1])));
  expect(rows).toHaveLength(lines.length);
  return rows;
}

/** sRGB (0-255) to the CMYK littleCMS computes, 0-255 per ink. */
function transicc(output: string, colors: Rgb[]): number[][] {
  return transiccRun(srgbFile, output, colors).map((row) => row.map((v) => Math.round((v * 255) / 100)));
}

describe('profiles', () => {
  it('reads the description and color space from the ICC header and desc tag', () => {
    expect(fogra.description).toBe('FOGRA39L Coated');
    expect(fogra.colorSpace).toBe('CMYK');
    expect(fogra.pcs).toBe('Lab');
    expect(fogra.bytes.equals(readFileSync(FOGRA39))).toBe(true);
    expect(swop.description).toBe('SWOP TR005 Coated');
    expect(srgb.colorSpace).toBe('RGB');
    expect(describeIcc(srgb.bytes).deviceClass).toBe('mntr');
  });

  it('has a built-in CMYK profile', async () => {
    const cmyk = await loadProfile('cmyk', { kind: 'builtin', name: 'cmyk' });
    expect(cmyk.colorSpace).toBe('CMYK');
    expect(cmyk.description.length).toBeGreaterThan(0);
  });

  it('names the file that is not an ICC profile', async () => {
    const fake = path.join(work, 'fake.icc');
    writeFileSync(fake, 'this is not a profile, just some text long enough to have a header'.repeat(4));
    const err = await loadProfile('press', { kind: 'file', path: fake }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GptError);
    expect((err as GptError).code).toBe('E_BAD_PROFILE');
    expect((err as GptError).message).toContain(fake);
  });

  it('reports a missing profile file as E_BAD_PROFILE', async () => {
    const missing = path.join(work, 'missing.icc');
    const err = await loadProfile('press', { kind: 'file', path: missing }).catch((e: unknown) => e);
    expect((err as GptError).code).toBe('E_BAD_PROFILE');
    expect((err as GptError).message).toContain(missing);
  });

  it('rejects bytes that are not a profile in describeIcc', () => {
    expect(() => describeIcc(Buffer.alloc(200))).toThrow(/not an ICC profile/);
  });
});

describe('print TIFF', () => {
  for (const bleed of [false, true]) {
    const t = a3(bleed);
    it(`A3 portrait${bleed ? ' with 3 mm bleed' : ''}: ${t.width}x${t.height} CMYK, LZW, 300 dpi, FOGRA39 embedded, no alpha`, async () => {
      const out = await renderTarget(pattern(1200, 800), t, fogra);
      expect(out.info).toEqual({ width: t.width, height: t.height, format: 'tiff', space: 'cmyk', dpi: 300, icc: 'FOGRA39L Coated' });

      const tags = await readTiffTags(out.data);
      expect(numbers(tags, Tag.ImageWidth)).toEqual([t.width]);
      expect(numbers(tags, Tag.ImageLength)).toEqual([t.height]);
      expect(numbers(tags, Tag.Compression)).toEqual([5]); // LZW
      expect(numbers(tags, Tag.Photometric)).toEqual([5]); // separated (CMYK)
      expect(numbers(tags, Tag.SamplesPerPixel)).toEqual([4]);
      expect(numbers(tags, Tag.BitsPerSample)).toEqual([8, 8, 8, 8]);
      expect(tags.has(Tag.ExtraSamples)).toBe(false);
      expect(numbers(tags, Tag.XResolution)[0]).toBeCloseTo(300, 3);
      expect(numbers(tags, Tag.YResolution)[0]).toBeCloseTo(300, 3);
      expect(numbers(tags, Tag.ResolutionUnit)).toEqual([2]); // inch
      const icc = bytes(tags, Tag.ICCProfile);
      expect(describeIcc(icc).description).toBe('FOGRA39L Coated');
      expect(icc.equals(fogra.bytes)).toBe(true);

      const meta = await sharp(out.data).metadata();
      expect(meta.space).toBe('cmyk');
      expect(meta.density).toBe(300);
      expect(meta.resolutionUnit).toBe('inch');
      expect(meta.hasAlpha).toBe(false);
    });
  }

  it('converts through the profile exactly as littleCMS does, not with a naive formula', async () => {
    const colors: Rgb[] = [
      [255, 255, 255],
      [128, 128, 128],
      [0, 0, 0],
      [255, 0, 0],
      [0, 128, 255],
      [224, 172, 140],
      [20, 110, 100],
    ];
    for (const profile of [fogra, swop]) {
      const expected = transicc(profile.ref.kind === 'file' ? profile.ref.path : '', colors);
      for (const [i, color] of colors.entries()) {
        const out = await renderTarget(solid(color), target({ width: 8, height: 8, format: 'tiff', dpi: 300 }), profile);
        const got = [...(await cmykPixels(out.data)).subarray(0, 4)];
        const want = expected[i] ?? [];
        got.forEach((v, k) => expect(Math.abs(v - (want[k] ?? -99)), `${profile.name} ${color.join(',')} -> ${got} vs ${want}`).toBeLessThanOrEqual(2));
      }
    }
    // Paper white takes no ink; a neutral grey is built from all four inks, as the profile says
    // (a naive 1-max(r,g,b) formula would print it with black only).
    const white = await renderTarget(solid([255, 255, 255]), target({ width: 8, height: 8, format: 'tiff' }), fogra);
    expect([...(await cmykPixels(white.data)).subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    const grey = await renderTarget(solid([128, 128, 128]), target({ width: 8, height: 8, format: 'tiff' }), fogra);
    const [c = 0, m = 0, y = 0, k = 0] = (await cmykPixels(grey.data)).subarray(0, 4);
    expect(c).toBeGreaterThan(60);
    expect(m).toBeGreaterThan(40);
    expect(y).toBeGreaterThan(40);
    expect(k).toBeGreaterThan(10);
    expect(k).toBeLessThan(127);
  });

  it('gives different inks for FOGRA39 and SWOP', async () => {
    const t = target({ width: 8, height: 8, format: 'tiff' });
    const a = await cmykPixels((await renderTarget(solid([0, 128, 255]), t, fogra)).data);
    const b = await cmykPixels((await renderTarget(solid([0, 128, 255]), t, swop)).data);
    expect(a.equals(b)).toBe(false);
  });

  it('flattens alpha onto white and 16-bit input gives the same inks as 8-bit', async () => {
    const t = target({ width: 4, height: 4, format: 'tiff' });
    const rgba: RawImage = { data: Buffer.alloc(4 * 4 * 4, 0), width: 4, height: 4, channels: 4, depth: 'uchar' };
    const clear = await renderTarget(rgba, t, fogra);
    expect(numbers(await readTiffTags(clear.data), Tag.SamplesPerPixel)).toEqual([4]);
    expect([...(await cmykPixels(clear.data)).subarray(0, 4)]).toEqual([0, 0, 0, 0]);

    const eight = await cmykPixels((await renderTarget(solid([255, 0, 0], 4, 4), t, fogra)).data);
    const red16 = new Uint16Array(4 * 4 * 3);
    for (let i = 0; i < red16.length; i += 3) red16[i] = 65535;
    const sixteen: RawImage = { data: Buffer.from(red16.buffer), width: 4, height: 4, channels: 3, depth: 'ushort' };
    const out16 = await cmykPixels((await renderTarget(sixteen, t, fogra)).data);
    [...out16.subarray(0, 4)].forEach((v, k) => expect(Math.abs(v - (eight[k] ?? -99))).toBeLessThanOrEqual(2));
  });

  it('converts pixels tagged with their own profile from that profile', async () => {
    const t = target({ width: 4, height: 4, format: 'tiff' });
    // sRGB pixels tagged sRGB: the same as untagged.
    const untagged = await cmykPixels((await renderTarget(solid([0, 128, 255], 4, 4), t, fogra)).data);
    const tagged = await cmykPixels((await renderTarget({ ...solid([0, 128, 255], 4, 4), icc: srgb.bytes }, t, fogra)).data);
    [...tagged.subarray(0, 4)].forEach((v, k) => expect(Math.abs(v - (untagged[k] ?? -99))).toBeLessThanOrEqual(2));
    // FOGRA39 CMYK pixels: unprinted paper stays unprinted in SWOP; a solid cyan goes straight
    // from FOGRA39 to SWOP (no sRGB in between to clip it), exactly as littleCMS computes it.
    const cmyk = (inks: number[]): RawImage => ({
      data: Buffer.from(Array.from({ length: 16 }, () => inks).flat()),
      width: 4,
      height: 4,
      channels: 4,
      depth: 'uchar',
      icc: fogra.bytes,
    });
    expect([...(await cmykPixels((await renderTarget(cmyk([0, 0, 0, 0]), t, swop)).data)).subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    const cyan = [...(await cmykPixels((await renderTarget(cmyk([255, 0, 0, 0]), t, swop)).data)).subarray(0, 4)];
    const want = transiccRun(FOGRA39, SWOP, [[100, 0, 0, 0]]).map((row) => row.map((v) => Math.round((v * 255) / 100)))[0] ?? [];
    cyan.forEach((v, k) => expect(Math.abs(v - (want[k] ?? -99)), `${cyan} vs ${want}`).toBeLessThanOrEqual(2));
    expect(cyan[0]).toBeGreaterThan(150);
  });

  it('keeps RGB when a print target uses an RGB profile', async () => {
    const out = await renderTarget(pattern(64, 64), target({ width: 32, height: 48, format: 'tiff', dpi: 300 }), srgb);
    const tags = await readTiffTags(out.data);
    expect(numbers(tags, Tag.Photometric)).toEqual([2]);
    expect(numbers(tags, Tag.SamplesPerPixel)).toEqual([3]);
    expect(numbers(tags, Tag.Compression)).toEqual([5]);
    expect(out.info.space).toBe('srgb');
  });

  it('writes pdf (test/pdf.test.ts reads it back)', async () => {
    const out = await renderTarget(solid([1, 2, 3]), target({ width: 8, height: 8, format: 'pdf', dpi: 300 }), fogra);
    expect(out.data.subarray(0, 8).toString('latin1')).toBe('%PDF-1.6');
    expect(out.info).toMatchObject({ format: 'pdf', space: 'cmyk', dpi: 300 });
  });
});

describe('screen formats', () => {
  it('UHD PNG: 3840x2160 sRGB with the sRGB profile embedded', async () => {
    const out = await renderTarget(pattern(1536, 1024), target({ width: 3840, height: 2160, format: 'png' }), srgb);
    expect(out.info).toMatchObject({ width: 3840, height: 2160, format: 'png', space: 'srgb', icc: 'sRGB' });
    const meta = await sharp(out.data).metadata();
    expect([meta.format, meta.width, meta.height, meta.space, meta.channels]).toEqual(['png', 3840, 2160, 'srgb', 3]);
    expect(meta.icc && describeIcc(meta.icc).description).toBe('sRGB');
  });

  it('JPEG: quality honoured, alpha flattened, sRGB profile embedded', async () => {
    const rgba = { ...pattern(64, 64), channels: 4 as const, data: Buffer.alloc(64 * 64 * 4, 200) };
    const t = target({ width: 64, height: 64, format: 'jpeg' });
    const low = await renderTarget(rgba, { ...t, quality: 30 }, srgb);
    const high = await renderTarget(pattern(64, 64), { ...t, quality: 95 }, srgb);
    const highLow = await renderTarget(pattern(64, 64), { ...t, quality: 30 }, srgb);
    expect(highLow.data.length).toBeLessThan(high.data.length);
    const meta = await sharp(low.data).metadata();
    expect([meta.format, meta.channels, meta.hasAlpha]).toEqual(['jpeg', 3, false]);
    expect(meta.icc && describeIcc(meta.icc).description).toBe('sRGB');
  });

  it('refuses a CMYK profile for PNG', async () => {
    const err = await renderTarget(solid([1, 2, 3]), target({ width: 8, height: 8, format: 'png' }), fogra).catch((e: unknown) => e);
    expect((err as GptError).code).toBe('E_BAD_PROFILE');
  });
});

describe('fit', () => {
  const render = async (fit: Fit, width: number, height: number): Promise<{ data: Buffer; channels: number; width: number }> => {
    const out = await renderTarget(thirds(300, 100), target({ width, height, format: 'png', fit }), srgb);
    const meta = await sharp(out.data).metadata();
    expect([meta.width, meta.height]).toEqual([width, height]);
    return rgbPixels(out.data);
  };

  it('cover crops the centre', async () => {
    const p = await render('cover', 90, 90);
    for (const x of [2, 45, 87]) expect(pixel(p, x, 45)).toEqual([0, 255, 0]);
  });

  it('contain pads with white', async () => {
    const p = await render('contain', 90, 90);
    expect(pixel(p, 45, 2)).toEqual([255, 255, 255]);
    expect(pixel(p, 45, 87)).toEqual([255, 255, 255]);
    expect(pixel(p, 5, 45)).toEqual([255, 0, 0]);
    expect(pixel(p, 45, 45)).toEqual([0, 255, 0]);
    expect(pixel(p, 85, 45)).toEqual([0, 0, 255]);
  });

  it('fill stretches', async () => {
    const p = await render('fill', 90, 91);
    expect(pixel(p, 5, 2)).toEqual([255, 0, 0]);
    expect(pixel(p, 45, 88)).toEqual([0, 255, 0]);
    expect(pixel(p, 85, 45)).toEqual([0, 0, 255]);
  });

  it('gives exact odd sizes in every mode', async () => {
    for (const fit of ['cover', 'contain', 'fill'] as const) {
      const out = await renderTarget(pattern(101, 57), target({ width: 1000, height: 333, format: 'tiff', fit }), fogra);
      expect([out.info.width, out.info.height]).toEqual([1000, 333]);
    }
  });
});
