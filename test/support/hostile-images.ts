/**
 * Images that attack a decoder, made in the test: decompression bombs (tiny files that claim or
 * inflate to hundreds of megapixels), truncated files, a CMYK JPEG, animated GIF and WebP, a
 * 16-bit PNG and an empty file. `bomb` files are built by streaming deflate over rows of zeros,
 * so making one costs a few megabytes, not the gigabytes it decodes to.
 */
import { crc32, deflateSync, createDeflate } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, colorType: number, bitDepth = 8): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = bitDepth;
  data[9] = colorType; // 0 grey, 2 RGB
  return chunk('IHDR', data);
}

/**
 * A valid greyscale PNG of `width` x `height` black pixels: a few hundred kilobytes that decode
 * to width * height bytes (times 3 or 4 once converted to sRGB).
 */
export async function pngBomb(width: number, height: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  const done = new Promise<void>((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  const row = Buffer.alloc(width + 1); // filter byte 0, then zeros
  const rowsPerWrite = Math.max(1, Math.floor((4 << 20) / row.length));
  const block = Buffer.concat(Array.from({ length: rowsPerWrite }, () => row));
  for (let y = 0; y < height; y += rowsPerWrite) {
    const rows = Math.min(rowsPerWrite, height - y);
    const slice = rows === rowsPerWrite ? block : block.subarray(0, rows * row.length);
    if (!deflate.write(slice)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 0), chunk('IDAT', Buffer.concat(parts)), chunk('IEND', Buffer.alloc(0))]);
}

/** A PNG whose header claims `width` x `height` but whose data is a few bytes: a lie, not a bomb. */
export function pngLyingHeader(width: number, height: number): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height, 2), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}

/** A photo-like test image (a gradient, so truncation shows). */
function gradient(width: number, height: number): Sharp {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = 128;
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } });
}

export async function jpeg(width = 96, height = 64): Promise<Buffer> {
  return gradient(width, height).jpeg({ quality: 90 }).toBuffer();
}

export async function png(width = 96, height = 64): Promise<Buffer> {
  return gradient(width, height).png().toBuffer();
}

/** The first `fraction` of a file's bytes. */
export function truncated(bytes: Buffer, fraction = 0.5): Buffer {
  return bytes.subarray(0, Math.floor(bytes.length * fraction));
}

/** A CMYK JPEG (as print shops and stock sites hand out), solid teal, 96x64. */
export async function cmykJpeg(): Promise<Buffer> {
  return sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 0, g: 128, b: 128 } } })
    .toColourspace('cmyk')
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** An animated image of three 48x48 frames (red, green, blue). */
export async function animated(format: 'gif' | 'webp'): Promise<Buffer> {
  const frames = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ];
  const size = 48;
  const data = Buffer.alloc(size * size * frames.length * 3);
  frames.forEach(([r, g, b], f) => {
    for (let i = 0; i < size * size; i++) {
      const o = (f * size * size + i) * 3;
      data[o] = r!;
      data[o + 1] = g!;
      data[o + 2] = b!;
    }
  });
  const image = sharp(data, { raw: { width: size, height: size * frames.length, channels: 3, pageHeight: size } });
  return format === 'gif' ? image.gif({ loop: 0, delay: [100, 100, 100] }).toBuffer() : image.webp({ loop: 0, delay: [100, 100, 100] }).toBuffer();
}

/** A 16-bit RGB PNG, 96x64. */
export async function png16(): Promise<Buffer> {
  return gradient(96, 64).toColourspace('rgb16').png().toBuffer();
}
