import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { InkHistogram, type InkCoverage } from './ink.js';

/**
 * Ink coverage read straight from an encoded CMYK TIFF, strip by strip: each strip is decoded
 * (LZW or none, with or without the horizontal predictor, as libvips writes them) into one small
 * reusable buffer and counted, so the whole page never exists uncompressed in memory. This is
 * how the render counts the ink of the very pixels it encoded when libvips converted and encoded
 * them in one pass (src/color/render.ts).
 *
 * Returns undefined for any TIFF it does not read (tiled, planar, 16-bit, old-style LZW, ...);
 * the caller then decodes the file with libvips instead.
 *
 * Decoding LZW in JavaScript runs at ~300 MB/s of samples: an A3 page at 300 dpi takes ~0.25 s
 * on one core. (Sharing the strips with a worker thread was tried: on 2 busy cores the copy to
 * the worker and its cold start ate most of the gain, and it cost ~25 MB of memory.)
 */

const SHORT = 3;
const LONG = 4;

export interface StripLayout {
  width: number;
  height: number;
  rowsPerStrip: number;
  compression: 1 | 5;
  predictor: 1 | 2;
  offsets: number[];
  counts: number[];
}

/**
 * Positional reads of a TIFF, from memory or from a file: `read(at, n)` returns the n bytes at
 * `at` (the caller checks ranges against `length` first).
 */
interface TiffBytes {
  length: number;
  read(at: number, n: number): Buffer;
}

function bufferBytes(tiff: Buffer): TiffBytes {
  return { length: tiff.length, read: (at, n) => tiff.subarray(at, at + n) };
}

/**
 * Reads a file through a 64 KiB window (a directory's tags are near each other); a strip is read
 * into one buffer reused for every strip, so what `read` returns is valid until the next call.
 */
function fileBytes(fd: number): TiffBytes {
  const window = Buffer.allocUnsafe(1 << 16);
  let windowAt = -1;
  let windowLength = 0;
  let large = Buffer.alloc(0);
  return {
    length: fstatSync(fd).size,
    read(at, n) {
      if (at >= windowAt && at + n <= windowAt + windowLength) return window.subarray(at - windowAt, at - windowAt + n);
      if (n > window.length) {
        if (large.length < n) large = Buffer.allocUnsafe(n);
        return large.subarray(0, readSync(fd, large, 0, n, at));
      }
      windowAt = at;
      windowLength = readSync(fd, window, 0, window.length, at);
      return window.subarray(0, Math.min(n, windowLength));
    },
  };
}

/** Where a CMYK TIFF's strips are, if it is one this module reads. */
export function stripLayout(tiff: Buffer): StripLayout | undefined {
  return readLayout(bufferBytes(tiff));
}

function readLayout(tiff: TiffBytes): StripLayout | undefined {
  if (tiff.length < 8) return undefined;
  const order = tiff.read(0, 2).toString('latin1');
  if (order !== 'II' && order !== 'MM') return undefined;
  const le = order === 'II';
  const u16 = (at: number): number => (le ? tiff.read(at, 2).readUInt16LE(0) : tiff.read(at, 2).readUInt16BE(0));
  const u32 = (at: number): number => (le ? tiff.read(at, 4).readUInt32LE(0) : tiff.read(at, 4).readUInt32BE(0));
  if (u16(2) !== 42) return undefined;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return undefined;
  const count = u16(ifd);
  if (ifd + 2 + count * 12 > tiff.length) return undefined;
  const tags = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const at = ifd + 2 + i * 12;
    const type = u16(at + 2);
    const size = type === SHORT ? 2 : type === LONG ? 4 : 0;
    if (size === 0) continue;
    const n = u32(at + 4);
    const base = n * size <= 4 ? at + 8 : u32(at + 8);
    if (base + n * size > tiff.length) return undefined;
    const values: number[] = [];
    for (let k = 0; k < n; k++) values.push(size === 2 ? u16(base + k * 2) : u32(base + k * 4));
    tags.set(u16(at), values);
  }
  const one = (tag: number, fallback?: number): number | undefined => tags.get(tag)?.[0] ?? fallback;
  const width = one(256);
  const height = one(257);
  const compression = one(259, 1);
  const predictor = one(317, 1);
  const offsets = tags.get(273);
  const counts = tags.get(279);
  if (width === undefined || height === undefined || !offsets || !counts || offsets.length !== counts.length) return undefined;
  if (one(262) !== 5 || one(277) !== 4 || one(284, 1) !== 1 || tags.has(338) || tags.has(322)) return undefined;
  if ((tags.get(258) ?? []).some((bits) => bits !== 8) || (compression !== 1 && compression !== 5) || (predictor !== 1 && predictor !== 2)) return undefined;
  const rowsPerStrip = Math.min(one(278, height) as number, height);
  if (rowsPerStrip < 1 || offsets.length !== Math.ceil(height / rowsPerStrip)) return undefined;
  for (let i = 0; i < offsets.length; i++) if ((offsets[i] as number) + (counts[i] as number) > tiff.length) return undefined;
  return { width, height, rowsPerStrip, compression, predictor, offsets, counts };
}

