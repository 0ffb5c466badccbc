import os from 'node:os';
import sharp, { type Sharp } from 'sharp';
import type { Fit, ResolvedTarget } from '../manifest/types.js';
import { MM_PER_INCH } from '../manifest/paper.js';
import type { PreflightResult } from '../report/types.js';
import { GptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import { channelsOf, convertPixels, type ProfileBytes } from './lcms.js';
import { writeImagePdf } from './pdf.js';
import { inkCoverage, type InkCoverage } from './ink.js';
import { describeIcc, sharpProfileArg, type IccColorSpace, type LoadedProfile } from './profiles.js';
import { allocTaggedTiff, taggedTiff } from './tagged.js';
import { tiffInkCoverage } from './tiff-ink.js';
import { encodeThroughPageFile } from './page-file.js';
import { applyProofTable, proofTable } from './proof-lut.js';
import { withTiffTextTags, tiffDateTime, type TiffTextTags } from './tiff-tags.js';
import { xmpPacket, type Provenance } from './xmp.js';

/**
 * Rendering one deliverable: fit, convert, encode.
 *
 *   fit      sharp resizes (lanczos3) to the target's exact pixel size, in the image's own
 *            color space, and flattens onto paper white for formats without alpha;
 *   convert  to the target's profile with its rendering intent;
 *   encode   TIFF (LZW) / PNG / JPEG with the profile embedded, by sharp; PDF by src/color/pdf.ts.
 *
 * Two engines convert (docs/color.md):
 *
 *   - the default, perceptual without black point compensation from sRGB pixels to CMYK, is
 *     libvips' own icc_transform (LittleCMS inside, on every core): fit and conversion are one
 *     libvips pipeline, as a bare sharp script does it, written uncompressed to a scratch file
 *     that libvips then compresses (src/color/page-file.ts): no full-size buffer but the input
 *     and the compressed file. It is within issue 5's tolerance of `tificc -t0`;
 *   - every other intent, BPC, and pixels tagged with their own profile go through LittleCMS in
 *     WebAssembly (src/color/lcms.ts), exactly as `tificc`, written straight into the strip of
 *     a tagged TIFF that sharp then encodes without converting again.
 *
 * Preflight reads the ink of the very samples that were encoded, without a second full-size
 * buffer: counted on the converted buffer, or on the scratch page file a strip at a time,
 * while the encoder runs (src/color/tiff-ink.ts). A small sRGB JPEG preview is made from the
 * input alongside, for the contact sheet.
 */

export interface RenderInfo {
  width: number;
  height: number;
  format: string;
  space: 'cmyk' | 'srgb';
  dpi?: number;
  /** Description of the embedded ICC profile. */
  icc?: string;
  /** Filled in by the render step (src/steps/render.ts) for print deliverables. */
  preflight?: PreflightResult;
}

/** Interleaved 8-bit pixels in a profile's color space, as they were encoded. */
export interface DevicePixels {
  /**
   * The samples, where the render held them whole (LittleCMS conversions, PDF); absent where
   * libvips converted and encoded in one pass and the page never existed uncompressed.
   */
  data?: Buffer;
  width: number;
  height: number;
  space: IccColorSpace;
  /** 1 when an alpha channel was encoded too (PNG only; not included in `data`). */
  alpha: boolean;
}

export interface RenderedTarget {
  data: Buffer;
  info: RenderInfo;
  pixels: DevicePixels;
  /** Total ink of the CMYK pixels exactly as encoded (CMYK deliverables only). */
  ink?: InkCoverage;
  /**
   * A small sRGB JPEG of the deliverable (long edge at most PREVIEW_MAX px, fitted as the
   * target is), for the contact sheet: no need to decode the deliverable back.
   */
  preview: Buffer;
}

/** The preview's long edge and JPEG quality: those of the contact sheet's thumbnails. */
export const PREVIEW_MAX = 360;
const PREVIEW_QUALITY = 78;

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

const FIT: Record<Fit, 'cover' | 'contain' | 'fill'> = { cover: 'cover', contain: 'contain', fill: 'fill' };

/** The target's pixels in the source's color space, before conversion. */
interface Fitted {
  data: Buffer;
  width: number;
  height: number;
  space: IccColorSpace;
  profile: ProfileBytes;
  /** The alpha channel, one byte per pixel, when the format keeps it. */
  alpha?: Buffer;
}

/** Converted pixels: whole (with the tagged TIFF that holds them for the encoder), or encoded already. */
interface Converted {
  device: DevicePixels;
  /** An uncompressed TIFF with the target's profile embedded: device pixels (+ alpha). */
  tiff?: Buffer;
  /** The deliverable itself, when libvips converted and encoded it. */
  encoded?: Buffer;
  /** The ink of the encoded samples, where they were counted on the way. */
  ink?: InkCoverage;
}

function resize(pipeline: Sharp, width: number, height: number, fit: Fit): Sharp {
  return pipeline.resize(width, height, {
    fit: FIT[fit],
    // Centre, not sharp's "attention": the crop must not depend on the picture's content.
    position: 'centre',
    background: WHITE,
    kernel: 'lanczos3',
  });
}

function spaceOf(image: RawImage): IccColorSpace {
  return image.icc ? describeIcc(image.icc).colorSpace : image.channels <= 2 ? 'GRAY' : 'RGB';
}

/** Raw pixels into sharp with no color management: sRGB-like numbers stay as they are. */
function rawInput(image: RawImage): Sharp {
  const data = image.depth === 'ushort' && image.data.byteOffset % 2 !== 0 ? Buffer.from(image.data) : image.data;
  const raw = { width: image.width, height: image.height, channels: image.channels };
  const input = image.depth === 'ushort' ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : data;
  return sharp(input, { raw, limitInputPixels: false });
}

/**
 * Resizes without any color management: sharp sees sRGB-like numbers and leaves them so.
 * 16-bit samples are resized at 16 bits and only then reduced to 8 (sharp would otherwise treat
 * 16-bit RGB as Display P3 on the way through).
 */
async function fitImage(image: RawImage, target: ResolvedTarget, keepAlpha: boolean): Promise<Fitted> {
  const space = spaceOf(image);
  const profile: ProfileBytes = image.icc ?? 'srgb';
  const colorBands = channelsOf(space);
  if (space === 'GRAY' && !image.icc) {
    throw new GptError('E_UNSUPPORTED', 'untagged grayscale pixels cannot be rendered yet; decode them to sRGB first');
  }
  if (image.channels < colorBands || image.channels > colorBands + 1) {
    throw new GptError('E_BAD_IMAGE', `${image.channels}-channel pixels cannot be in a ${space} profile`);
  }
  let pipeline: Sharp;
  if (space === 'CMYK') {
    // A 4-band raw image would be taken for RGBA: go through a CMYK TIFF so the K band is
    // resized as ink, not used as alpha.
    pipeline = sharp(taggedTiff({ ...image, icc: image.icc as Buffer }), { ignoreIcc: true, limitInputPixels: false })
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk');
  } else {
    pipeline = rawInput(image);
    if (image.depth === 'ushort') pipeline = pipeline.toColourspace(space === 'GRAY' ? 'b-w' : 'srgb');
  }
  pipeline = resize(pipeline, target.width, target.height, target.fit);
  const hasAlpha = image.channels > colorBands;
  if (hasAlpha && !keepAlpha) pipeline = pipeline.flatten({ background: WHITE });
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  checkSize(info, target);
  if (info.channels === colorBands) return { data, width: info.width, height: info.height, space, profile };
  const pixels = info.width * info.height;
  const color = Buffer.allocUnsafe(pixels * colorBands);
  const alpha = Buffer.allocUnsafe(pixels);
  for (let p = 0, i = 0; p < pixels; p++) {
    for (let c = 0; c < colorBands; c++) color[p * colorBands + c] = data[i++] as number;
    alpha[p] = data[i++] as number;
  }
  return { data: color, width: info.width, height: info.height, space, profile, alpha };
}

function checkSize(info: { width: number; height: number }, target: ResolvedTarget): void {
  if (info.width !== target.width || info.height !== target.height) {
    throw new GptError('E_INTERNAL', `target "${target.id}": resized to ${info.width}x${info.height}, expected ${target.width}x${target.height}`);
  }
}

/**
 * Whether libvips converts this render: the perceptual intent without black point
 * compensation, from untagged (sRGB) pixels, to a CMYK profile. libvips' icc_transform is
 * LittleCMS with the perceptual intent, run on every core and fused with the resize.
 */
export function libvipsConverts(image: RawImage, target: ResolvedTarget, profile: LoadedProfile): boolean {
  return (
    target.color.intent === 'perceptual' &&
    !target.color.bpc &&
    profile.colorSpace === 'CMYK' &&
    image.icc === undefined &&
    (image.channels === 3 || image.channels === 4)
  );
}

/**
 * The fast path: fit and convert in one libvips pipeline, as a bare sharp script would; for
 * TIFF, through an uncompressed scratch file to libvips' LZW encoder, the ink counted on the
 * way, so no full-size buffer exists but the input and the compressed file. PDF takes the
 * converted samples raw.
 */
async function convertWithLibvips(image: RawImage, target: ResolvedTarget, profile: LoadedProfile, stamp: Stamp, scratchDir: string): Promise<Converted> {
  let pipeline: Sharp;
  if (image.depth === 'uchar') {
    pipeline = resize(rawInput(image), target.width, target.height, target.fit);
  } else {
    // 16-bit: fit at 16 bits down to 8-bit sRGB first (libvips would take 16-bit RGB for P3).
    const fitted = await fitImage(image, target, false);
    pipeline = sharp(fitted.data, { raw: { width: fitted.width, height: fitted.height, channels: 3 }, limitInputPixels: false });
  }
  pipeline = pipeline.flatten({ background: WHITE }).withIccProfile(sharpProfileArg(profile));
  const shape = { width: target.width, height: target.height, space: profile.colorSpace, alpha: false };
  if (target.format === 'pdf') {
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    checkSize(info, target);
    if (info.channels !== 4) throw new GptError('E_INTERNAL', `target "${target.id}": libvips gave ${info.channels} channels, expected CMYK`);
    return { device: { ...shape, data } };
  }
  const { data, info, ink } = await encodeThroughPageFile(pipeline, (file) => tiffOptions(withStamp(file, target, stamp), target), scratchDir);
  checkSize(info, target);
  if (info.channels !== 4) throw new GptError('E_INTERNAL', `target "${target.id}": libvips wrote ${info.channels} channels, expected CMYK`);
  return { device: shape, encoded: data, ...(ink ? { ink } : {}) };
}

/** The deliverable's metadata (src/color/xmp.ts): the XMP packet and the text tags. */
interface Stamp {
  xmp?: string;
  tags?: TiffTextTags;
}

/**
 * XMP by sharp for every format; the text tags as EXIF IFD0 for PNG and JPEG (sharp's
 * withExif). TIFF gets them after encoding (withTiffTextTags): libvips writes no EXIF to TIFF.
 */
function withStamp(pipeline: Sharp, target: ResolvedTarget, stamp: Stamp): Sharp {
  if (stamp.xmp) pipeline = pipeline.withXmp(stamp.xmp);
  const tags = stamp.tags;
  if (tags && (target.format === 'png' || target.format === 'jpeg')) {
    const ifd0: Record<string, string> = {};
    if (tags.imageDescription !== undefined) ifd0.ImageDescription = tags.imageDescription;
    if (tags.software !== undefined) ifd0.Software = tags.software;
    if (tags.dateTime !== undefined) ifd0.DateTime = tiffDateTime(tags.dateTime);
    pipeline = pipeline.withExif({ IFD0: ifd0 });
  }
  return pipeline;
}

function tiffOptions(pipeline: Sharp, target: ResolvedTarget): Sharp {
  const perMm = (target.dpi ?? 300) / MM_PER_INCH;
  return pipeline.tiff({ compression: 'lzw', xres: perMm, yres: perMm, resolutionUnit: 'inch' });
}

/** The CMYK samples of an encoded TIFF, decoded whole by libvips (when tiffInkCoverage cannot read it). */
async function cmykSamples(tiff: Buffer): Promise<Buffer> {
  const { data, info } = await sharp(tiff, { ignoreIcc: true, limitInputPixels: false }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new GptError('E_INTERNAL', `an encoded CMYK TIFF decoded to ${info.channels} channels`);
  return data;
}

/** The exact path: fit in libvips, convert in LittleCMS, straight into a tagged TIFF's strip. */
async function convertWithLcms(image: RawImage, target: ResolvedTarget, profile: LoadedProfile): Promise<Converted> {
  const fitted = await fitImage(image, target, target.format === 'png');
  const bands = channelsOf(profile.colorSpace);
  const shape = { width: fitted.width, height: fitted.height, space: profile.colorSpace, alpha: fitted.alpha !== undefined };
  // sRGB pixels for an sRGB deliverable: nothing to convert (every intent is the identity).
  const identity = fitted.profile === 'srgb' && profile.ref.kind === 'builtin' && profile.ref.name === 'srgb';
  const spec = { from: fitted.profile, fromSpace: fitted.space, to: profile.bytes, toSpace: profile.colorSpace, intent: target.color.intent, bpc: target.color.bpc };
  if (target.format === 'pdf') {
    return { device: { ...shape, data: identity ? fitted.data : await convertPixels(fitted.data, spec) } };
  }
  const channels = (bands + (fitted.alpha ? 1 : 0)) as RawImage['channels'];
  const { tiff, pixels } = allocTaggedTiff({ width: fitted.width, height: fitted.height, channels, depth: 'uchar', icc: profile.bytes });
  if (!fitted.alpha) {
    if (identity) fitted.data.copy(pixels);
    else await convertPixels(fitted.data, spec, pixels);
    return { device: { ...shape, data: pixels }, tiff };
  }
  const color = identity ? fitted.data : await convertPixels(fitted.data, spec);
  interleave(color, fitted.alpha, bands, pixels);
  return { device: { ...shape, data: color }, tiff };
}

function interleave(color: Buffer, alpha: Buffer, bands: number, out: Buffer): void {
  const pixels = alpha.length;
  for (let p = 0, o = 0; p < pixels; p++) {
    for (let c = 0; c < bands; c++) out[o++] = color[p * bands + c] as number;
    out[o++] = alpha[p] as number;
  }
}

/** Encodes the converted pixels with `profile` embedded; sharp is told not to convert them. */
async function encode(converted: Converted, target: ResolvedTarget, profile: LoadedProfile, stamp: Stamp, provenance: Provenance | undefined): Promise<Buffer> {
  const { device, tiff } = converted;
  if (target.format === 'pdf') {
    if (!device.data) throw new GptError('E_INTERNAL', `target "${target.id}": no pixels for the PDF`);
    return writeImagePdf({ ...device, data: device.data }, {
      widthMm: target.widthMm ?? (target.trimWidth / (target.dpi ?? 300)) * MM_PER_INCH,
      heightMm: target.heightMm ?? (target.trimHeight / (target.dpi ?? 300)) * MM_PER_INCH,
      bleedMm: target.bleedMm,
      profile: profile.bytes,
      profileDescription: profile.description,
      title: `${target.id} (${profile.description})`,
      ...(provenance ? { provenance, intent: target.color.intent, bpc: target.color.bpc } : {}),
    });
  }
  if (!tiff) throw new GptError('E_INTERNAL', `target "${target.id}": no pixels to encode`);
  let pipeline = sharp(tiff, { ignoreIcc: true, limitInputPixels: false });
  if (device.space === 'CMYK') pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk');
  pipeline = withStamp(pipeline.keepIccProfile(), target, stamp);
  switch (target.format) {
    case 'tiff':
      return tiffOptions(pipeline, target).toBuffer();
    case 'png':
      if (target.dpi !== undefined) pipeline = pipeline.withDensity(target.dpi);
      return pipeline.png().toBuffer();
    case 'jpeg':
      if (target.dpi !== undefined) pipeline = pipeline.withDensity(target.dpi);
      return pipeline.jpeg({ quality: target.quality ?? 90 }).toBuffer();
  }
}

/** The preview's size: the target's, scaled so its long edge is at most PREVIEW_MAX. */
export function previewSize(target: { width: number; height: number }): { width: number; height: number } {
  const long = Math.max(target.width, target.height);
  if (long <= PREVIEW_MAX) return { width: target.width, height: target.height };
  const scale = PREVIEW_MAX / long;
  return { width: Math.max(1, Math.round(target.width * scale)), height: Math.max(1, Math.round(target.height * scale)) };
}

/**
 * A small sRGB JPEG of the deliverable, made from the input fitted as the target fits it (the
 * same centred crop or letterbox, at preview size): a cheap shrink, where a thumbnail of the
 * deliverable would decode and convert a whole print file back.
 */
async function makePreview(image: RawImage, target: ResolvedTarget, profile: LoadedProfile): Promise<Buffer> {
  const size = previewSize(target);
  let pipeline: Sharp;
  if (image.icc) {
    // Pixels in their own profile (Display P3, CMYK): libvips converts them to sRGB on load.
    pipeline = sharp(taggedTiff({ ...image, icc: image.icc }), { limitInputPixels: false });
  } else {
    pipeline = rawInput(image);
    if (image.depth === 'ushort') pipeline = pipeline.toColourspace(image.channels <= 2 ? 'b-w' : 'srgb');
  }
  const fitted = resize(pipeline, size.width, size.height, target.fit).flatten({ background: WHITE }).toColourspace('srgb');
  if (profile.colorSpace !== 'CMYK') return fitted.jpeg({ quality: PREVIEW_QUALITY, mozjpeg: true }).toBuffer();
  // A print file's preview is a soft proof: through the press profile as the render converts,
  // and back with the paper's white (absolute colorimetric), as gpt4k review shows it; one
  // lookup table per profile and intent, built once per machine (src/color/proof-lut.ts).
  const { data, info } = await fitted.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const table = await proofTable({ profile, intent: target.color.intent, bpc: target.color.bpc, libvips: libvipsConverts(image, target, profile) });
  const proof = applyProofTable(data, table);
  return sharp(proof, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: PREVIEW_QUALITY, mozjpeg: true }).toBuffer();
}

function checkTarget(target: ResolvedTarget, profile: LoadedProfile): void {
  if (!Number.isInteger(target.width) || !Number.isInteger(target.height) || target.width < 1 || target.height < 1) {
    throw new GptError('E_BAD_SIZE', `target "${target.id}": size must be whole pixels, got ${target.width}x${target.height}`);
  }
  if (profile.colorSpace === 'GRAY') {
    throw new GptError('E_UNSUPPORTED', `target "${target.id}": grayscale profile "${profile.name}" (${profile.description}) is not supported yet`, {
      hint: 'use an RGB or CMYK profile',
    });
  }
  if (profile.colorSpace === 'CMYK' && target.format !== 'tiff' && target.format !== 'pdf') {
    throw new GptError('E_BAD_PROFILE', `target "${target.id}": format ${target.format} cannot carry CMYK, but profile "${profile.name}" (${profile.description}) is CMYK`, {
      hint: 'use format: tiff or pdf for CMYK, or an RGB profile (e.g. srgb) for screen formats',
    });
  }
}

/** What goes into the file besides pixels and profile; the PDF writes its own (src/color/pdf.ts). */
function stampOf(target: ResolvedTarget, profile: LoadedProfile, provenance: Provenance | undefined): Stamp {
  if (!provenance || target.format === 'pdf') return {};
  const { intent, bpc } = target.color;
  return {
    xmp: xmpPacket(provenance, { format: target.format, iccDescription: profile.description, intent, bpc }),
    tags: {
      imageDescription: `${provenance.asset}/${provenance.target}`,
      software: `gpt4k ${provenance.toolVersion}`,
      ...(provenance.date ? { dateTime: provenance.date } : {}),
    },
  };
}

export interface RenderOptions {
  /** Where a print page may be written uncompressed on its way (default: the OS temp folder). */
  scratchDir?: string;
}

/** Fits, converts and encodes `image` for one delivery target, with a preview. */
export async function renderTarget(image: RawImage, target: ResolvedTarget, profile: LoadedProfile, provenance?: Provenance, options: RenderOptions = {}): Promise<RenderedTarget> {
  checkTarget(target, profile);
  if (spaceOf(image) === 'GRAY' && !image.icc) {
    throw new GptError('E_UNSUPPORTED', 'untagged grayscale pixels cannot be rendered yet; decode them to sRGB first');
  }
  // The preview shrinks the input on libvips' threads while the conversion runs.
  const preview = makePreview(image, target, profile);
  preview.catch(() => undefined); // awaited below; a failed conversion must not leave it unhandled
  const stamp = stampOf(target, profile, provenance);
  const converted = libvipsConverts(image, target, profile)
    ? await convertWithLibvips(image, target, profile, stamp, options.scratchDir ?? os.tmpdir())
    : await convertWithLcms(image, target, profile);
  const { device } = converted;
  let data: Buffer;
  let ink: InkCoverage | undefined;
  if (converted.encoded) {
    // Counted on the uncompressed page as libvips encoded it; else read back from the file.
    data = converted.encoded;
    if (device.space === 'CMYK') ink = converted.ink ?? tiffInkCoverage(data) ?? inkCoverage(await cmykSamples(data));
  } else {
    const encoding = encode(converted, target, profile, stamp, provenance);
    // Counted on the buffer the encoder is reading, while it encodes.
    if (device.space === 'CMYK' && device.data) ink = inkCoverage(device.data);
    data = await encoding;
  }
  if (target.format === 'tiff' && stamp.tags) data = withTiffTextTags(data, stamp.tags);
  const dpi = target.format === 'tiff' || target.format === 'pdf' ? (target.dpi ?? 300) : target.dpi;
  return {
    data,
    info: {
      width: device.width,
      height: device.height,
      format: target.format,
      space: profile.colorSpace === 'CMYK' ? 'cmyk' : 'srgb',
      ...(dpi !== undefined ? { dpi } : {}),
      icc: profile.description,
    },
    pixels: device,
    ...(ink ? { ink } : {}),
    preview: await preview,
  };
}
