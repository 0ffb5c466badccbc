// 5. Memory at scale: peak RSS of a cold 200-asset build beside a cold 50-asset build with the
// same per-asset work. Flat (ratio near 1) means memory does not grow with the batch.

import { fmtMb, fmtMs, gpt4k, readReport, result, tempDir, writeManifest } from './lib.mjs';

const SMALL = 50;
const LARGE = 200;

function manifest(count) {
  const assets = {};
  for (let i = 0; i < count; i++) assets[`m${String(i).padStart(4, '0')}`] = { prompt: `Memory benchmark asset ${i}, front view, centered`, targets: ['web'] };
  return {
    version: 1,
    output: 'out',
    defaults: {
      generate: { provider: 'procedural', model: 'gpt-image-2', size: '256x256', quality: 'low' },
      upscale: { engine: 'lanczos', scale: 4 },
    },
    limits: { generate: 5 },
    targets: { web: { width: 1280, height: 720, fit: 'cover', format: 'png' } },
    assets,
  };
}

async function measure(count) {
  const dir = tempDir(`memory-${count}`);
  writeManifest(dir, manifest(count));
  const out = await gpt4k(dir, ['build', '-q'], { rss: true });
  const report = readReport(dir);
  if (report.summary.built !== count) throw new Error(`${count}-asset build: ${report.summary.built} built, ${report.summary.failed} failed`);
  return out;
}

export async function bench() {
  const r = result('memory', `Memory at scale: peak RSS of a ${LARGE}-asset build vs a ${SMALL}-asset build`);
  const small = await measure(SMALL);
  const large = await measure(LARGE);
  const ratio = large.maxRssKb / small.maxRssKb;
  r.row(`gpt4k cold build, ${SMALL} assets`, fmtMb(small.maxRssKb), `${fmtMs(small.ms)}`);
  r.row(`gpt4k cold build, ${LARGE} assets`, fmtMb(large.maxRssKb), `${fmtMs(large.ms)}`);
  r.row(`peak RSS ratio ${LARGE} / ${SMALL}`, `${ratio.toFixed(2)}x`, `${((large.maxRssKb - small.maxRssKb) / 1024 / (LARGE - SMALL)).toFixed(2)} MB per extra asset`);
  r.goal(`peak RSS flat from ${SMALL} to ${LARGE} assets (ratio at most 1.25)`, `${ratio.toFixed(2)}x`, ratio <= 1.25);
  r.note(
    'Per asset: procedural 256x256, 4x Lanczos (1024x1024), one 1280x720 PNG target (cover); limits.generate 5, limits.process = cores. ' +
      'Cold builds in fresh folders; peak RSS from GNU time (%M) of the gpt4k process. The peer is the same build at a quarter of the size: ' +
      'what a flat engine costs is start-up plus the images in flight, which do not depend on the batch size.',
  );
  r.figures = { smallRssKb: small.maxRssKb, largeRssKb: large.maxRssKb, ratio };
  return r;
}
