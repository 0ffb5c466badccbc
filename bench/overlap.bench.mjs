// 3. Overlap: 50 assets from the procedural provider with 1 s of artificial latency per call
// (GPT4K_PROCEDURAL_LATENCY_MS=1000), limits.generate 5, each rendered to a CMYK print target.
// Makespan beside the ideal a perfect scheduler could reach on this machine.

import { FOGRA39, fmtMs, fmtX, gpt4k, readReport, result, tempDir, writeManifest } from './lib.mjs';
import { cpus } from 'node:os';

const ASSETS = 50;
const CONCURRENCY = 5;
const LATENCY_MS = 1000;

function manifest() {
  const assets = {};
  for (let i = 0; i < ASSETS; i++) assets[`o${String(i).padStart(3, '0')}`] = { prompt: `Overlap benchmark packshot number ${i}, front view, centered`, targets: ['a6'] };
  return {
    version: 1,
    output: 'out',
    defaults: {
      // 320x448 is A6's aspect; 4x Lanczos gives 1280x1792, just above the page's 1240x1748.
      generate: { provider: 'procedural', model: 'gpt-image-2', size: '320x448', quality: 'high' },
      upscale: { engine: 'lanczos', scale: 4 },
    },
    limits: { generate: CONCURRENCY },
    profiles: { fogra39: FOGRA39 },
    targets: { a6: { paper: 'custom', width_mm: 105, height_mm: 148, orientation: 'portrait', dpi: 300, bleed_mm: 0, color: { profile: 'fogra39', intent: 'perceptual' }, format: 'tiff' } },
    assets,
  };
}

async function coldBuild(latencyMs) {
  const dir = tempDir(`overlap-${latencyMs}`);
  writeManifest(dir, manifest());
  const out = await gpt4k(dir, ['build', '-q'], { env: { GPT4K_PROCEDURAL_LATENCY_MS: String(latencyMs) } });
  const report = readReport(dir);
  if (report.summary.built !== ASSETS) throw new Error(`overlap build (latency ${latencyMs}): ${report.summary.built} built, ${report.summary.failed} failed`);
  return out.ms;
}

export async function bench() {
  const r = result('overlap', `Overlap: ${ASSETS} procedural assets, ${LATENCY_MS / 1000} s latency per call, limits.generate ${CONCURRENCY}, A6 CMYK TIFF each`);
  const work = await coldBuild(0);
  const makespan = await coldBuild(LATENCY_MS);
  const calls = Math.ceil(ASSETS / CONCURRENCY) * LATENCY_MS;
  const lastWave = (work * CONCURRENCY) / ASSETS;
  const ideal = Math.max(work + LATENCY_MS, calls + lastWave);
  r.row('gpt4k cold build, 1 s latency per call (makespan)', fmtMs(makespan), `${fmtX(makespan / ideal)} the ideal`);
  r.row('peer: the same build at 0 latency (all the work, W)', fmtMs(work), 'measured in this run');
  r.row('calls alone: 50 calls / 5 at once x 1 s (C)', fmtMs(calls), 'from the limits');
  r.row('ideal = max(W + 1 s, C + W x 5/50)', fmtMs(ideal), work + LATENCY_MS >= calls + lastWave ? 'the work dominates: CPU-bound' : 'the calls dominate: latency-bound');
  r.goal('makespan at most 1.15x the ideal', fmtX(makespan / ideal), makespan <= 1.15 * ideal);
  r.note(
    `Target: an A6 page (paper: custom, 105 x 148 mm) at 300 DPI (1240x1748), CMYK TIFF, LZW, FOGRA39 test profile, perceptual; A6 rather than A3 ` +
      `keeps the run short on ${cpus().length} cores (the render is the same code path, on an eighth of the pixels). Each asset: procedural 320x448 -> 4x Lanczos -> A6. Both builds are cold, in fresh folders, timed from spawn to exit. ` +
      'The ideal is a lower bound for any scheduler: W, the wall clock of the same build with no latency, is all the work this machine must do ' +
      '(start-up, drawing, upscaling, rendering, cache and report writes), and none of it can start before the first wave of calls returns (+1 s); ' +
      'and the 10 waves of 5 calls take C = 10 s back to back, after which the last wave\'s share of the work (5 of 50 assets: W x 5/50) still has to run.',
  );
  r.figures = { makespanMs: makespan, workMs: work, callsMs: calls, idealMs: ideal, ratio: makespan / ideal };
  return r;
}
