import type { RawImage } from '../util/image.js';

/**
 * White balance to a reference image (a style's `whiteBalance:` asset), in three steps, all in
 * linear-light sRGB (docs/color.md has the full derivation):
 *
 * 1. Neutral estimate: the mean of the pixels that are grey *after* correcting by the estimate
 *    itself, found by iterating from plain grey. Selecting neutrals relative to the estimate
 *    (not by a fixed chroma threshold on the raw pixels) makes the selection independent of
 *    the cast, so a warm and a cool copy of one scene pick the same pixels.
 * 2. Adaptation: a Bradford chromatic adaptation (the von Kries transform in the Bradford cone
 *    space, as ICC profiles use) that carries the asset's neutral onto the reference's
 *    chromaticity, keeping the asset's own luminance (white balance, not exposure matching).
 * 3. Applied to every pixel at 16 bits per channel, so the correction adds no banding.
 */

export type Rgb = [number, number, number];
type Matrix = [number, number, number, number, number, number, number, number, number];

/** Linear sRGB (D65) to CIE XYZ. */
const RGB_TO_XYZ: Matrix = [0.4124564, 0.3575761, 0.1804375, 0.2126729, 0.7151522, 0.072175, 0.0193339, 0.119192, 0.9503041];
const XYZ_TO_RGB: Matrix = invert(RGB_TO_XYZ);
/** XYZ to Bradford cone responses (rho, gamma, beta). */
const BRADFORD: Matrix = [0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296];
const BRADFORD_INV: Matrix = invert(BRADFORD);

/** A pixel counts as neutral within this chroma of the estimate: (max - min) / max. */
const NEUTRAL_CHROMA = 0.12;
/** Too dark to carry a reliable color, or clipped. */
const MIN_LINEAR = 0.02;
const MAX_LINEAR = 0.95;
const ITERATIONS = 4;
/** Roughly this many pixels are sampled for the estimate, whatever the image size. */
const SAMPLES = 250_000;

export function multiply(a: Matrix, b: Matrix): Matrix {
  const out = new Array<number>(9) as Matrix;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
  }
  return out;
}

export function apply(m: Matrix, v: Rgb): Rgb {
  return [m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2], m[6] * v[0] + m[7] * v[1] + m[8] * v[2]];
}

function invert(m: Matrix): Matrix {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

const TO_LINEAR = new Float32Array(65536);
for (let i = 0; i < 65536; i++) {
  const v = i / 65535;
  TO_LINEAR[i] = v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** Linear [0, 1] in 2^20 steps to 16-bit sRGB: fine enough that a round trip is exact. */
const ENCODE_STEPS = 1 << 20;
let toEncoded: Uint16Array | undefined;
function encodeTable(): Uint16Array {
  if (toEncoded) return toEncoded;
  toEncoded = new Uint16Array(ENCODE_STEPS + 1);
  for (let i = 0; i <= ENCODE_STEPS; i++) {
    const linear = i / ENCODE_STEPS;
    const encoded = linear <= 0.0031308 ? linear * 12.92 : 1.055 * linear ** (1 / 2.4) - 0.055;
    toEncoded[i] = Math.round(encoded * 65535);
  }
  return toEncoded;
}

/** Sample `index` of the image as 16-bit. */
function reader(image: RawImage): (index: number) => number {
  if (image.depth === 'uchar') return (index) => (image.data[index] as number) * 257;
  const data = image.data.byteOffset % 2 === 0 ? image.data : Buffer.from(image.data);
  const samples = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
  return (index) => samples[index] as number;
}

/** Mean linear RGB of the image's neutral pixels (see the module comment). */
export function neutralEstimate(image: RawImage): Rgb {
  const { width, height, channels } = image;
  const read = reader(image);
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / SAMPLES)));
  const count = Math.ceil(height / step) * Math.ceil(width / step);
  const linear = new Float32Array(count * 3);
  let n = 0;
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      const base = (y * width + x) * channels;
      linear[n * 3] = TO_LINEAR[read(base)] as number;
      linear[n * 3 + 1] = TO_LINEAR[read(base + 1)] as number;
      linear[n * 3 + 2] = TO_LINEAR[read(base + 2)] as number;
      n++;
    }
  }
  let estimate: Rgb = [1, 1, 1];
  let fallback: Rgb = [0, 0, 0];
  for (let k = 0; k < n; k++) for (let c = 0; c < 3; c++) fallback[c as 0 | 1 | 2] += (linear[k * 3 + c] as number) / n;
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const mean = Math.max(1e-9, (estimate[0] + estimate[1] + estimate[2]) / 3);
    const gain: Rgb = [mean / Math.max(1e-9, estimate[0]), mean / Math.max(1e-9, estimate[1]), mean / Math.max(1e-9, estimate[2])];
    const sum: Rgb = [0, 0, 0];
    let neutral = 0;
    for (let k = 0; k < n; k++) {
      const r = linear[k * 3] as number;
      const g = linear[k * 3 + 1] as number;
      const b = linear[k * 3 + 2] as number;
      const max = Math.max(r, g, b);
      if (max < MIN_LINEAR || max > MAX_LINEAR) continue;
      const rc = r * gain[0];
      const gc = g * gain[1];
      const bc = b * gain[2];
      const cmax = Math.max(rc, gc, bc);
      if ((cmax - Math.min(rc, gc, bc)) / cmax > NEUTRAL_CHROMA) continue;
      sum[0] += r;
      sum[1] += g;
      sum[2] += b;
      neutral++;
    }
    // Too few neutrals (a saturated illustration): the mean of everything, grey world.
    if (neutral < n * 0.01) return fallback;
    estimate = [sum[0] / neutral, sum[1] / neutral, sum[2] / neutral];
    fallback = estimate;
  }
  return estimate;
}

