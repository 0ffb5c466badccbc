import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveDpi, inkCoverage, preflightFile, runPreflight } from '../src/color/preflight.js';
import { loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { renderTarget } from '../src/color/render.js';
import { taggedTiff } from '../src/color/tagged.js';
import { mmToPx } from '../src/manifest/paper.js';
import type { ResolvedManifest, ResolvedTarget } from '../src/manifest/types.js';
import { runRender } from '../src/steps/render.js';
import type { PreflightResult } from '../src/report/types.js';
import { GptError } from '../src/util/errors.js';
import type { RawImage } from '../src/util/image.js';
import { FOGRA39, SWOP } from './support/paths.js';

/** A small print target: 50 x 40 mm at 100 dpi, optionally with bleed. */
function print(over: Partial<ResolvedTarget> = {}): ResolvedTarget {
  const dpi = over.dpi ?? 100;
  const bleedMm = over.bleedMm ?? 0;
  const widthMm = over.widthMm ?? 50;
  const heightMm = over.heightMm ?? 40;
  return {
    id: 'card',
    width: mmToPx(widthMm + 2 * bleedMm, dpi),
    height: mmToPx(heightMm + 2 * bleedMm, dpi),
    trimWidth: mmToPx(widthMm, dpi),
    trimHeight: mmToPx(heightMm, dpi),
    dpi,
    bleedMm,
    paper: 'custom',
    widthMm,
    heightMm,
    fit: 'cover',
    format: 'tiff',
    color: { profile: 'fogra39', intent: 'relative', bpc: true },
    preflight: 'error',
    ...over,
  };
}

function photo(width: number, height: number, channels: 3 | 4 = 3): RawImage {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 90;
      if (channels === 4) data[i + 3] = 200;
    }
  }
  return { data, width, height, channels, depth: 'uchar' };
}

let work: string;
let fogra: LoadedProfile;
let swop: LoadedProfile;
let manifest: ResolvedManifest;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'gpt4k-preflight-'));
  fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
  swop = await loadProfile('swop', { kind: 'file', path: SWOP });
  manifest = { profiles: new Map([['fogra39', { kind: 'file', path: FOGRA39 }], ['swop', { kind: 'file', path: SWOP }]]) } as unknown as ResolvedManifest;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

const failed = (result: PreflightResult) => result.checks.filter((c) => !c.ok).map((c) => c.name);
const named = (result: PreflightResult, name: string) => result.checks.find((c) => c.name === name);

async function file(name: string, bytes: Buffer): Promise<string> {
  const at = path.join(work, name);
  writeFileSync(at, bytes);
  return at;
}

describe('preflight in the render step', () => {
  it('passes a good deliverable and records every check with its numbers', async () => {
    const t = print({ bleedMm: 3 });
    const out = await runRender(photo(t.width * 2, t.height * 2), t, manifest);
    const pf = out.info.preflight as PreflightResult;
    expect(pf.ok).toBe(true);
    expect(pf.checks.map((c) => c.name)).toEqual(['resolution', 'color-space', 'profile-embedded', 'ink-max', 'ink-p99', 'alpha', 'bleed']);
    expect(named(pf, 'resolution')).toMatchObject({ value: 200, limit: 100 });
    expect(named(pf, 'profile-embedded')?.message).toContain('FOGRA39L Coated');
    expect(out.warnings).toEqual([]);
  });

  it('counts resolution from the detail the image has (after upscale), fit crop included', () => {
    const t = print({ dpi: 300 }); // 591 x 472 px
    expect(effectiveDpi({ width: 591, height: 472 }, t)).toBeCloseTo(300, 0);
    // Landscape detail cropped into a portrait page: the height decides.
    expect(effectiveDpi({ width: 2000, height: 236 }, t)).toBeCloseTo(150, 0);
    expect(effectiveDpi({ width: 2000, height: 236 }, { ...t, fit: 'contain' })).toBeCloseTo(300 * (2000 / 591), 0);
  });

  it('fails the asset on too little detail, naming the check and the numbers', async () => {
    const t = print(); // 197 x 157 px at 100 dpi
    const err = await runRender(photo(60, 50), t, manifest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GptError);
    expect((err as GptError).code).toBe('E_PREFLIGHT');
    expect((err as GptError).message).toMatch(/resolution: 30\.\d dpi effective \(60x50 px of detail .*\) is below the 100 dpi minimum/);
  });

  it('honours minDpi, and with preflight: warn delivers the file with ok: false and a warning', async () => {
    const t = print({ minDpi: 150, preflight: 'warn' });
    const out = await runRender(photo(t.width, t.height), t, manifest);
    const pf = out.info.preflight as PreflightResult;
    expect(pf.ok).toBe(false);
    expect(failed(pf)).toEqual(['resolution']);
    expect(named(pf, 'resolution')).toMatchObject({ severity: 'warning', value: 100, limit: 150 });
    expect(out.warnings[0]).toMatch(/preflight resolution: 100 dpi effective .* below the 150 dpi minimum/);
    expect(out.data.length).toBeGreaterThan(0);
  });

  it('checks ink against the target\'s inkLimit', async () => {
    // Dark saturated blue: FOGRA39 builds it with close to 300% ink.
    const dark: RawImage = { data: Buffer.alloc(60 * 60 * 3), width: 60, height: 60, channels: 3, depth: 'uchar' };
    for (let i = 0; i < dark.data.length; i += 3) dark.data.set([10, 10, 40], i);
    const t = print({ widthMm: 15, heightMm: 15, inkLimit: 240 });
    const err = (await runRender(dark, t, manifest).catch((e: unknown) => e)) as GptError;
    expect(err.code).toBe('E_PREFLIGHT');
    expect(err.message).toMatch(/ink-max: highest total ink \d+(\.\d)?% exceeds the 240% limit/);
    expect(err.message).toMatch(/ink-p99: 1% of pixels carry more than \d+(\.\d)?% total ink, over the 240% limit/);
    const ok = await runRender(dark, { ...t, inkLimit: undefined }, manifest);
    expect(ok.info.preflight?.ok).toBe(true);
  });

  it('is not run on screen targets or with preflight: off', async () => {
    const screen = { ...print(), dpi: undefined, format: 'png' as const, color: { profile: 'srgb', intent: 'perceptual' as const, bpc: false } };
    expect((await runRender(photo(20, 20), screen, manifest)).info.preflight).toBeUndefined();
    expect((await runRender(photo(20, 20), print({ preflight: 'off' }), manifest)).info.preflight).toBeUndefined();
  });
});

