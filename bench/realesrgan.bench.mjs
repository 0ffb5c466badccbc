#!/usr/bin/env node
// Seconds per output megapixel for the upscale engines, in one run: Real-ESRGAN x4fast and
// x4plus through software Vulkan (Mesa lavapipe), the same on the GPU when the machine has one,
// and Lanczos. Uses the built engine: run `npx tsc -p tsconfig.build.json` first.
//
//   node bench/realesrgan.bench.mjs [--quick] [--json]
//
// Times include the binary's start and model load, as a build pays them per image; a warm-up
// run per model and driver first keeps the driver's one-time shader compilation out.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import sharp from 'sharp';
import { lanczosUpscaler } from '../dist/upscalers/lanczos.js';
import { createRealesrganUpscaler, locateRealesrgan } from '../dist/upscalers/realesrgan.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const asJson = args.has('--json');

/** Input edge per engine: big enough to amortize start-up, small enough for lavapipe. */
const SIZES = quick
  ? { 'realesrgan-x4fast': 64, 'realesrgan-x4plus': 32, lanczos: 512 }
  : { 'realesrgan-x4fast': 128, 'realesrgan-x4plus': 64, lanczos: 1024 };
/** On a GPU the models are fast: give them real work. */
const GPU_SIZES = quick
  ? { 'realesrgan-x4fast': 256, 'realesrgan-x4plus': 256 }
  : { 'realesrgan-x4fast': 512, 'realesrgan-x4plus': 512 };

function testImage(size) {
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = Math.round(128 + 90 * Math.sin(x / 6) * Math.cos(y / 8));
      data[i + 1] = Math.round((x * 255) / size);
      data[i + 2] = (x - size * 0.6) ** 2 + (y - size * 0.5) ** 2 < (size * 0.25) ** 2 ? 230 : 40;
    }
  }
  return { data, width: size, height: size, channels: 3, depth: 'uchar' };
}

function lavapipeIcd() {
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']) {
    let entries = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    const lvp = entries.find((e) => /^lvp_icd.*\.json$/.test(e));
    if (lvp) return path.join(dir, lvp);
  }
  return null;
}

/** The Vulkan device the binary picks under this environment, from its stderr ("[0 NAME]  queueC=..."). */
async function deviceName(binary, modelsDir, env, tmp) {
  const input = path.join(tmp, 'probe.png');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toFile(input);
  const result = await execa(binary, ['-i', input, '-o', path.join(tmp, 'probe-out.png'), '-m', modelsDir, '-n', 'realesrgan-x4fast', '-s', '4', '-f', 'png'], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 120_000,
  });
  const match = /^\[0 ([^\]]+)\]/m.exec(`${result.stderr}`);
  return match ? match[1].trim() : null;
}

async function time(fn, input, params, context) {
  const started = performance.now();
  const result = await fn(input, params, context);
  const seconds = (performance.now() - started) / 1000;
  const mp = (result.image.width * result.image.height) / 1e6;
  return { seconds, mp, output: `${result.image.width}x${result.image.height}`, meta: result.meta };
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt4k-bench-realesrgan-'));
  const warnings = [];
  const context = { signal: new AbortController().signal, tmpDir: tmp, warn: (m) => warnings.push(m) };
  const rows = [];
  const notes = [];

  const lanczosInput = testImage(SIZES.lanczos);
  await time(lanczosUpscaler.upscale.bind(lanczosUpscaler), testImage(64), { engine: 'lanczos', scale: 4 }, context);
  const l = await time(lanczosUpscaler.upscale.bind(lanczosUpscaler), lanczosInput, { engine: 'lanczos', scale: 4 }, context);
  rows.push({ engine: 'lanczos', model: 'lanczos3', device: 'cpu (libvips)', input: `${SIZES.lanczos}x${SIZES.lanczos}`, ...l });

  const located = await locateRealesrgan({ engine: 'realesrgan', scale: 4, model: 'realesrgan-x4fast' });
  if (!located.ok) {
    notes.push(`realesrgan skipped: ${located.error.message}`);
  } else {
    const { binary, model } = located.value;
    const drivers = [];
    const icd = lavapipeIcd();
    if (icd) {
      const env = { ...process.env, GPT4K_VULKAN_ICD: icd };
      drivers.push({ env, device: (await deviceName(binary, model.dir, { ...env, VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: icd }, tmp)) ?? 'lavapipe', sizes: SIZES });
    } else {
      notes.push('software Vulkan skipped: no lvp_icd*.json found (Debian: apt-get install mesa-vulkan-drivers)');
    }
    const defaultDevice = await deviceName(binary, model.dir, { ...process.env }, tmp);
    if (defaultDevice && !/llvmpipe|lavapipe|swiftshader/i.test(defaultDevice)) {
      drivers.push({ env: { ...process.env }, device: defaultDevice, sizes: GPU_SIZES });
    } else {
      notes.push(`no GPU: the default Vulkan device is ${defaultDevice ?? 'none'}`);
    }
    for (const driver of drivers) {
      const engine = createRealesrganUpscaler({ env: () => driver.env, timeoutMs: () => 3_600_000 });
      const run = engine.upscale.bind(engine);
      for (const name of ['realesrgan-x4fast', 'realesrgan-x4plus']) {
        const params = { engine: 'realesrgan', model: name, scale: 4 };
        await time(run, testImage(16), params, context);
        const size = driver.sizes[name];
        const r = await time(run, testImage(size), params, context);
        rows.push({ engine: 'realesrgan', model: name, device: driver.device, input: `${size}x${size}`, ...r });
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  if (warnings.length > 0) notes.push(...warnings.map((w) => `warning: ${w}`));

  const table = rows.map((r) => ({
    engine: r.engine,
    model: r.model,
    device: r.device,
    input: r.input,
    output: r.output,
    seconds: Number(r.seconds.toFixed(2)),
    secondsPerMP: Number((r.seconds / r.mp).toFixed(3)),
  }));
  if (asJson) {
    console.log(JSON.stringify({ bench: 'realesrgan', cpus: os.cpus().length, rows: table, notes }, null, 2));
    return;
  }
  const header = ['engine', 'model', 'device', 'input', 'output', 'seconds', 's/MP out'];
  const lines = [header, ...table.map((r) => [r.engine, r.model, r.device, r.input, r.output, r.seconds.toFixed(2), r.secondsPerMP.toFixed(3)])];
  const widths = header.map((_, c) => Math.max(...lines.map((line) => String(line[c]).length)));
  console.log(`upscale engines, seconds per output megapixel (${os.cpus().length} CPUs)`);
  for (const line of lines) console.log(line.map((cell, c) => String(cell).padEnd(widths[c])).join('  '));
  for (const note of notes) console.log(`note: ${note}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
