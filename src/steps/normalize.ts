import type { RawImage } from '../util/image.js';

/**
 * White balance to a reference: estimate each image's neutral (the mean of its low-chroma
 * pixels, in linear light) and scale the channels so the asset's neutral matches the
 * reference's chromaticity while keeping its own luminance. Done in 16-bit so the gains
 * introduce no banding.
 */
export async function runNormalize(input: RawImage, whiteBalanceReference: RawImage | undefined): Promise<RawImage> {
  if (!whiteBalanceReference) return input;
  const target = neutralEstimate(whiteBalanceReference);
  const current = neutralEstimate(input);
  const luminance = (c: [number, number, number]) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  const scale = luminance(current) / Math.max(1e-6, luminance(target));
  const gains = [0, 1, 2].map((i) => (target[i as 0 | 1 | 2] * scale) / Math.max(1e-6, current[i as 0 | 1 | 2]));
  return applyGains(input, gains as [number, number, number]);
}

const toLinearTable = new Float64Array(65536);
for (let i = 0; i < 65536; i++) {
  const v = i / 65535;
  toLinearTable[i] = v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

function sample(image: RawImage, index: number): number {
  return image.depth === 'ushort' ? image.data.readUInt16LE(index * 2) : (image.data[index] as number) * 257;
}

/** Mean linear RGB of the image's near-neutral pixels (all pixels if too few are neutral). */
export function neutralEstimate(image: RawImage): [number, number, number] {
  const { width, height, channels } = image;
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / 250_000)));
  const neutral: [number, number, number] = [0, 0, 0];
  const all: [number, number, number] = [0, 0, 0];
  let neutralCount = 0;
  let count = 0;
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      const base = (y * width + x) * channels;
      const r = toLinearTable[sample(image, base)] as number;
      const g = toLinearTable[sample(image, base + 1)] as number;
      const b = toLinearTable[sample(image, base + 2)] as number;
      all[0] += r;
      all[1] += g;
      all[2] += b;
      count++;
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      if (max > 0.05 && max < 0.98 && (max - min) / max < 0.25) {
        neutral[0] += r;
        neutral[1] += g;
        neutral[2] += b;
        neutralCount++;
      }
    }
  }
  const source = neutralCount > count * 0.02 ? neutral : all;
  const n = neutralCount > count * 0.02 ? neutralCount : count;
  return [source[0] / n, source[1] / n, source[2] / n];
}

function applyGains(image: RawImage, gains: [number, number, number]): RawImage {
  const { width, height, channels } = image;
  const out = Buffer.alloc(width * height * channels * 2);
  const lut = gains.map((gain) => {
    const table = new Uint16Array(65536);
    for (let i = 0; i < 65536; i++) {
      const linear = Math.min(1, (toLinearTable[i] as number) * gain);
      const encoded = linear <= 0.0031308 ? linear * 12.92 : 1.055 * linear ** (1 / 2.4) - 0.055;
      table[i] = Math.round(Math.min(1, Math.max(0, encoded)) * 65535);
    }
    return table;
  });
  const pixels = width * height;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      const index = p * channels + c;
      const value = sample(image, index);
      out.writeUInt16LE(c < 3 ? (lut[c] as Uint16Array)[value] as number : value, index * 2);
    }
  }
  return { data: out, width, height, channels, depth: 'ushort' };
}
