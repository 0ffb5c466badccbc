import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import sharp, { type Metadata } from 'sharp';
import type { ResolvedTarget } from '../manifest/types.js';
import { MM_PER_INCH } from '../manifest/paper.js';
import type { PreflightCheck, PreflightResult } from '../report/types.js';
import { GptError } from '../util/errors.js';
import { inkCoverage, type InkCoverage } from './ink.js';
import { describeIcc, type IccColorSpace, type LoadedProfile } from './profiles.js';

export { inkCoverage, InkHistogram, type InkCoverage } from './ink.js';

/**
 * Preflight: the four reasons a repro house sends a file back (too few pixels for the print
 * size, too much ink, the wrong color space, no profile), plus alpha and bleed, checked on the
 * deliverable before it leaves. Each check is a value with the numbers that decided it.
 *
 * Check names (stable; the report and `gpt4k preflight` print them):
 *   resolution        effective dpi at the print size >= target.minDpi ?? target.dpi
 *   color-space       the file's color space is the profile's
 *   profile-embedded  the target's profile is embedded
 *   ink-max           highest total area coverage <= inkLimit (default 300 %) + rounding
 *   ink-p99           99th percentile of total area coverage <= inkLimit
 *   alpha             no alpha channel
 *   bleed             (bleed_mm set) the file is trim + 2 x bleed
 */

export const DEFAULT_INK_LIMIT = 300;
/** Four 8-bit inks each rounded by up to half a step: 4 x 0.5 / 255 = 0.8 %. */
export const INK_ROUNDING = 1;

/** What preflight looks at: the file's properties and, for CMYK, its samples. */
export interface PreflightSubject {
  width: number;
  height: number;
  space: IccColorSpace | 'other';
  alpha: boolean;
  /** The embedded ICC profile, if any. */
  embedded?: Buffer;
  /** Interleaved 8-bit CMYK samples, for ink coverage. */
  cmyk?: Buffer;
  /** Ink coverage already counted on the CMYK samples (by the render, as they were encoded). */
  ink?: InkCoverage;
  /**
   * The pixels of real detail the file was made from: the image after the upscale step, before
   * the final resample to the target. A file checked on its own is its own detail.
   */
  detail: { width: number; height: number };
}


const round1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * Pixels of detail per inch of print. The image is scaled by the fit to cover (or sit inside)
 * the target's full pixel size, bleed included; what it was scaled by divides the target dpi.
 */
export function effectiveDpi(detail: { width: number; height: number }, target: ResolvedTarget): number {
  const dpi = target.dpi ?? 300;
  const sx = target.width / detail.width;
  const sy = target.height / detail.height;
  const scale = target.fit === 'contain' ? Math.min(sx, sy) : Math.max(sx, sy);
  return dpi / scale;
}

function sameProfile(a: Buffer, b: LoadedProfile): boolean {
  if (a.equals(b.bytes)) return true;
  // Some writers rewrite the header (dates, flags): the same description and size is the same profile.
  try {
    return describeIcc(a).description === b.description && a.length === b.bytes.length;
  } catch {
    return false;
  }
}

function mm(px: number, dpi: number): string {
  return `${round1((px / dpi) * MM_PER_INCH)} mm`;
}

