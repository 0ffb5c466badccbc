import { createHash } from 'node:crypto';
import type { default as Sharp } from 'sharp';
import type { GenerateParams } from '../manifest/types.js';
import { GptError, type Diagnostic } from '../util/errors.js';
import { qualityProblem, resolveParamsModel } from './openai-models.js';
import { positionOf, type GenerateContext, type GenerateRequest, type GenerateResult, type ImageProvider, type ValidateContext } from './types.js';

// sharp is loaded on first use: validating a manifest (which loads this provider) stays cheap.
let sharpModule: Promise<typeof Sharp> | undefined;
const loadSharp = async (): Promise<typeof Sharp> => (await (sharpModule ??= import('sharp').then((m) => m.default)));

/**
 * The offline, free provider: deterministic placeholder art for demos, tests and benchmarks.
 *
 * An SVG is derived from a hash of (prompt, size, seed) and rendered by librsvg: a gradient
 * ground, a multi-octave turbulence texture, a few shapes and a "PLACEHOLDER" label with the start
 * of the prompt, so the picture has structure at every scale (the upscaler and the renderer get
 * edges and texture to work on) and nobody mistakes it for real art. With a reference image
 * (image-to-image), the palette is pulled toward the reference's colors, so a batch looks related.
 */

/** Bump when the picture for the same inputs changes: it is part of every generate key. */
const ALGORITHM_VERSION = '1';

const MAX_SIDE = 16_384;
const TEXTURE_SHRINK = 4;

type Rgb = [number, number, number];

/** sfc32: small, fast, and the same sequence on every platform. */
function rng(seed: Buffer): () => number {
  let a = seed.readUInt32LE(0);
  let b = seed.readUInt32LE(4);
  let c = seed.readUInt32LE(8);
  let d = seed.readUInt32LE(12);
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const k = (n: number): number => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [
    Math.round(a[0] + (b[0] - a[0]) * t),
    Math.round(a[1] + (b[1] - a[1]) * t),
    Math.round(a[2] + (b[2] - a[2]) * t),
  ];
}

