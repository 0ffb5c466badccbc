import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertPixels } from '../src/color/lcms.js';
import { DEFAULT_INK_LIMIT, INK_ROUNDING, inkCoverage } from '../src/color/preflight.js';
import { loadProfile, type LoadedProfile } from '../src/color/profiles.js';
import { libvipsConverts, renderTarget } from '../src/color/render.js';
import { taggedTiff } from '../src/color/tagged.js';
import type { RenderingIntent, ResolvedTarget } from '../src/manifest/types.js';
import { decodeImage } from '../src/steps/decode.js';
import { FOGRA39, SWOP } from './support/paths.js';
import { deltas } from './support/pixels.js';

/**
 * Rendering intents against LittleCMS's own `tificc` (Debian liblcms2-utils) on a patch chart:
 * greys, an RGB cube, skin tones, saturated colors and gradients, through both test profiles.
 *
 * The perceptual intent (the default, no BPC) is converted by libvips (LittleCMS inside, on every
 * core), held to issue 5's bar against `tificc -t0`: on average within 1.5 of 255 and at most 12
 * on any patch. The other intents and BPC go through lcms-wasm and must match `tificc` exactly.
 */

type Rgb = [number, number, number];

function chart(): Rgb[] {
  const patches: Rgb[] = [];
  for (let g = 0; g <= 255; g += 15) patches.push([g, g, g]);
  for (const r of [0, 64, 128, 192, 255]) for (const g of [0, 64, 128, 192, 255]) for (const b of [0, 64, 128, 192, 255]) patches.push([r, g, b]);
  // Skin tones, light to dark.
  patches.push([255, 224, 196], [241, 194, 167], [224, 172, 140], [198, 134, 103], [161, 102, 76], [141, 85, 60], [110, 68, 50], [80, 51, 38], [60, 40, 30]);
  // Saturated and near-gamut-edge colors.
  patches.push([255, 0, 128], [128, 0, 255], [0, 255, 128], [255, 128, 0], [0, 128, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255], [20, 110, 100], [0, 51, 153], [204, 0, 0], [0, 102, 51]);
  // Gradients: white to each primary and secondary, and black to each.
  for (const [r, g, b] of [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]] as const) {
    for (const t of [0.2, 0.4, 0.6, 0.8]) {
      patches.push([Math.round(255 - t * 255 * (1 - r)), Math.round(255 - t * 255 * (1 - g)), Math.round(255 - t * 255 * (1 - b))]);
      patches.push([Math.round(t * 255 * r), Math.round(t * 255 * g), Math.round(t * 255 * b)]);
    }
  }
  return patches;
}

/** Issue 5's tolerance against tificc, in 8-bit ink values. */
const BAR = { mean: 1.5, max: 12 };
const EXACT = { mean: 0, max: 0 };

const INTENTS: { intent: RenderingIntent; bpc: boolean; flags: string[]; engine: 'libvips' | 'lcms-wasm'; within: { mean: number; max: number } }[] = [
  { intent: 'perceptual', bpc: false, flags: ['-t0'], engine: 'libvips', within: BAR },
  { intent: 'perceptual', bpc: true, flags: ['-t0', '-b'], engine: 'lcms-wasm', within: EXACT },
  { intent: 'relative', bpc: true, flags: ['-t1', '-b'], engine: 'lcms-wasm', within: EXACT },
  { intent: 'relative', bpc: false, flags: ['-t1'], engine: 'lcms-wasm', within: EXACT },
  { intent: 'saturation', bpc: false, flags: ['-t2'], engine: 'lcms-wasm', within: EXACT },
  { intent: 'absolute', bpc: false, flags: ['-t3'], engine: 'lcms-wasm', within: EXACT },
];