/** Runs every check that applies to the target. */
export function runPreflight(subject: PreflightSubject, target: ResolvedTarget, profile: LoadedProfile): PreflightResult {
  const severity: PreflightCheck['severity'] = target.preflight === 'warn' ? 'warning' : 'error';
  const checks: PreflightCheck[] = [];
  const check = (name: string, ok: boolean, message: string, value?: PreflightCheck['value'], limit?: PreflightCheck['limit']) =>
    checks.push({ name, ok, severity, message, ...(value !== undefined ? { value } : {}), ...(limit !== undefined ? { limit } : {}) });

  if (target.dpi !== undefined) {
    const effective = round1(effectiveDpi(subject.detail, target));
    const needed = target.minDpi ?? target.dpi;
    const size = `${mm(target.width, target.dpi)} x ${mm(target.height, target.dpi)}`;
    const from = `${subject.detail.width}x${subject.detail.height} px of detail over ${size}`;
    // A hair under the limit is mm -> px rounding, not missing detail.
    const ok = effective >= needed - 0.5;
    check('resolution', ok, ok ? `${effective} dpi effective (${from}), at least ${needed} dpi` : `${effective} dpi effective (${from}) is below the ${needed} dpi minimum`, effective, needed);
  }

  const spaceName = subject.space === 'other' ? 'an unsupported color space' : subject.space;
  const spaceOk = subject.space === profile.colorSpace;
  check(
    'color-space',
    spaceOk,
    spaceOk ? `${spaceName}, as profile "${profile.description}" is` : `the file is ${spaceName}, but profile "${profile.description}" is ${profile.colorSpace}`,
    subject.space,
    profile.colorSpace,
  );

  const embedded = subject.embedded ? describeEmbedded(subject.embedded) : undefined;
  const profileOk = subject.embedded !== undefined && sameProfile(subject.embedded, profile);
  check(
    'profile-embedded',
    profileOk,
    profileOk
      ? `"${profile.description}" is embedded`
      : subject.embedded
        ? `the embedded profile is "${embedded}", not the target's "${profile.description}"`
        : `no ICC profile is embedded (the target's is "${profile.description}")`,
    embedded ?? false,
    profile.description,
  );

  if (subject.ink ?? subject.cmyk) {
    const limit = target.inkLimit ?? DEFAULT_INK_LIMIT;
    const ink = subject.ink ?? inkCoverage(subject.cmyk as Buffer);
    const maxOk = ink.max <= limit + INK_ROUNDING;
    check('ink-max', maxOk, maxOk ? `highest total ink ${ink.max}%, limit ${limit}%` : `highest total ink ${ink.max}% exceeds the ${limit}% limit`, ink.max, limit);
    const p99Ok = ink.p99 <= limit;
    check('ink-p99', p99Ok, p99Ok ? `99% of pixels at or under ${ink.p99}% total ink, limit ${limit}%` : `1% of pixels carry more than ${ink.p99}% total ink, over the ${limit}% limit`, ink.p99, limit);
  }

  check('alpha', !subject.alpha, subject.alpha ? 'the file has an alpha channel; print files must be flat' : 'no alpha channel', subject.alpha, false);

  if (target.bleedMm > 0) {
    const want = `${target.width}x${target.height}`;
    const got = `${subject.width}x${subject.height}`;
    const ok = want === got;
    const spec = `trim ${target.trimWidth}x${target.trimHeight} px + ${target.bleedMm} mm bleed on every side`;
    check('bleed', ok, ok ? `${got} px = ${spec}` : `the file is ${got} px; ${spec} is ${want} px`, got, want);
  }

  return { ok: checks.every((c) => c.ok), checks };
}

function describeEmbedded(bytes: Buffer): string {
  try {
    return describeIcc(bytes).description || '(no description)';
  } catch {
    return '(not an ICC profile)';
  }
}

/** The error that fails an asset: every failed check, with its numbers. */
export function preflightError(result: PreflightResult, target: ResolvedTarget): GptError {
  const failed = result.checks.filter((c) => !c.ok);
  return new GptError('E_PREFLIGHT', `preflight failed for target "${target.id}": ${failed.map((c) => `${c.name}: ${c.message}`).join('; ')}`, {
    hint: 'fix the cause (a larger image or lower dpi/minDpi, the profile, inkLimit), or set `preflight: warn` on the target to deliver it anyway',
  });
}