function hex(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Average colors of the reference's four quadrants, decoded at a tiny size. */
async function referenceColors(image: Buffer): Promise<Rgb[]> {
  const sharp = await loadSharp();
  const { data } = await sharp(image)
    .removeAlpha()
    .resize(2, 2, { fit: 'fill', kernel: 'linear' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const colors: Rgb[] = [];
  for (let i = 0; i + 2 < data.length; i += 3) colors.push([data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0]);
  return colors;
}

function palette(random: () => number, reference: Rgb[] | undefined): Rgb[] {
  const hue = random() * 360;
  const spread = [0, 30, 150, 180, 210][Math.floor(random() * 5)] ?? 30;
  const colors: Rgb[] = [];
  for (let i = 0; i < 6; i++) {
    const h = (hue + (i % 2 === 0 ? 0 : spread) + (random() - 0.5) * 40 + 360) % 360;
    const s = 0.35 + random() * 0.5;
    const l = 0.25 + random() * 0.5;
    colors.push(hslToRgb(h, s, l));
  }
  if (!reference || reference.length === 0) return colors;
  return colors.map((c, i) => mix(c, reference[i % reference.length] ?? c, 0.6));
}

/** One picture as three layers: the ground with shapes and lines, a cloud texture, the label. */
export interface ProceduralScene {
  ground: string;
  textureSeed: number;
  label: { svg: string; top: number };
}

/** The layers of one picture; every number in them comes from the seeded generator. */
export function proceduralScene(prompt: string, width: number, height: number, seed: number, reference?: Rgb[]): ProceduralScene {
  const digest = createHash('sha256')
    .update(JSON.stringify([ALGORITHM_VERSION, prompt, width, height, seed]))
    .digest();
  const random = rng(digest);
  const colors = palette(random, reference);
  const c = (i: number): string => hex(colors[i % colors.length] ?? [128, 128, 128]);
  const min = Math.min(width, height);
  const n = (v: number): string => v.toFixed(1);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`);
  const angle = random() * 360;
  parts.push(
    '<defs>',
    `<linearGradient id="g" gradientTransform="rotate(${n(angle)} .5 .5)">`,
    `<stop offset="0" stop-color="${c(0)}"/><stop offset=".55" stop-color="${c(1)}"/><stop offset="1" stop-color="${c(2)}"/>`,
    '</linearGradient>',
    `<radialGradient id="r"><stop offset="0" stop-color="${c(3)}" stop-opacity=".9"/><stop offset="1" stop-color="${c(3)}" stop-opacity="0"/></radialGradient>`,
    '</defs>',
    `<rect width="${width}" height="${height}" fill="url(#g)"/>`,
  );
  // Large soft forms, then crisp shapes of decreasing size: edges at every scale.
  for (let i = 0; i < 3; i++) {
    const r = min * (0.25 + random() * 0.35);
    parts.push(`<circle cx="${n(random() * width)}" cy="${n(random() * height)}" r="${n(r)}" fill="url(#r)"/>`);
  }
  const shapes = 14;
  for (let i = 0; i < shapes; i++) {
    const size = min * 0.45 * Math.pow(0.8, i) * (0.6 + random() * 0.8);
    const x = random() * width;
    const y = random() * height;
    const fill = c(i + 3);
    const opacity = (0.35 + random() * 0.5).toFixed(2);
    const kind = Math.floor(random() * 3);
    if (kind === 0) {
      parts.push(`<circle cx="${n(x)}" cy="${n(y)}" r="${n(size / 2)}" fill="${fill}" fill-opacity="${opacity}"/>`);
    } else if (kind === 1) {
      parts.push(
        `<rect x="${n(x - size / 2)}" y="${n(y - size / 3)}" width="${n(size)}" height="${n((size * 2) / 3)}" rx="${n(size * 0.08)}" fill="${fill}" fill-opacity="${opacity}" transform="rotate(${n(random() * 90)} ${n(x)} ${n(y)})"/>`,
      );
    } else {
      const points = [0, 1, 2].map((k) => {
        const a = random() * Math.PI * 2 + (k * Math.PI * 2) / 3;
        return `${n(x + Math.cos(a) * size * 0.6)},${n(y + Math.sin(a) * size * 0.6)}`;
      });
      parts.push(`<polygon points="${points.join(' ')}" fill="${fill}" fill-opacity="${opacity}"/>`);
    }
  }
  // Fine lines across the whole picture: detail that survives any crop.
  const lineGap = Math.max(6, Math.round(min / 40));
  const stroke = Math.max(1, min / 900).toFixed(2);
  parts.push(`<g stroke="${c(5)}" stroke-opacity=".35" stroke-width="${stroke}" fill="none" transform="rotate(${n(random() * 180)} ${n(width / 2)} ${n(height / 2)})">`);
  const diag = Math.ceil(Math.hypot(width, height));
  let path = '';
  for (let v = -diag; v <= diag; v += lineGap) path += `M${-diag} ${v}H${diag * 2}`;
  parts.push(`<path d="${path}"/></g></svg>`);
  const textureSeed = Math.floor(random() * 100_000);

  const label = Math.max(10, Math.round(min / 14));
  const small = Math.max(8, Math.round(label * 0.38));
  const text = prompt.length > 60 ? `${prompt.slice(0, 57).trimEnd()}...` : prompt;
  const boxHeight = Math.min(height, Math.ceil(label * 1.2 + small * 1.8));
  const top = Math.max(0, Math.round(height - boxHeight - min * 0.04));
  const labelSvg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${boxHeight}">`,
    `<rect width="${width}" height="${boxHeight}" fill="#000" fill-opacity=".55"/>`,
    `<g font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" fill="#fff" text-anchor="middle">`,
    `<text x="${n(width / 2)}" y="${n(label * 1.05)}" font-size="${label}" font-weight="bold" letter-spacing="${n(label * 0.08)}">PLACEHOLDER</text>`,
    `<text x="${n(width / 2)}" y="${n(label * 1.2 + small * 1.2)}" font-size="${small}">${escapeXml(text)}</text>`,
    '</g></svg>',
  ].join('');
  return { ground: parts.join(''), textureSeed, label: { svg: labelSvg, top } };
}

/**
 * The cloud texture: multi-octave turbulence, rendered at a quarter of the size (feTurbulence is
 * by far the slowest thing librsvg does here) and scaled up; the shapes and lines of the main
 * picture carry the finest detail.
 */
export function turbulenceSvg(width: number, height: number, seed: number): { svg: string; width: number; height: number } {
  const w = Math.max(1, Math.ceil(width / TEXTURE_SHRINK));
  const h = Math.max(1, Math.ceil(height / TEXTURE_SHRINK));
  const frequency = (3 / Math.min(w, h)).toFixed(5);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<filter id="t" x="0" y="0" width="100%" height="100%" filterUnits="userSpaceOnUse" color-interpolation-filters="sRGB">` +
    `<feTurbulence type="fractalNoise" baseFrequency="${frequency}" numOctaves="5" seed="${seed}"/>` +
    // White veils whose opacity follows the noise: light clouds over the picture.
    '<feColorMatrix type="matrix" values="0 0 0 0 1  0 0 0 0 1  0 0 0 0 1  1.4 -0.8 0 0 -0.15"/>' +
    '</filter>' +
    `<rect width="${w}" height="${h}" filter="url(#t)"/></svg>`;
  return { svg, width: w, height: h };
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error('cancelled');
  err.name = 'AbortError';
  return err;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Artificial latency per call, for benchmarks that model a remote provider. */
function latencyMs(): number {
  const raw = process.env.GPT4K_PROCEDURAL_LATENCY_MS;
  if (raw === undefined || raw === '') return 0;
  const ms = Number(raw);
  if (!Number.isFinite(ms) || ms < 0) {
    throw new GptError('E_BAD_ENV', `GPT4K_PROCEDURAL_LATENCY_MS must be a number of milliseconds >= 0, got "${raw}"`);
  }
  return ms;
}

/** Renders the picture for one request as an encoded PNG of exactly width x height. */
export async function renderProcedural(request: Pick<GenerateRequest, 'prompt' | 'width' | 'height' | 'reference'>, seed = 0): Promise<Buffer> {
  const { width, height } = request;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new GptError('E_BAD_SIZE', `procedural: size must be whole pixels between 1 and ${MAX_SIDE}, got ${width}x${height}`);
  }
  const reference = request.reference ? await referenceColors(request.reference.image) : undefined;
  const scene = proceduralScene(request.prompt, width, height, seed, reference);
  const texture = turbulenceSvg(width, height, scene.textureSeed);
  // density 72: librsvg renders each SVG at its own pixel size.
  const sharp = await loadSharp();
  const small = await sharp(Buffer.from(texture.svg), { density: 72 }).raw().toBuffer({ resolveWithObject: true });
  // Scaled up from raw pixels: asked of the SVG itself, sharp would re-render it at full size.
  const clouds = await sharp(small.data, { raw: { width: small.info.width, height: small.info.height, channels: small.info.channels } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(Buffer.from(scene.ground), { density: 72 })
    .composite([
      { input: clouds.data, raw: { width, height, channels: clouds.info.channels } },
      { input: Buffer.from(scene.label.svg), density: 72, top: scene.label.top, left: 0 },
    ])
    .removeAlpha()
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}

export const proceduralProvider: ImageProvider = {
  name: 'procedural',
  remote: false,

  fingerprint(): Record<string, string> {
    return { procedural: ALGORITHM_VERSION };
  },

  /**
   * Draws at any size and ignores the quality, but a project switches it for the model it
   * names (`provider: openai`): a quality that model does not take is refused now, not then.
   */
  validate(params: GenerateParams, { at, fieldAt }: ValidateContext): Diagnostic[] {
    const resolved = resolveParamsModel(params);
    const spec = resolved?.known ? resolved.spec : undefined;
    const problem = spec ? qualityProblem(spec, params.quality) : undefined;
    if (!problem) return [];
    return [{ code: 'E_INVALID_QUALITY', message: `${problem.message} (the model the procedural provider stands in for)`, hint: problem.hint, at: positionOf('quality', at, fieldAt), severity: 'error' }];
  },

  estimateCostUsd(): number {
    return 0;
  },

  async generate(request: GenerateRequest, context: GenerateContext): Promise<GenerateResult> {
    const delay = latencyMs();
    if (delay > 0) await sleep(delay, context.signal);
    else if (context.signal.aborted) throw abortError(context.signal);
    const seed = request.params.seed ?? 0;
    const image = await renderProcedural(request, seed);
    return {
      image,
      costUsd: 0,
      requests: 0,
      retries: 0,
      meta: {
        provider: 'procedural',
        version: ALGORITHM_VERSION,
        seed,
        width: request.width,
        height: request.height,
        ...(request.reference ? { reference: request.reference.assetId } : {}),
      },
    };
  },
};