let work: string;
let chartFile: string;
let patches: Rgb[];
const profiles: Record<string, LoadedProfile> = {};

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'gpt4k-intents-'));
  patches = chart();
  chartFile = path.join(work, 'chart.tif');
  // Untagged: tificc takes it as sRGB, as gpt4k does.
  await sharp(Buffer.from(patches.flat()), { raw: { width: patches.length, height: 1, channels: 3 } }).tiff({ compression: 'none' }).toFile(chartFile);
  profiles.fogra39 = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
  profiles.swop = await loadProfile('swop', { kind: 'file', path: SWOP });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cmykOf(tiff: string | Buffer): Promise<Buffer> {
  return sharp(tiff, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
}

function tificc(flags: string[], profile: string, name: string): string {
  const out = path.join(work, `${name}.tif`);
  const run = spawnSync('tificc', [...flags, `-o${profile}`, chartFile, out], { encoding: 'utf8' });
  if (run.error) throw new Error(`tificc (Debian liblcms2-utils) is required for this test: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`tificc ${flags.join(' ')} failed: ${run.stderr}`);
  return out;
}

function chartTarget(intent: RenderingIntent, bpc: boolean, profile: string): ResolvedTarget {
  return {
    id: 'chart', width: patches.length, height: 1, trimWidth: patches.length, trimHeight: 1, dpi: 300, bleedMm: 0,
    fit: 'fill', format: 'tiff', color: { profile, intent, bpc }, preflight: 'off',
  };
}

describe('rendering intents match tificc', () => {
  it(`has a chart of at least 200 patches`, () => expect(patches.length).toBeGreaterThanOrEqual(200));

  for (const name of ['fogra39', 'swop'] as const) {
    for (const { intent, bpc, flags, engine, within } of INTENTS) {
      const bar = within === EXACT ? 'exactly as tificc' : `mean within ${within.mean} of 255, no patch off by more than ${within.max}`;
      it(`${name} ${intent}${bpc ? ' + bpc' : ''} (tificc ${flags.join(' ')}) by ${engine}: ${bar}`, async () => {
        const profile = profiles[name] as LoadedProfile;
        const want = await cmykOf(tificc(flags, profile.ref.kind === 'file' ? profile.ref.path : '', `${name}-${intent}${bpc ? '-bpc' : ''}`));
        const image = { data: Buffer.from(patches.flat()), width: patches.length, height: 1, channels: 3 as const, depth: 'uchar' as const };
        const target = chartTarget(intent, bpc, name);
        expect(libvipsConverts(image, target, profile)).toBe(engine === 'libvips');
        // The full render path (fit, convert, encode, read back), not only the conversion.
        const rendered = await renderTarget(image, target, profile);
        const got = await cmykOf(rendered.data);
        const d = deltas(got, want);
        console.log(`tificc ${name} ${intent}${bpc ? '+bpc' : ''} by ${engine}: mean ${d.mean.toFixed(3)}, max ${d.max} (of 255, ${patches.length} patches)`);
        expect(d.mean).toBeLessThanOrEqual(within.mean);
        expect(d.max).toBeLessThanOrEqual(within.max);
        // Ink is counted on the pixels that were encoded, whichever engine converted them.
        expect(rendered.ink).toEqual(inkCoverage(got));
      });
    }
  }

  it('gives different inks per intent, as the profiles\' tables differ', async () => {
    const rgb = Buffer.from(patches.flat());
    const fogra = profiles.fogra39 as LoadedProfile;
    const convert = (intent: RenderingIntent, bpc: boolean) => convertPixels(rgb, { from: 'srgb', fromSpace: 'RGB', to: fogra.bytes, toSpace: 'CMYK', intent, bpc });
    const perceptual = await convert('perceptual', false);
    const relative = await convert('relative', true);
    const relativeNoBpc = await convert('relative', false);
    expect(deltas(perceptual, relative).mean).toBeGreaterThan(1);
    expect(perceptual.equals(relative)).toBe(false);
    expect(relative.equals(relativeNoBpc)).toBe(false);
  });

  it('never puts down more ink than the profile allows (300%), whatever the intent and engine', async () => {
    // Every 8-bit sRGB color on a 16-step lattice: the darkest, most saturated corners included.
    const lattice: number[] = [];
    for (let r = 0; r < 256; r += 17) for (let g = 0; g < 256; g += 17) for (let b = 0; b < 256; b += 17) lattice.push(r, g, b);
    const rgb = Buffer.from(lattice);
    const count = lattice.length / 3;
    for (const profile of Object.values(profiles)) {
      for (const { intent, bpc, engine } of INTENTS) {
        // Through the render (the engine that really converts it), read back from the file.
        const target = { ...chartTarget(intent, bpc, profile.name), width: count, trimWidth: count };
        const image = { data: rgb, width: count, height: 1, channels: 3 as const, depth: 'uchar' as const };
        expect(libvipsConverts(image, target, profile)).toBe(engine === 'libvips');
        const rendered = await renderTarget(image, target, profile);
        const encoded = inkCoverage(await cmykOf(rendered.data));
        expect(rendered.ink, `${profile.name} ${intent}: ink counted on the encoded pixels`).toEqual(encoded);
        expect(encoded.max, `${profile.name} ${intent}${bpc ? '+bpc' : ''} by ${engine}: ${encoded.max}%`).toBeLessThanOrEqual(DEFAULT_INK_LIMIT + INK_ROUNDING);
        // And LittleCMS itself, for every intent.
        const ink = inkCoverage(await convertPixels(rgb, { from: 'srgb', fromSpace: 'RGB', to: profile.bytes, toSpace: 'CMYK', intent, bpc }));
        expect(ink.max, `${profile.name} ${intent}: ${ink.max}%`).toBeLessThanOrEqual(DEFAULT_INK_LIMIT + INK_ROUNDING);
      }
    }
  });
});

describe('embedded profiles of source images', () => {
  const colors: Rgb[] = [[200, 60, 40], [40, 160, 90], [50, 80, 200], [128, 128, 128], [230, 200, 170]];
  const raw = () => ({ raw: { width: colors.length, height: 1, channels: 3 as const } });

  it('converts a Display P3 source to sRGB through its profile', async () => {
    const p3File = path.join(work, 'p3.png');
    // sRGB colors re-expressed in Display P3 and tagged so: decoding must give the sRGB back.
    await sharp(Buffer.from(colors.flat()), raw()).withIccProfile('p3').png().toFile(p3File);
    const p3Numbers = await sharp(p3File, { ignoreIcc: true }).raw().toBuffer();
    expect(p3Numbers.equals(Buffer.from(colors.flat()))).toBe(false);
    const decoded = await decodeImage(p3File, 'p3 source');
    [...decoded.data].forEach((v, i) => expect(Math.abs(v - (colors.flat()[i] as number)), `sample ${i}`).toBeLessThanOrEqual(2));
  });

  it('converts a SWOP CMYK source through its profile (as transicc does)', async () => {
    const swop = profiles.swop as LoadedProfile;
    const inks = [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 128], [30, 40, 60, 0]];
    const tiff = taggedTiff({ data: Buffer.from(inks.flat()), width: inks.length, height: 1, channels: 4, depth: 'uchar', icc: swop.bytes });
    const decoded = await decodeImage(tiff, 'swop source');
    const run = spawnSync('transicc', [`-i${SWOP}`, '-o*sRGB', '-t0'], { input: inks.map((row) => row.map((v) => (v * 100) / 255).join(' ')).join('\n') + '\n', encoding: 'utf8' });
    if (run.error) throw new Error(`transicc (liblcms2-utils) is required for this test: ${run.error.message}`);
    const want = run.stdout
      .split('\n')
      .filter((line) => /^\s*R=/.test(line))
      .flatMap((line) => [...line.matchAll(/=(-?[\d.]+)/g)].map((m) => Math.max(0, Math.min(255, Math.round(Number(m[1]))))));
    expect(want).toHaveLength(inks.length * 3);
    [...decoded.data].forEach((v, i) => expect(Math.abs(v - (want[i] as number)), `sample ${i}: ${[...decoded.data]} vs ${want}`).toBeLessThanOrEqual(4));
    // Untagged CMYK would be read with a generic profile: the SWOP tag made a difference.
    expect(decoded.channels).toBe(3);
  });
});
