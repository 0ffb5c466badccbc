import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { BuiltinProfileName, ProfileRef } from '../manifest/types.js';
import { GptError } from '../util/errors.js';

/**
 * ICC profiles: the built-ins (sRGB and a generic CMYK from libvips, two CC0 press profiles from icc/) and files
 * named by the manifest. A profile's bytes are part of every render key, so they are read
 * exactly once per build and never rewritten.
 */

export type IccColorSpace = 'CMYK' | 'RGB' | 'GRAY';

export interface IccInfo {
  /** The text of the 'desc' tag, e.g. "FOGRA39L Coated". */
  description: string;
  colorSpace: IccColorSpace;
  /** Header bytes 12-15: 'prtr' (output), 'mntr' (display), 'scnr', 'link', 'spac', ... */
  deviceClass: string;
}

export interface LoadedProfile {
  /** The manifest's name for it (a key of `profiles`, or a built-in name). */
  name: string;
  ref: ProfileRef;
  /** The profile exactly as stored. */
  bytes: Buffer;
  description: string;
  colorSpace: IccColorSpace;
  /** Profile connection space, header bytes 20-23: 'Lab' or 'XYZ'. */
  pcs: string;
  deviceClass: string;
}

const HEADER_SIZE = 128;
const COLOR_SPACES: Record<string, IccColorSpace> = { CMYK: 'CMYK', RGB: 'RGB', GRAY: 'GRAY' };

class NotIcc extends Error {}

function signature(bytes: Buffer, offset: number): string {
  return bytes.toString('latin1', offset, offset + 4).replace(/[\0 ]+$/, '');
}

/** Reads the header and the 'desc' tag of an ICC profile; throws NotIcc for anything else. */
function parseIcc(bytes: Buffer): IccInfo & { pcs: string } {
  if (bytes.length < HEADER_SIZE + 4 || signature(bytes, 36) !== 'acsp') {
    throw new NotIcc('no ICC header (the "acsp" signature is missing)');
  }
  const declaredSize = bytes.readUInt32BE(0);
  if (declaredSize > bytes.length) {
    throw new NotIcc(`truncated: the header says ${declaredSize} bytes, the file has ${bytes.length}`);
  }
  const space = signature(bytes, 16);
  const colorSpace = COLOR_SPACES[space];
  if (!colorSpace) throw new NotIcc(`unsupported color space "${space}" (expected CMYK, RGB or GRAY)`);
  return {
    description: readDescription(bytes) ?? '',
    colorSpace,
    deviceClass: signature(bytes, 12),
    pcs: signature(bytes, 20),
  };
}

function readDescription(bytes: Buffer): string | undefined {
  const count = bytes.readUInt32BE(HEADER_SIZE);
  for (let i = 0; i < count; i++) {
    const entry = HEADER_SIZE + 4 + i * 12;
    if (entry + 12 > bytes.length) throw new NotIcc('truncated tag table');
    if (signature(bytes, entry) !== 'desc') continue;
    const offset = bytes.readUInt32BE(entry + 4);
    const size = bytes.readUInt32BE(entry + 8);
    if (offset + size > bytes.length || size < 12) throw new NotIcc('the "desc" tag lies outside the file');
    return decodeText(bytes.subarray(offset, offset + size));
  }
  return undefined;
}

/** v2 textDescriptionType ('desc'), v4 multiLocalizedUnicodeType ('mluc'), or plain 'text'. */
function decodeText(tag: Buffer): string {
  const type = signature(tag, 0);
  if (type === 'desc') {
    const length = tag.readUInt32BE(8);
    return trimNul(tag.toString('latin1', 12, Math.min(tag.length, 12 + length)));
  }
  if (type === 'mluc') {
    const records = tag.readUInt32BE(8);
    const recordSize = tag.readUInt32BE(12);
    if (records === 0) return '';
    // Prefer English; otherwise the first record.
    let chosen = 16;
    for (let r = 0; r < records; r++) {
      const at = 16 + r * recordSize;
      if (at + 12 > tag.length) break;
      if (tag.toString('latin1', at, at + 2) === 'en') {
        chosen = at;
        break;
      }
    }
    const length = tag.readUInt32BE(chosen + 4);
    const offset = tag.readUInt32BE(chosen + 8);
    const utf16 = Buffer.from(tag.subarray(offset, Math.min(tag.length, offset + length)));
    return trimNul(utf16.swap16().toString('utf16le'));
  }
  if (type === 'text') return trimNul(tag.toString('latin1', 8));
  return '';
}

