#!/usr/bin/env node
// The peer of the print render benchmark: a bare sharp script doing the same steps as gpt4k, and
// nothing else (no cache, no report). Decode -> 4x Lanczos-3 -> A3 landscape at 300 DPI (cover,
// centre) -> CMYK through the ICC profile (perceptual) -> TIFF, LZW, 300 DPI, profile embedded.
//
//   node bench/peers/sharp-render.mjs IN.png OUT.tif PROFILE.icc [WIDTH HEIGHT]
//
// With PEER_THREADS=N it sets sharp.concurrency(N) first (sharp's default on glibc Linux is one
// libvips thread; gpt4k gives an image job the cores no other image job is using).

import sharp from 'sharp';

if (process.env.PEER_THREADS) sharp.concurrency(Number(process.env.PEER_THREADS));

const [input, output, profile, w = '4961', h = '3508'] = process.argv.slice(2);
if (!input || !output || !profile) {
  console.error('usage: sharp-render.mjs IN OUT.tif PROFILE.icc [WIDTH HEIGHT]');
  process.exit(2);
}
const width = Number(w);
const height = Number(h);
const meta = await sharp(input).metadata();
// Two resamplings, as the pipeline defines them: a 4x upscale, then the fit to the page.
const up = await sharp(input)
  .resize(meta.width * 4, meta.height * 4, { kernel: 'lanczos3', fit: 'fill' })
  .raw()
  .toBuffer({ resolveWithObject: true });
const perMm = 300 / 25.4;
await sharp(up.data, { raw: { width: up.info.width, height: up.info.height, channels: up.info.channels } })
  .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
  .flatten({ background: '#ffffff' })
  .withIccProfile(profile)
  .tiff({ compression: 'lzw', xres: perMm, yres: perMm, resolutionUnit: 'inch' })
  .toFile(output);