/** The CIE 1931 xy chromaticity of a linear sRGB color. */
export function chromaticity(rgb: Rgb): [number, number] {
  const [X, Y, Z] = apply(RGB_TO_XYZ, rgb);
  const sum = X + Y + Z;
  return sum > 0 ? [X / sum, Y / sum] : [0.3127, 0.329];
}

/** Correlated color temperature (kelvin) from xy, by McCamy's cubic (good to ~2 K near daylight). */
export function mccamyCct([x, y]: [number, number]): number {
  const n = (x - 0.332) / (0.1858 - y);
  return 449 * n ** 3 + 3525 * n ** 2 + 6823.3 * n + 5520.33;
}

/** The estimated color temperature of an image: its neutral estimate, by McCamy. */
export function estimateCct(image: RawImage): number {
  return mccamyCct(chromaticity(neutralEstimate(image)));
}

/**
 * The linear-RGB matrix that moves `from` (a neutral) to the chromaticity of `to`, as a
 * Bradford adaptation, scaled so `from` keeps its luminance.
 */
export function adaptationMatrix(from: Rgb, to: Rgb): Matrix {
  const fromXyz = apply(RGB_TO_XYZ, from);
  const toXyz = apply(RGB_TO_XYZ, to);
  const a = apply(BRADFORD, fromXyz);
  const b = apply(BRADFORD, toXyz);
  const scale = fromXyz[1] / Math.max(1e-12, toXyz[1]);
  const diagonal: Matrix = [(b[0] / a[0]) * scale, 0, 0, 0, (b[1] / a[1]) * scale, 0, 0, 0, (b[2] / a[2]) * scale];
  return multiply(XYZ_TO_RGB, multiply(BRADFORD_INV, multiply(diagonal, multiply(BRADFORD, RGB_TO_XYZ))));
}

/** Applies a linear-light matrix to every pixel; the result is 16-bit sRGB (alpha kept). */
export function applyMatrix(image: RawImage, m: Matrix): RawImage {
  const { width, height, channels } = image;
  const read = reader(image);
  const encode = encodeTable();
  const out = new Uint16Array(width * height * channels);
  const pixels = width * height;
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = m;
  const clamp = (v: number): number => (v <= 0 ? 0 : v >= 1 ? ENCODE_STEPS : Math.round(v * ENCODE_STEPS));
  for (let p = 0, i = 0; p < pixels; p++, i += channels) {
    const r = TO_LINEAR[read(i)] as number;
    const g = TO_LINEAR[read(i + 1)] as number;
    const b = TO_LINEAR[read(i + 2)] as number;
    out[i] = encode[clamp(m0 * r + m1 * g + m2 * b)] as number;
    out[i + 1] = encode[clamp(m3 * r + m4 * g + m5 * b)] as number;
    out[i + 2] = encode[clamp(m6 * r + m7 * g + m8 * b)] as number;
    if (channels === 4) out[i + 3] = read(i + 3);
  }
  return { data: Buffer.from(out.buffer, out.byteOffset, out.byteLength), width, height, channels, depth: 'ushort', ...(image.icc ? { icc: image.icc } : {}) };
}

/**
 * All normalize needs of a white-balance reference: its neutral estimate, or null for a grey
 * image (nothing to match). Small enough to store as JSON (numbers survive it exactly), so the
 * reference's pixels are read once, not once per asset normalized to it.
 */
export interface BalanceStatistics {
  neutral: Rgb | null;
}

export function balanceStatistics(reference: RawImage): BalanceStatistics {
  return { neutral: reference.channels < 3 ? null : neutralEstimate(reference) };
}

/** `image` with its neutral moved to the color balance of a reference's statistics. Grey images pass through. */
export function whiteBalanceTo(image: RawImage, reference: BalanceStatistics): RawImage {
  if (image.channels < 3 || !reference.neutral) return image;
  return applyMatrix(image, adaptationMatrix(neutralEstimate(image), reference.neutral));
}

/** `image` with its neutral moved to the reference's color balance. Grey images pass through. */
export function whiteBalance(image: RawImage, reference: RawImage): RawImage {
  return whiteBalanceTo(image, balanceStatistics(reference));
}
