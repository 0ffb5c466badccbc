import { readFile } from 'node:fs/promises';

/**
 * A tiny reader for the first IFD of a classic TIFF, so tests can check exactly what a print
 * house's RIP will see (compression, resolution, photometric, ICC) without relying on tiffinfo.
 *
 * Values: BYTE, ASCII, UNDEFINED -> Buffer; SHORT, LONG, SSHORT, SLONG, FLOAT, DOUBLE -> number[];
 * RATIONAL, SRATIONAL -> number[] of numerator / denominator.
 */

export const Tag = {
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  SamplesPerPixel: 277,
  XResolution: 282,
  YResolution: 283,
  PlanarConfiguration: 284,
  ResolutionUnit: 296,
  Predictor: 317,
  ExtraSamples: 338,
  ICCProfile: 34675,
} as const;

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

export function parseTiffTags(file: Buffer): Map<number, number[] | Buffer> {
  const order = file.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') throw new Error('not a TIFF: bad byte-order mark');
  const le = order === 'II';
  const u16 = (at: number): number => (le ? file.readUInt16LE(at) : file.readUInt16BE(at));
  const u32 = (at: number): number => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const magic = u16(2);
  if (magic !== 42) throw new Error(`not a classic TIFF: magic ${magic}${magic === 43 ? ' (BigTIFF)' : ''}`);
  const ifd = u32(4);
  const count = u16(ifd);
  const tags = new Map<number, number[] | Buffer>();
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + i * 12;
    const tag = u16(at);
    const type = u16(at + 2);
    const n = u32(at + 4);
    const unit = TYPE_SIZE[type];
    if (unit === undefined) continue;
    const size = unit * n;
    const base = size <= 4 ? at + 8 : u32(at + 8);
    if (type === 1 || type === 2 || type === 6 || type === 7) {
      tags.set(tag, file.subarray(base, base + size));
      continue;
    }
    const values: number[] = [];
    for (let k = 0; k < n; k++) {
      const p = base + k * unit;
      switch (type) {
        case 3:
          values.push(u16(p));
          break;
        case 4:
          values.push(u32(p));
          break;
        case 5:
          values.push(u32(p) / u32(p + 4));
          break;
        case 8:
          values.push(le ? file.readInt16LE(p) : file.readInt16BE(p));
          break;
        case 9:
          values.push(le ? file.readInt32LE(p) : file.readInt32BE(p));
          break;
        case 10: {
          const num = le ? file.readInt32LE(p) : file.readInt32BE(p);
          const den = le ? file.readInt32LE(p + 4) : file.readInt32BE(p + 4);
          values.push(num / den);
          break;
        }
        case 11:
          values.push(le ? file.readFloatLE(p) : file.readFloatBE(p));
          break;
        case 12:
          values.push(le ? file.readDoubleLE(p) : file.readDoubleBE(p));
          break;
      }
    }
    tags.set(tag, values);
  }
  return tags;
}

/** The tags of the first IFD of a TIFF file (a path) or of TIFF bytes. */
export async function readTiffTags(file: string | Buffer): Promise<Map<number, number[] | Buffer>> {
  return parseTiffTags(typeof file === 'string' ? await readFile(file) : file);
}

/** A numeric tag's values; throws if absent or not numeric. */
export function numbers(tags: Map<number, number[] | Buffer>, tag: number): number[] {
  const value = tags.get(tag);
  if (value === undefined) throw new Error(`TIFF tag ${tag} is missing`);
  if (Buffer.isBuffer(value)) throw new Error(`TIFF tag ${tag} is not numeric`);
  return value;
}

/** A byte tag's value (e.g. the ICC profile); throws if absent or numeric. */
export function bytes(tags: Map<number, number[] | Buffer>, tag: number): Buffer {
  const value = tags.get(tag);
  if (value === undefined) throw new Error(`TIFF tag ${tag} is missing`);
  if (!Buffer.isBuffer(value)) throw new Error(`TIFF tag ${tag} is not a byte string`);
  return value;
}