function trimNul(text: string): string {
  const nul = text.indexOf('\0');
  return (nul === -1 ? text : text.slice(0, nul)).trim();
}

/** The description, color space and device class of ICC profile bytes. */
export function describeIcc(bytes: Buffer): IccInfo {
  try {
    const { description, colorSpace, deviceClass } = parseIcc(bytes);
    return { description, colorSpace, deviceClass };
  } catch (err) {
    if (err instanceof NotIcc) throw new GptError('E_BAD_PROFILE', `not an ICC profile: ${err.message}`);
    throw err;
  }
}

/**
 * Where each built-in profile comes from: a libvips built-in (by sharp's name for it) or a file
 * shipped in gpt4k's icc/ folder (the CC0 press profiles, see icc/README.md).
 */
const BUILTIN_SOURCES: Record<BuiltinProfileName, { libvips: 'srgb' | 'cmyk' } | { file: string }> = {
  srgb: { libvips: 'srgb' },
  'libvips-cmyk': { libvips: 'cmyk' },
  cmyk: { libvips: 'cmyk' },
  fogra39: { file: 'FOGRA39L_coated.icc' },
  'swop-tr005': { file: 'SWOP_TR005_coated_5.icc' },
};

/** gpt4k's icc/ folder: two levels up from both src/color/ and dist/color/. */
const SHIPPED_ICC_DIR = fileURLToPath(new URL('../../icc/', import.meta.url));

/** The absolute path of a built-in profile shipped as a file, or undefined for libvips' own. */
export function shippedProfilePath(name: BuiltinProfileName): string | undefined {
  const source = BUILTIN_SOURCES[name];
  return 'file' in source ? path.join(SHIPPED_ICC_DIR, source.file) : undefined;
}

const builtinBytes = new Map<BuiltinProfileName, Promise<Buffer>>();

/** A built-in profile's bytes: a shipped file, or libvips' own read back from a 1x1 image sharp tags with it. */
export function builtinProfileBytes(name: BuiltinProfileName): Promise<Buffer> {
  let bytes = builtinBytes.get(name);
  if (!bytes) {
    const source = BUILTIN_SOURCES[name];
    bytes = 'file' in source ? readFile(path.join(SHIPPED_ICC_DIR, source.file)) : libvipsProfileBytes(source.libvips);
    builtinBytes.set(name, bytes);
    bytes.catch(() => builtinBytes.delete(name));
  }
  return bytes;
}

function libvipsProfileBytes(name: 'srgb' | 'cmyk'): Promise<Buffer> {
  return sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
    .withIccProfile(name)
    .tiff()
    .toBuffer()
    .then((tiff) => sharp(tiff).metadata())
    .then((meta) => {
      if (!meta.icc) throw new GptError('E_INTERNAL', `libvips has no built-in "${name}" profile`);
      return meta.icc;
    });
}

/** Reads a profile named by the manifest and checks that it is one. */
export async function loadProfile(name: string, ref: ProfileRef): Promise<LoadedProfile> {
  let bytes: Buffer;
  if (ref.kind === 'builtin') {
    bytes = await builtinProfileBytes(ref.name);
  } else {
    try {
      bytes = await readFile(ref.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new GptError('E_BAD_PROFILE', `cannot read ICC profile "${name}" at ${ref.path}: ${code ?? String(err)}`, {
        hint: 'check the path under `profiles:` in the manifest (relative paths start at the manifest)',
        cause: err,
      });
    }
  }
  try {
    const info = parseIcc(bytes);
    return { name, ref, bytes, ...info };
  } catch (err) {
    if (!(err instanceof NotIcc)) throw err;
    const where = ref.kind === 'file' ? ref.path : `built-in "${ref.name}"`;
    throw new GptError('E_BAD_PROFILE', `profile "${name}" (${where}) is not an ICC profile: ${err.message}`, {
      hint: 'point `profiles:` at an .icc/.icm file, e.g. from your print house, or use a built-in: fogra39, swop-tr005, srgb',
    });
  }
}

/** What sharp's withIccProfile() takes for this profile: libvips' name for a built-in of its own, else an absolute path. */
export function sharpProfileArg(profile: LoadedProfile): string {
  if (profile.ref.kind === 'file') return profile.ref.path;
  const source = BUILTIN_SOURCES[profile.ref.name];
  return 'file' in source ? path.join(SHIPPED_ICC_DIR, source.file) : source.libvips;
}
