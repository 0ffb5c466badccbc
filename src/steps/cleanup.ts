import type { NormalizeParams } from '../manifest/types.js';
import type { RawImage } from '../util/image.js';

/** How far (in pixels) past the backdrop the soft edge reaches into the product's outline. */
export const CLEANUP_EDGE_PX = 2;

/**
 * Packshot cleanup (`normalize: { background: white, threshold }`): a near-white seamless
 * backdrop becomes pure white without touching the product.
 *
 * The backdrop is what can be reached from the image border through near-white pixels (every
 * channel within `threshold` of white, 4-connected): a white label or a highlight inside the
 * product is enclosed by darker pixels, so it is never reached and stays as it was. Backdrop
 * pixels become pure white. The anti-aliased outline (pixels within CLEANUP_EDGE_PX of the
 * backdrop and within twice the threshold of white) is blended toward white in proportion to
 * how close to white it already is, so the edge stays soft instead of gaining a grey halo.
 * Every other pixel is copied unchanged. Alpha, when present, is kept.
 */
export function cleanupBackground(image: RawImage, params: NormalizeParams): RawImage {
  const { width, height, channels } = image;
  const color = Math.min(channels, 3);
  const wide = image.depth === 'ushort';
  const max = wide ? 65535 : 255;
  const samples = readSamples(image);
  const out = wide ? new Uint16Array(samples) : new Uint8Array(samples);
  const unit = max / 255;
  const near = params.threshold * unit;
  const soft = 2 * near;
  const pixels = width * height;

  /** Largest distance to white over the color channels (grey images: the one channel). */
  const distance = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let d = 0;
    for (let c = 0; c < color; c++) d = Math.max(d, max - (samples[p * channels + c] as number));
    distance[p] = d;
  }

  // 0: product, 1: backdrop, 2: soft edge.
  const state = new Uint8Array(pixels);
  const queue = new Int32Array(pixels);
  let head = 0;
  let tail = 0;
  const seed = (p: number) => {
    if (state[p] === 0 && (distance[p] as number) <= near) {
      state[p] = 1;
      queue[tail++] = p;
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (head < tail) {
    const p = queue[head++] as number;
    const x = p % width;
    if (x > 0) seed(p - 1);
    if (x < width - 1) seed(p + 1);
    if (p >= width) seed(p - width);
    if (p < pixels - width) seed(p + width);
  }
  const backdrop = tail;

  // The soft edge: rings around the backdrop, CLEANUP_EDGE_PX deep, over pixels close to white.
  let ringStart = 0;
  let ringEnd = backdrop;
  for (let ring = 0; ring < CLEANUP_EDGE_PX; ring++) {
    for (let i = ringStart; i < ringEnd; i++) {
      const p = queue[i] as number;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (state[q] !== 0 || (distance[q] as number) > soft) continue;
          state[q] = 2;
          queue[tail++] = q;
        }
      }
    }
    ringStart = ringEnd;
    ringEnd = tail;
  }

  for (let i = 0; i < tail; i++) {
    const p = queue[i] as number;
    const base = p * channels;
    if (state[p] === 1) {
      for (let c = 0; c < color; c++) out[base + c] = max;
      continue;
    }
    const weight = Math.min(1, Math.max(0, (soft - (distance[p] as number)) / Math.max(near, 1e-9)));
    for (let c = 0; c < color; c++) {
      const v = samples[base + c] as number;
      out[base + c] = Math.round(v + (max - v) * weight);
    }
  }

  const data = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  return { data, width, height, channels, depth: image.depth, ...(image.icc ? { icc: image.icc } : {}) };
}

function readSamples(image: RawImage): Uint8Array | Uint16Array {
  if (image.depth !== 'ushort') return new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  if (image.data.byteOffset % 2 === 0) return new Uint16Array(image.data.buffer, image.data.byteOffset, image.data.byteLength / 2);
  return new Uint16Array(Uint8Array.from(image.data).buffer);
}
