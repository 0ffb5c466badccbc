import { describe, expect, it } from 'vitest';
import { adaptationMatrix, apply, chromaticity, estimateCct, mccamyCct, neutralEstimate, type Rgb } from '../src/color/white-balance.js';
import { runNormalize } from '../src/steps/normalize.js';
import type { RawImage } from '../src/util/image.js';

/**
 * White balance, measured: scenes with neutral and colored areas are lit by daylight of
 * 6300-6700 K (a Bradford adaptation of their D65 colors), then normalized to the 6500 K one.
 */

const toLinear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const toEncoded = (v: number): number => (v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055);

/** CIE daylight locus: xy of daylight at `kelvin` (4000-7000 K). */
function daylight(kelvin: number): [number, number] {
  const t = kelvin;
  const x = -4.607e9 / t ** 3 + 2.9678e6 / t ** 2 + 0.09911e3 / t + 0.244063;
  return [x, -3 * x * x + 2.87 * x - 0.275];
}

/** Linear sRGB of a white with chromaticity xy (Y = 1). */
function whiteOf([x, y]: [number, number]): Rgb {
  const X = x / y;
  const Z = (1 - x - y) / y;
  const m = [3.2404542, -1.5371385, -0.4985314, -0.969266, 1.8760108, 0.041556, 0.0556434, -0.2040259, 1.0572252];
  return [m[0]! * X + m[1]! + m[2]! * Z, m[3]! * X + m[4]! + m[5]! * Z, m[6]! * X + m[7]! + m[8]! * Z];
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A scene (linear sRGB under D65): grey seamless with a shadow ramp, colored objects, a sky. */
function scene(seed: number, width = 320, height = 240): Float32Array {
  const random = rng(seed);
  const pixels = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const grey = 0.12 + 0.6 * (1 - y / height) * (0.7 + 0.3 * (x / width));
      pixels.set([grey, grey, grey], (y * width + x) * 3);
    }
  }
  const palette: Rgb[] = [
    [0.6, 0.08, 0.05], [0.05, 0.3, 0.08], [0.04, 0.08, 0.45], [0.7, 0.55, 0.05], [0.45, 0.28, 0.2],
    [0.2, 0.42, 0.6], [0.5, 0.1, 0.35], [0.08, 0.35, 0.35], [0.65, 0.35, 0.25], [0.3, 0.22, 0.05],
    // Nearly neutral objects (beige, slate), the ones a neutral estimate can mistake for grey.
    [0.42, 0.38, 0.33], [0.3, 0.32, 0.36],
  ];
  // Different content per seed: 6-9 objects of random colors, sizes and places (about 40% of the frame).
  const objects = 6 + Math.floor(random() * 4);
  for (let o = 0; o < objects; o++) {
    const color = palette[Math.floor(random() * palette.length)] as Rgb;
    const w = Math.floor(width * (0.12 + random() * 0.18));
    const h = Math.floor(height * (0.12 + random() * 0.25));
    const x0 = Math.floor(random() * (width - w));
    const y0 = Math.floor(random() * (height - h));
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const shade = 0.75 + 0.25 * ((x - x0) / w);
        pixels.set([color[0] * shade, color[1] * shade, color[2] * shade], (y * width + x) * 3);
      }
    }
  }
  return pixels;
}

/** The scene lit by daylight at `kelvin`, as 8-bit sRGB (what the upscale step hands on). */
function lit(linear: Float32Array, kelvin: number, width = 320, height = 240): RawImage {
  const noise = rng(kelvin);
  const m = adaptationMatrix(whiteOf(daylight(6504)), whiteOf(daylight(kelvin)));
  const data = Buffer.alloc(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const rgb = apply(m, [linear[p * 3]!, linear[p * 3 + 1]!, linear[p * 3 + 2]!]);
    for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.round(Math.min(255, Math.max(0, toEncoded(Math.max(0, rgb[c]!)) * 255 + (noise() - 0.5) * 4)));
  }
  return { data, width, height, channels: 3, depth: 'uchar' };
}

