import { createHash } from 'node:crypto';
import type { LcmsModule } from 'lcms-wasm';
import type { RenderingIntent } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import type { IccColorSpace } from './profiles.js';

/**
 * The color engine for every conversion libvips cannot make as asked: LittleCMS 2 (the library
 * behind libvips' ICC support and Debian's `tificc`), compiled to WebAssembly by lcms-wasm.
 * sharp converts only with the perceptual intent and without black point compensation, so the
 * relative, saturation and absolute intents, BPC, and pixels tagged with their own profile come
 * here and come out exactly as LittleCMS computes them. The default (perceptual, no BPC, from
 * sRGB) stays in libvips, multi-threaded (src/color/render.ts).
 *
 * lcms-wasm is imported on first use, so a build that only renders perceptually never loads it.
 * Profiles and transforms are built once per process and kept: building a transform costs
 * ~20 ms, applying one to an A3 page at 300 dpi ~0.8 s. Pixels go through the WebAssembly heap
 * a slice at a time, so memory stays flat whatever the image size.
 */

/** A profile by its bytes, or the sRGB every untagged pixel is in. */
export type ProfileBytes = Buffer | 'srgb';

export interface TransformSpec {
  from: ProfileBytes;
  fromSpace: IccColorSpace;
  to: ProfileBytes;
  toSpace: IccColorSpace;
  intent: RenderingIntent;
  bpc: boolean;
}

type LcmsApi = typeof import('lcms-wasm');

interface Engine {
  module: LcmsModule;
  intents: Record<RenderingIntent, number>;
  formats: Record<IccColorSpace, number>;
  bpcFlag: number;
}

const CHANNELS: Record<IccColorSpace, number> = { RGB: 3, CMYK: 4, GRAY: 1 };

/** Pixels per slice through the WebAssembly heap: 1 Mpx, 3-4 MB each way. */
const SLICE_PIXELS = 1 << 20;

let engine: Promise<Engine> | undefined;
const profiles = new Map<string, number>();
const transforms = new Map<string, number>();

async function load(): Promise<Engine> {
  const api: LcmsApi = await import('lcms-wasm');
  return {
    module: await api.instantiate(),
    intents: {
      perceptual: api.INTENT_PERCEPTUAL,
      relative: api.INTENT_RELATIVE_COLORIMETRIC,
      saturation: api.INTENT_SATURATION,
      absolute: api.INTENT_ABSOLUTE_COLORIMETRIC,
    },
    formats: { RGB: api.TYPE_RGB_8, CMYK: api.TYPE_CMYK_8, GRAY: api.TYPE_GRAY_8 },
    bpcFlag: api.cmsFLAGS_BLACKPOINTCOMPENSATION,
  };
}

function lcms(): Promise<Engine> {
  engine ??= load();
  engine.catch(() => (engine = undefined));
  return engine;
}

function profileKey(bytes: ProfileBytes): string {
  return bytes === 'srgb' ? 'srgb' : createHash('sha256').update(bytes).digest('hex');
}

function openProfile(module: LcmsModule, bytes: ProfileBytes): number {
  const key = profileKey(bytes);
  let handle = profiles.get(key);
  if (handle !== undefined) return handle;
  if (bytes === 'srgb') {
    handle = module._cmsCreate_sRGBProfile();
  } else {
    const at = module._malloc(bytes.length);
    module.HEAPU8.set(bytes, at);
    handle = module._cmsOpenProfileFromMem(at, bytes.length);
    module._free(at);
  }
  if (!handle) throw new GptError('E_BAD_PROFILE', 'LittleCMS cannot open the ICC profile (it is damaged or of an unsupported version)');
  profiles.set(key, handle);
  return handle;
}

function transformFor({ module, intents, formats, bpcFlag }: Engine, spec: TransformSpec): number {
  const key = [profileKey(spec.from), spec.fromSpace, profileKey(spec.to), spec.toSpace, spec.intent, spec.bpc].join(':');
  let handle = transforms.get(key);
  if (handle !== undefined) return handle;
  const flags = spec.bpc ? bpcFlag : 0;
  handle = module._cmsCreateTransform(
    openProfile(module, spec.from),
    formats[spec.fromSpace],
    openProfile(module, spec.to),
    formats[spec.toSpace],
    intents[spec.intent],
    flags,
  );
  if (!handle) {
    throw new GptError('E_BAD_PROFILE', `LittleCMS cannot build a ${spec.fromSpace} -> ${spec.toSpace} transform with the ${spec.intent} intent from these profiles`, {
      hint: 'check that the profile is an output (printer) or display profile with the tables for this intent',
    });
  }
  transforms.set(key, handle);
  return handle;
}

/** Channels per pixel of a color space's 8-bit samples. */
export function channelsOf(space: IccColorSpace): number {
  return CHANNELS[space];
}

/**
 * Converts interleaved 8-bit pixels (no alpha) from one profile to another. Yields to the event
 * loop between slices so a long conversion does not starve progress output or cancellation.
 * With `into`, the converted pixels are written there (e.g. straight into the strip of a tagged
 * TIFF, src/color/tagged.ts) instead of a new buffer.
 */
export async function convertPixels(pixels: Buffer, spec: TransformSpec, into?: Buffer): Promise<Buffer> {
  const lib = await lcms();
  const { module } = lib;
  const transform = transformFor(lib, spec);
  const inChannels = CHANNELS[spec.fromSpace];
  const outChannels = CHANNELS[spec.toSpace];
  const count = pixels.length / inChannels;
  if (!Number.isInteger(count)) throw new Error(`convertPixels: ${pixels.length} bytes is not a whole number of ${spec.fromSpace} pixels`);
  if (into && into.length !== count * outChannels) throw new Error(`convertPixels: ${into.length} bytes to write into, expected ${count * outChannels}`);
  const out = into ?? Buffer.allocUnsafe(count * outChannels);
  const slice = Math.min(SLICE_PIXELS, Math.max(1, count));
  const inAt = module._malloc(slice * inChannels);
  const outAt = module._malloc(slice * outChannels);
  try {
    for (let first = 0; first < count; first += slice) {
      const n = Math.min(slice, count - first);
      // HEAPU8 is replaced when the heap grows: read it after every allocation.
      module.HEAPU8.set(pixels.subarray(first * inChannels, (first + n) * inChannels), inAt);
      module._cmsDoTransform(transform, inAt, outAt, n);
      out.set(module.HEAPU8.subarray(outAt, outAt + n * outChannels), first * outChannels);
      if (first + n < count) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    module._free(inAt);
    module._free(outAt);
  }
  return out;
}