const CLEAR = 256;
const EOI = 257;

/**
 * Decodes one TIFF LZW strip (MSB-first codes of 9 to 12 bits, early change) into `out`;
 * returns the bytes written, or -1 when the data is not valid TIFF LZW. A table entry is always
 * the string just written plus the first byte of the next, so it is kept as a run of the output
 * already written (start and length), never copied.
 */
function unLzw(src: Buffer, out: Uint8Array, starts: Int32Array, lengths: Int32Array): number {
  let bitBuffer = 0;
  let bitCount = 0;
  let at = 0;
  let width = 9;
  let next = 258;
  let o = 0;
  let previousStart = -1;
  let previousLength = 0;
  const end = src.length;
  const limit = out.length;
  for (;;) {
    if (bitCount < width) {
      if (at + 1 < end) {
        // Two bytes at once: a code is at most 12 bits, so 16 more always make one whole.
        bitBuffer = ((bitBuffer << 16) | ((src[at] as number) << 8) | (src[at + 1] as number)) & 0xfffffff;
        at += 2;
        bitCount += 16;
      } else {
        while (bitCount < width) {
          if (at >= end) return o; // no EOI: what was decoded stands, as in libtiff
          bitBuffer = ((bitBuffer << 8) | (src[at++] as number)) & 0xffffff;
          bitCount += 8;
        }
      }
    }
    bitCount -= width;
    const code = (bitBuffer >>> bitCount) & ((1 << width) - 1);
    if (code === EOI) return o;
    if (code === CLEAR) {
      width = 9;
      next = 258;
      previousStart = -1;
      continue;
    }
    const start = o;
    let length: number;
    if (code < 256) {
      if (o >= limit) return -1;
      out[o++] = code;
      length = 1;
    } else if (previousStart === -1) {
      return -1;
    } else if (code < next) {
      const from = starts[code] as number;
      length = lengths[code] as number;
      if (o + length > limit) return -1;
      for (let k = 0; k < length; k++) out[o + k] = out[from + k] as number;
      o += length;
    } else if (code === next) {
      // The entry being defined: the previous string and its own first byte.
      length = previousLength + 1;
      if (o + length > limit) return -1;
      for (let k = 0; k < previousLength; k++) out[o + k] = out[previousStart + k] as number;
      out[o + previousLength] = out[previousStart] as number;
      o += length;
    } else {
      return -1;
    }
    if (previousStart !== -1 && next < 4096) {
      // The previous string and the first byte of this one: contiguous in the output.
      starts[next] = previousStart;
      lengths[next] = previousLength + 1;
      next++;
      if (next >= (1 << width) - 1 && width < 12) width++;
    }
    previousStart = start;
    previousLength = length;
  }
}

/** Counts strips [from, to) into `histogram`; false when one of them does not decode. */
export function countStrips(tiff: Buffer, l: StripLayout, from: number, to: number, histogram: InkHistogram): boolean {
  return countLayout(bufferBytes(tiff), l, from, to, histogram);
}

function countLayout(tiff: TiffBytes, l: StripLayout, from: number, to: number, histogram: InkHistogram): boolean {
  const rowBytes = l.width * 4;
  const strip = new Uint8Array(rowBytes * l.rowsPerStrip);
  const starts = new Int32Array(4096);
  const lengths = new Int32Array(4096);
  for (let s = from; s < to; s++) {
    const rows = Math.min(l.rowsPerStrip, l.height - s * l.rowsPerStrip);
    const want = rows * rowBytes;
    const offset = l.offsets[s] as number;
    if (l.compression === 1) {
      if ((l.counts[s] as number) < want) return false;
      // Counted where it lies when it is in memory; read into the strip buffer from a file.
      const data = tiff.read(offset, want);
      if (data.length < want) return false;
      if (l.predictor === 1) {
        histogram.add(data);
        continue;
      }
      strip.set(data);
    } else if (unLzw(tiff.read(offset, l.counts[s] as number), strip, starts, lengths) !== want) {
      return false;
    }
    if (l.predictor === 2) histogram.addDifferenced(new Uint32Array(strip.buffer, 0, want / 4), l.width);
    else histogram.add(strip.subarray(0, want));
  }
  return true;
}

/** Total ink (max and p99) of a CMYK TIFF's samples, counted strip by strip on this thread. */
export function tiffInkCoverage(tiff: Buffer): InkCoverage | undefined {
  return inkOf(bufferBytes(tiff));
}

/**
 * The same, of a TIFF file, read a strip at a time (the page never in memory whole): how the
 * render counts its uncompressed page file (src/color/page-file.ts).
 */
export function tiffFileInkCoverage(file: string): InkCoverage | undefined {
  const fd = openSync(file, 'r');
  try {
    return inkOf(fileBytes(fd));
  } finally {
    closeSync(fd);
  }
}

function inkOf(tiff: TiffBytes): InkCoverage | undefined {
  const l = readLayout(tiff);
  if (!l) return undefined;
  const histogram = new InkHistogram();
  return countLayout(tiff, l, 0, l.offsets.length, histogram) ? histogram.coverage() : undefined;
}