const spread = (values: number[]): number => Math.max(...values) - Math.min(...values);

function meanAbsChange8(before: RawImage, after: RawImage): number {
  const samples = new Uint16Array(after.data.buffer, after.data.byteOffset, after.data.length / 2);
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += Math.abs(samples[i]! / 257 - (before.data[i] as number));
  return sum / samples.length;
}

describe('white balance', () => {
  it('McCamy reads daylight temperatures back within a few kelvin', () => {
    for (const k of [5000, 6300, 6500, 6700]) expect(Math.abs(mccamyCct(daylight(k)) - k)).toBeLessThan(25);
    expect(Math.abs(mccamyCct(chromaticity(whiteOf(daylight(6504)))) - 6504)).toBeLessThan(25);
  });

  it('finds the neutral of a scene despite its colored objects', () => {
    for (const kelvin of [6300, 6500, 6700]) {
      const estimated = estimateCct(lit(scene(7), kelvin));
      expect(Math.abs(estimated - kelvin), `${kelvin} K read as ${estimated.toFixed(0)} K`).toBeLessThan(40);
    }
  });

  it('brings a batch spread by ±200 K to within 20% of its spread', async () => {
    const kelvins = [6300, 6400, 6500, 6600, 6700, 6350, 6650];
    const batch = kelvins.map((k, i) => lit(scene(100 + i), k));
    const reference = batch[2] as RawImage; // the 6500 K asset
    const before = batch.map(estimateCct);
    const normalized = await Promise.all(batch.map((image) => runNormalize(image, reference)));
    const after = normalized.map(estimateCct);
    const ratio = spread(after) / spread(before);
    console.log(`white balance: estimated CCT before ${before.map((k) => k.toFixed(0)).join(' ')} (spread ${spread(before).toFixed(0)} K); after ${after.map((k) => k.toFixed(0)).join(' ')} (spread ${spread(after).toFixed(0)} K, ${(ratio * 100).toFixed(1)}%)`);
    expect(spread(before)).toBeGreaterThan(300);
    expect(ratio).toBeLessThanOrEqual(0.2);
    for (const image of normalized) expect(image.depth).toBe('ushort');
    // Each asset keeps its own exposure: the neutral's luminance is unchanged.
    const luminance = (rgb: Rgb) => 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    batch.forEach((image, i) => expect(luminance(neutralEstimate(normalized[i] as RawImage)) / luminance(neutralEstimate(image))).toBeCloseTo(1, 1));
  });

  it('leaves a batch that is already matched (nearly) alone', async () => {
    const batch = [1, 2, 3, 4].map((seed) => lit(scene(200 + seed), 6500));
    const reference = batch[0] as RawImage;
    const changes: number[] = [];
    for (const image of batch) changes.push(meanAbsChange8(image, await runNormalize(image, reference)));
    console.log(`white balance: mean change of an already matched batch ${changes.map((c) => c.toFixed(3)).join(' ')} (8-bit levels)`);
    for (const change of changes) expect(change).toBeLessThan(1);
  });

  it('passes alpha through at 16 bits and leaves grey images alone', async () => {
    const rgba: RawImage = { data: Buffer.from([200, 150, 100, 128, 10, 20, 30, 255]), width: 2, height: 1, channels: 4, depth: 'uchar' };
    const out = await runNormalize(rgba, lit(scene(1), 6300));
    const samples = new Uint16Array(out.data.buffer, out.data.byteOffset, 8);
    expect([samples[3], samples[7]]).toEqual([128 * 257, 255 * 257]);
    const grey: RawImage = { data: Buffer.from([1, 2, 3, 4]), width: 2, height: 2, channels: 1, depth: 'uchar' };
    expect(await runNormalize(grey, lit(scene(1), 6300))).toBe(grey);
    expect(await runNormalize(grey, undefined)).toBe(grey);
  });
});