/** Preflight of a file on disk (TIFF, PNG, JPEG, or a PDF as gpt4k writes them). */
export async function preflightFile(
  file: string,
  target: ResolvedTarget,
  profile: LoadedProfile,
  options: { detail?: { width: number; height: number } } = {},
): Promise<PreflightResult> {
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new GptError('E_NOT_FOUND', `cannot read ${file}: ${err.code ?? err.message}`, { exitCode: 2 });
  });
  const subject: PdfSubject = bytes.subarray(0, 5).toString('latin1') === '%PDF-' ? pdfSubject(bytes, file) : await imageSubject(bytes, file);
  // A deliverable resampled up to the target's size holds no more detail than the image it was made from.
  const made = options.detail;
  if (made && made.width * made.height < subject.detail.width * subject.detail.height) subject.detail = { width: made.width, height: made.height };
  const result = runPreflight(subject, target, profile);
  if (subject.pageMm && target.widthMm !== undefined && target.heightMm !== undefined) {
    // A PDF's bleed is its page boxes, not its pixels.
    const bleed = result.checks.find((c) => c.name === 'bleed');
    if (bleed) {
      const wantW = target.widthMm + 2 * target.bleedMm;
      const wantH = target.heightMm + 2 * target.bleedMm;
      const { media, trim } = subject.pageMm;
      const ok = Math.abs(media[0] - wantW) < 0.5 && Math.abs(media[1] - wantH) < 0.5 && Math.abs(trim[0] - target.widthMm) < 0.5 && Math.abs(trim[1] - target.heightMm) < 0.5;
      const got = `page ${round1(media[0])} x ${round1(media[1])} mm, trim ${round1(trim[0])} x ${round1(trim[1])} mm`;
      Object.assign(bleed, { ok: ok && bleed.ok, message: ok ? `${got} (${target.bleedMm} mm bleed)` : `${got}; ${target.bleedMm} mm bleed needs a ${round1(wantW)} x ${round1(wantH)} mm page around a ${target.widthMm} x ${target.heightMm} mm trim`, value: got });
      result.ok = result.checks.every((c) => c.ok);
    }
  }
  return result;
}

