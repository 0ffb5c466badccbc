import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { lanczosUpscaler } from '../src/upscalers/lanczos.js';
import { sharpVersionsOnDisk } from '../src/upscalers/sharp-versions.js';
import type { RawImage } from '../src/util/image.js';

const context = () => ({ signal: new AbortController().signal, tmpDir: '/nonexistent', warn: () => {} });

function ramp(width: number, height: number, channels: RawImage['channels'], depth: RawImage['depth']): RawImage {
  const bytes = depth === 'ushort' ? 2 : 1;
  const data = Buffer.alloc(width * height * channels * bytes);
  for (let i = 0; i < width * height * channels; i++) {
    const v = ((i * 37) % 251) / 250;
    if (depth === 'ushort') data.writeUInt16LE(Math.round(v * 65535), i * 2);
    else data[i] = Math.round(v * 255);
  }
  return { data, width, height, channels, depth };
}

describe('lanczos upscaler', () => {
  it('is a cheap, unpersisted process-pool engine fingerprinted by sharp and libvips', async () => {
    expect([lanczosUpscaler.name, lanczosUpscaler.persist, lanczosUpscaler.pool]).toEqual(['lanczos', false, 'process']);
    expect(await lanczosUpscaler.fingerprint({ engine: 'lanczos', scale: 4 })).toEqual({ sharp: sharp.versions.sharp, vips: sharp.versions.vips });
  });

  it('reads the versions its key needs from disk, the very ones sharp reports once loaded', () => {
    // A no-op build computes lanczos keys without loading libvips.
    expect(sharpVersionsOnDisk()).toEqual({ sharp: sharp.versions.sharp, vips: sharp.versions.vips });
  });

  it('scales by 1, 2 and 4 keeping channels and depth', async () => {
    for (const channels of [1, 2, 3, 4] as const) {
      for (const depth of ['uchar', 'ushort'] as const) {
        for (const scale of [1, 2, 4]) {
          const input = ramp(13, 7, channels, depth);
          const { image } = await lanczosUpscaler.upscale(input, { engine: 'lanczos', scale, sharpen: scale === 4 }, context());
          expect([image.width, image.height, image.channels, image.depth]).toEqual([13 * scale, 7 * scale, channels, depth]);
          expect(image.data.length).toBe(13 * scale * 7 * scale * channels * (depth === 'ushort' ? 2 : 1));
        }
      }
    }
  });

  it('keeps a flat color flat and passes the profile through', async () => {
    const icc = Buffer.from('profile bytes');
    const input: RawImage = { data: Buffer.alloc(8 * 8 * 3, 90), width: 8, height: 8, channels: 3, depth: 'uchar', icc };
    const { image } = await lanczosUpscaler.upscale(input, { engine: 'lanczos', scale: 2 }, context());
    expect(image.data.every((v) => v === 90)).toBe(true);
    expect(image.icc).toBe(icc);
  });

  it('sharpening adds edge contrast', async () => {
    const edge: RawImage = { data: Buffer.alloc(32 * 32), width: 32, height: 32, channels: 1, depth: 'uchar' };
    for (let y = 0; y < 32; y++) edge.data.fill(200, y * 32 + 16, y * 32 + 32);
    const plain = await lanczosUpscaler.upscale(edge, { engine: 'lanczos', scale: 4 }, context());
    const sharp4 = await lanczosUpscaler.upscale(edge, { engine: 'lanczos', scale: 4, sharpen: true }, context());
    expect(sharp4.image.data.equals(plain.image.data)).toBe(false);
    const row = (img: RawImage) => [...img.data.subarray(64 * 128, 64 * 128 + 128)];
    const spread = (values: number[]) => Math.max(...values) - Math.min(...values);
    expect(spread(row(sharp4.image))).toBeGreaterThanOrEqual(spread(row(plain.image)));
  });

  it('refuses other scales and a cancelled signal', async () => {
    const input = ramp(4, 4, 3, 'uchar');
    await expect(lanczosUpscaler.upscale(input, { engine: 'lanczos', scale: 3 }, context())).rejects.toMatchObject({ code: 'E_BAD_SCALE' });
    const controller = new AbortController();
    controller.abort();
    await expect(
      lanczosUpscaler.upscale(input, { engine: 'lanczos', scale: 2 }, { ...context(), signal: controller.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