describe('preflight of files: each check made to fail', () => {
  it('passes the deliverable itself', async () => {
    const t = print({ bleedMm: 2 });
    const out = await renderTarget(photo(t.width, t.height), t, fogra);
    const result = await preflightFile(await file('good.tif', out.data), t, fogra);
    expect(failed(result)).toEqual([]);
  });

  it('color-space and profile-embedded: an untagged RGB TIFF for a CMYK target', async () => {
    const t = print();
    const rgb = await sharp(photo(t.width, t.height).data, { raw: { width: t.width, height: t.height, channels: 3 } }).tiff().toBuffer();
    const result = await preflightFile(await file('rgb.tif', rgb), t, fogra);
    expect(failed(result)).toEqual(['color-space', 'profile-embedded']);
    expect(named(result, 'color-space')?.message).toBe('the file is RGB, but profile "FOGRA39L Coated" is CMYK');
    expect(named(result, 'profile-embedded')?.message).toBe('no ICC profile is embedded (the target\'s is "FOGRA39L Coated")');
  });

  it('profile-embedded: a SWOP file for a FOGRA39 target', async () => {
    const t = print();
    const out = await renderTarget(photo(t.width, t.height), { ...t, color: { ...t.color, profile: 'swop' } }, swop);
    const result = await preflightFile(await file('swop.tif', out.data), t, fogra);
    expect(failed(result)).toEqual(['profile-embedded']);
    expect(named(result, 'profile-embedded')?.message).toBe('the embedded profile is "SWOP TR005 Coated", not the target\'s "FOGRA39L Coated"');
  });

  it('ink-max and ink-p99: solid 400% ink', async () => {
    const t = print();
    const inks = Buffer.alloc(t.width * t.height * 4, 255);
    const tiff = taggedTiff({ data: inks, width: t.width, height: t.height, channels: 4, depth: 'uchar', icc: fogra.bytes });
    const result = await preflightFile(await file('ink.tif', tiff), t, fogra);
    expect(failed(result)).toEqual(['ink-max', 'ink-p99']);
    expect(named(result, 'ink-max')).toMatchObject({ value: 400, limit: 300, message: 'highest total ink 400% exceeds the 300% limit' });
    expect(named(result, 'ink-p99')).toMatchObject({ value: 400, limit: 300 });
  });

  it('alpha: an RGBA PNG for an RGB print target', async () => {
    const srgb = await loadProfile('srgb', { kind: 'builtin', name: 'srgb' });
    const t = print({ format: 'png', color: { profile: 'srgb', intent: 'perceptual', bpc: false } });
    const out = await renderTarget(photo(t.width, t.height, 4), t, srgb);
    const result = await preflightFile(await file('alpha.png', out.data), t, srgb);
    expect(failed(result)).toEqual(['alpha']);
    expect(named(result, 'alpha')?.message).toBe('the file has an alpha channel; print files must be flat');
  });

  it('bleed: a file at trim size for a target with bleed', async () => {
    const t = print({ bleedMm: 3 });
    const trimOnly = await renderTarget(photo(t.width, t.height), print(), fogra);
    const result = await preflightFile(await file('nobleed.tif', trimOnly.data), t, fogra);
    // Stretched over the bleed too, its pixels also fall short of 100 dpi.
    expect(failed(result)).toEqual(['resolution', 'bleed']);
    expect(named(result, 'bleed')?.message).toBe(`the file is ${print().width}x${print().height} px; trim ${t.trimWidth}x${t.trimHeight} px + 3 mm bleed on every side is ${t.width}x${t.height} px`);
  });

  it('resolution: a file with too few pixels for the print size', async () => {
    const t = print({ dpi: 300 });
    const small = await renderTarget(photo(100, 80), print({ dpi: 60 }), fogra);
    const result = await preflightFile(await file('small.tif', small.data), t, fogra);
    expect(failed(result)).toEqual(['resolution']);
    expect(named(result, 'resolution')?.message).toMatch(/^59\.7 dpi effective \(118x94 px of detail over 50 mm x 40 mm\) is below the 300 dpi minimum$/);
  });
});

describe('ink coverage', () => {
  it('reads the maximum and the 99th percentile', () => {
    const pixels = Buffer.alloc(1000 * 4);
    for (let p = 0; p < 1000; p++) pixels.set(p < 5 ? [255, 255, 255, 255] : [128, 128, 0, 0], p * 4);
    expect(inkCoverage(pixels)).toEqual({ max: 400, p99: 100.4 });
  });

  it('runPreflight takes the numbers it is given', () => {
    const result = runPreflight({ width: 10, height: 10, space: 'CMYK', alpha: false, embedded: fogra.bytes, cmyk: Buffer.alloc(400, 0), detail: { width: 10, height: 10 } }, print({ width: 10, height: 10, dpi: 100 }), fogra);
    expect(result.ok).toBe(true);
  });
});
