import { endianness } from 'node:os';
import type { RawImage } from '../util/image.js';
import { describeIcc } from './profiles.js';

/**
 * Raw pixels that carry their own ICC profile, wrapped as an uncompressed TIFF so that libvips
 * sees the profile: sharp's raw input has no way to say "these pixels are in profile X", but it
 * converts any image with an embedded profile to its working space on load.
 */

const SHORT = 3;
const LONG = 4;
const UNDEFINED = 7;

const PHOTOMETRIC = { GRAY: 1, RGB: 2, CMYK: 5 } as const;

interface Entry {
  tag: number;
  type: number;
  values: number[] | Buffer;
}

/** Uncompressed single-strip TIFF of `image` with `image.icc` embedded (tag 34675). */
export function taggedTiff(image: RawImage & { icc: Buffer }): Buffer {
  const { tiff, pixels } = allocTaggedTiff(image);
  if (image.data.length !== pixels.length) throw new Error(`taggedTiff: ${image.data.length} bytes of pixels, expected ${pixels.length}`);
  image.data.copy(pixels);
  return tiff;
}

/** The shape of a tagged TIFF's pixels: everything of a RawImage but the pixels themselves. */
export type TaggedShape = Pick<RawImage, 'width' | 'height' | 'channels' | 'depth'> & { icc: Buffer };

/**
 * An uncompressed single-strip TIFF with `image.icc` embedded, its pixels not yet written:
 * `pixels` is the strip, a view into `tiff`, for a converter to write into directly, so the
 * pixels and the file that carries them to libvips are one buffer, not two.
 */
export function allocTaggedTiff(image: TaggedShape): { tiff: Buffer; pixels: Buffer } {
  const dataLength = image.width * image.height * image.channels * (image.depth === 'ushort' ? 2 : 1);
  const { colorSpace } = describeIcc(image.icc);
  const colorBands = colorSpace === 'CMYK' ? 4 : colorSpace === 'RGB' ? 3 : 1;
  const extra = image.channels - colorBands;
  if (extra < 0 || extra > 1) {
    throw new Error(`${image.channels}-channel pixels cannot be in a ${colorSpace} profile`);
  }
  const bits = image.depth === 'ushort' ? 16 : 8;
  const little = endianness() === 'LE';
  const entries: Entry[] = [
    { tag: 256, type: LONG, values: [image.width] },
    { tag: 257, type: LONG, values: [image.height] },
    { tag: 258, type: SHORT, values: Array<number>(image.channels).fill(bits) },
    { tag: 259, type: SHORT, values: [1] },
    { tag: 262, type: SHORT, values: [PHOTOMETRIC[colorSpace]] },
    { tag: 273, type: LONG, values: [0] }, // patched below: the pixels follow everything else
    { tag: 277, type: SHORT, values: [image.channels] },
    { tag: 278, type: LONG, values: [image.height] },
    { tag: 279, type: LONG, values: [dataLength] },
    { tag: 284, type: SHORT, values: [1] },
    ...(extra === 1 ? [{ tag: 338, type: SHORT, values: [2] }] : []), // unassociated alpha
    { tag: 34675, type: UNDEFINED, values: image.icc },
  ];

  const ifdSize = 2 + entries.length * 12 + 4;
  const sizeOf = (e: Entry): number => (Buffer.isBuffer(e.values) ? e.values.length : e.values.length * (e.type === SHORT ? 2 : 4));
  let outOfLine = 0;
  for (const e of entries) {
    const size = sizeOf(e);
    if (size > 4) outOfLine += size + (size % 2);
  }
  // Pixels start on an 8-byte boundary: 16-bit samples and whole-pixel views stay aligned.
  const headSize = Math.ceil((8 + ifdSize + outOfLine) / 8) * 8;
  const tiff = Buffer.allocUnsafeSlow(headSize + dataLength);
  const head = tiff.subarray(0, headSize);
  head.fill(0);
  const u16 = (v: number, at: number): number => (little ? head.writeUInt16LE(v, at) : head.writeUInt16BE(v, at));
  const u32 = (v: number, at: number): number => (little ? head.writeUInt32LE(v, at) : head.writeUInt32BE(v, at));

  head.write(little ? 'II' : 'MM', 0, 'latin1');
  u16(42, 2);
  u32(8, 4);
  u16(entries.length, 8);
  let extraAt = 8 + ifdSize;
  entries.forEach((e, i) => {
    const at = 10 + i * 12;
    if (e.tag === 273) e.values = [headSize];
    u16(e.tag, at);
    u16(e.type, at + 2);
    const count = Buffer.isBuffer(e.values) ? e.values.length : e.values.length;
    u32(count, at + 4);
    const size = sizeOf(e);
    const write = (base: number): void => {
      if (Buffer.isBuffer(e.values)) e.values.copy(head, base);
      else e.values.forEach((v, k) => (e.type === SHORT ? u16(v, base + k * 2) : u32(v, base + k * 4)));
    };
    if (size <= 4) {
      write(at + 8);
    } else {
      u32(extraAt, at + 8);
      write(extraAt);
      extraAt += size + (size % 2);
    }
  });
  u32(0, 10 + entries.length * 12);
  return { tiff, pixels: tiff.subarray(headSize) };
}