async function imageSubject(bytes: Buffer, file: string): Promise<PreflightSubject> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes).metadata();
  } catch (err) {
    throw new GptError('E_BAD_IMAGE', `${file} is not a readable image: ${(err as Error).message}`, { exitCode: 2 });
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const space: PreflightSubject['space'] = meta.space === 'cmyk' ? 'CMYK' : meta.space === 'srgb' || meta.space === 'rgb' || meta.space === 'rgb16' ? 'RGB' : meta.space === 'b-w' || meta.space === 'grey16' ? 'GRAY' : 'other';
  const subject: PreflightSubject = { width, height, space, alpha: !!meta.hasAlpha, detail: { width, height }, ...(meta.icc ? { embedded: meta.icc } : {}) };
  if (space === 'CMYK') {
    const { data, info } = await sharp(bytes, { ignoreIcc: true, limitInputPixels: false }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
    subject.cmyk = info.channels === 4 ? data : dropExtra(data, info.channels);
  }
  return subject;
}

function dropExtra(data: Buffer, channels: number): Buffer {
  const pixels = data.length / channels;
  const out = Buffer.allocUnsafe(pixels * 4);
  for (let p = 0; p < pixels; p++) data.copy(out, p * 4, p * channels, p * channels + 4);
  return out;
}

type PdfSubject = PreflightSubject & { pageMm?: { media: [number, number]; trim: [number, number] } };

/**
 * Reads the page boxes, the one image and the output intent of a PDF with a classic
 * cross-reference table and uncompressed object dictionaries, the kind gpt4k writes.
 */
function pdfSubject(bytes: Buffer, file: string): PdfSubject {
  const source = bytes.toString('latin1');
  const objects = new Map<number, { dict: string; stream?: Buffer }>();
  const objectPattern = /(\d+)\s+0\s+obj\s*(<<[\s\S]*?>>)\s*(stream\r?\n|endobj)/g;
  for (let m = objectPattern.exec(source); m; m = objectPattern.exec(source)) {
    const id = Number(m[1]);
    const dict = m[2] as string;
    if (m[3]?.startsWith('stream')) {
      const start = m.index + m[0].length;
      const length = Number(/\/Length\s+(\d+)/.exec(dict)?.[1] ?? NaN);
      if (!Number.isFinite(length)) continue;
      objects.set(id, { dict, stream: bytes.subarray(start, start + length) });
      objectPattern.lastIndex = start + length;
    } else {
      objects.set(id, { dict });
    }
  }
  const unsupported = (why: string) =>
    new GptError('E_UNSUPPORTED', `cannot preflight ${file}: ${why}`, { hint: 'gpt4k preflight reads single-image PDFs as gpt4k writes them; check other PDFs with a PDF/X preflight tool', exitCode: 2 });
  const find = (pattern: RegExp) => [...objects.values()].find((o) => pattern.test(o.dict));
  const image = find(/\/Subtype\s*\/Image/);
  const page = find(/\/Type\s*\/Page\b/);
  if (!image?.stream || !page) throw unsupported('no page with an image XObject found (compressed object streams are not read)');
  const num = (dict: string, key: string) => Number(new RegExp(`/${key}\\s+(\\d+)`).exec(dict)?.[1] ?? NaN);
  const width = num(image.dict, 'Width');
  const height = num(image.dict, 'Height');
  if (!/\/Filter\s*\/FlateDecode/.test(image.dict) || num(image.dict, 'BitsPerComponent') !== 8) throw unsupported('the image is not 8-bit Flate');
  const ref = (dict: string, key: string) => objects.get(Number(new RegExp(`/${key}\\s+(\\d+)\\s+0\\s+R`).exec(dict)?.[1] ?? NaN));
  let space: PreflightSubject['space'] = 'other';
  let imageProfile: Buffer | undefined;
  if (/\/ColorSpace\s*\/DeviceCMYK/.test(image.dict)) space = 'CMYK';
  else if (/\/ColorSpace\s*\/DeviceRGB/.test(image.dict)) space = 'RGB';
  else if (/\/ColorSpace\s*\/DeviceGray/.test(image.dict)) space = 'GRAY';
  else {
    const icc = /\/ColorSpace\s*\[\s*\/ICCBased\s+(\d+)\s+0\s+R\s*\]/.exec(image.dict);
    const stream = icc ? objects.get(Number(icc[1])) : undefined;
    if (stream?.stream) {
      imageProfile = inflate(stream);
      space = describeIcc(imageProfile).colorSpace;
    }
  }
  const intent = find(/\/S\s*\/GTS_PDFX/);
  const dest = intent ? ref(intent.dict, 'DestOutputProfile') : undefined;
  const embedded = imageProfile ?? (dest?.stream ? inflate(dest) : undefined);
  const pixels = inflate(image);
  const box = (key: string): number[] | undefined => {
    const m = new RegExp(`/${key}\\s*\\[([^\\]]*)\\]`).exec(page.dict);
    return m ? (m[1] as string).trim().split(/\s+/).map(Number) : undefined;
  };
  const media = box('MediaBox');
  const trim = box('TrimBox') ?? media;
  const toMm = (points: number) => (points / 72) * MM_PER_INCH;
  const size = (b: number[] | undefined): [number, number] => (b ? [toMm((b[2] ?? 0) - (b[0] ?? 0)), toMm((b[3] ?? 0) - (b[1] ?? 0))] : [0, 0]);
  const subject: PdfSubject = {
    width,
    height,
    space,
    alpha: /\/SMask\s/.test(image.dict),
    detail: { width, height },
    ...(embedded ? { embedded } : {}),
    ...(space === 'CMYK' ? { cmyk: pixels } : {}),
    ...(media ? { pageMm: { media: size(media), trim: size(trim) } } : {}),
  };
  return subject;
}

function inflate(object: { dict: string; stream?: Buffer }): Buffer {
  const stream = object.stream ?? Buffer.alloc(0);
  return /\/Filter\s*\/FlateDecode/.test(object.dict) ? inflateSync(stream) : stream;
}
