/**
 * Hostile images, as `source:` photos and as the images API's answers: decompression bombs (and a
 * header that lies), an upscale that would inflate to gigapixels, truncated files, a CMYK JPEG,
 * animated GIF and WebP, a 16-bit PNG, an empty file. Each one fails alone with its own code and
 * a message naming the file, or builds correctly; the others still build; the build's peak memory
 * stays far below what decoding a bomb would take (measured in the CLI process itself).
 */
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineReport } from '../../src/report/types.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import * as hostile from '../support/hostile-images.js';
import { REPO_ROOT } from '../support/paths.js';
import { makeProject, readReport, removeProject, runCli } from '../support/project.js';

const KEY = 'sk-test-HOSTILE-5a1c9e3f';
/** Decoding either bomb to sRGB takes over 800 MB; a build that refuses them stays near 100 MB. */
const PEAK_RSS_LIMIT_MB = 500;

let images: Record<string, Buffer>;
let api: FakeOpenAI;
const dirs: string[] = [];

beforeAll(async () => {
  const good = await hostile.jpeg();
  images = {
    good,
    bomb: await hostile.pngBomb(17_000, 17_000), // 289 MP in 0.3 MB
    liar: hostile.pngLyingHeader(30_000, 30_000),
    'upscale-bomb': await hostile.pngBomb(4_200, 4_200), // fine alone; 282 MP once upscaled 4x
    'truncated-jpeg': hostile.truncated(good),
    'truncated-png': hostile.truncated(await hostile.png()),
    cmyk: await hostile.cmykJpeg(),
    gif: await hostile.animated('gif'),
    webp: await hostile.animated('webp'),
    deep: await hostile.png16(),
    empty: Buffer.alloc(0),
  };
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api?.close();
  await Promise.all(dirs.map(removeProject));
});

const EXT: Record<string, string> = { gif: 'gif', webp: 'webp', cmyk: 'jpg', good: 'jpg', 'truncated-jpeg': 'jpg', empty: 'jpg' };

/** Runs the CLI with the memory probe loaded; returns its peak RSS in MB along with the run. */
async function buildMeasured(dir: string, env: Record<string, string> = {}) {
  const rssFile = path.join(os.tmpdir(), `gpt4k-rss-${process.pid}-${Date.now()}`);
  const probe = pathToFileURL(path.join(REPO_ROOT, 'test/support/rss-probe.mjs')).href;
  const run = await runCli(['build'], { cwd: dir, env: { ...env, NODE_OPTIONS: `--import=${probe}`, GPT4K_TEST_RSS_FILE: rssFile } });
  const samples = (await readFile(rssFile, 'utf8')).trim().split('\n').map(Number);
  await rm(rssFile, { force: true });
  return { run, output: run.stdout + run.stderr, peakMb: Math.max(...samples) / 1024 };
}

function assetOf(report: PipelineReport, id: string) {
  const asset = report.assets.find((a) => a.id === id);
  if (!asset) throw new Error(`no asset ${id} in the report`);
  return asset;
}

async function expectDeliverable(dir: string, id: string): Promise<{ r: number; g: number; b: number }> {
  const { data, info } = await sharp(path.join(dir, 'out', id, 'web.png')).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([32, 32, 3]);
  const centre = (16 * 32 + 16) * 3;
  return { r: data[centre]!, g: data[centre + 1]!, b: data[centre + 2]! };
}

describe('hostile source images', () => {
  it('each fails alone with its own code, the rest build, and memory stays bounded', async () => {
    const files: Record<string, Buffer | string> = {};
    const lines: string[] = [];
    for (const [name, bytes] of Object.entries(images)) {
      const file = `photos/${name}.${EXT[name] ?? 'png'}`;
      files[file] = bytes;
      const upscale = name === 'upscale-bomb' ? ', upscale: { engine: lanczos, scale: 4 }' : '';
      lines.push(`  ${name}: { source: ./${file}, targets: [web]${upscale} }`);
    }
    files['assets.pipeline.yaml'] = `version: 1
defaults:
  upscale: { engine: none }
targets:
  web: { width: 32, height: 32, format: png }
assets:
${lines.join('\n')}
`;
    const dir = await makeProject(files, 'gpt4k-hostile-src-');
    dirs.push(dir);
    const { run, output, peakMb } = await buildMeasured(dir);
    expect(run.code, output).toBe(1);
    expect(output).not.toMatch(/E_INTERNAL|\n\s+at /);
    expect(peakMb, `peak RSS ${peakMb.toFixed(0)} MB`).toBeLessThan(PEAK_RSS_LIMIT_MB);

    const report = await readReport(dir);
    const failed = (id: string) => assetOf(report, id).error;
    expect(failed('bomb')).toMatchObject({ step: 'source', code: 'E_IMAGE_TOO_LARGE' });
    expect(failed('bomb')?.message).toContain('photos/bomb.png');
    expect(failed('bomb')?.message).toContain('17000x17000 (289 MP), over the limit');
    expect(failed('liar')).toMatchObject({ step: 'source', code: 'E_IMAGE_TOO_LARGE' });
    expect(failed('upscale-bomb')).toMatchObject({ step: 'upscale', code: 'E_IMAGE_TOO_LARGE' });
    expect(failed('upscale-bomb')?.message).toContain('upscaling 4200x4200 by 4 would make 16800x16800');
    for (const id of ['truncated-jpeg', 'truncated-png']) {
      expect(failed(id)).toMatchObject({ step: 'source', code: 'E_BAD_IMAGE' });
      expect(failed(id)?.message).toMatch(/truncated or damaged/);
    }
    expect(failed('empty')).toMatchObject({ step: 'source', code: 'E_BAD_IMAGE' });
    expect(failed('empty')?.message).toContain('photos/empty.jpg of "empty" is an empty file (0 bytes)');
    for (const id of ['gif', 'webp']) {
      expect(failed(id)).toMatchObject({ step: 'source', code: 'E_ANIMATED_IMAGE' });
      expect(failed(id)?.message).toContain('(3 frames)');
    }

    // The good photo, the CMYK JPEG and the 16-bit PNG build, at the right size and colour.
    expect(report.assets.filter((a) => a.status === 'built').map((a) => a.id).sort()).toEqual(['cmyk', 'deep', 'good']);
    await expectDeliverable(dir, 'good');
    await expectDeliverable(dir, 'deep');
    const teal = await expectDeliverable(dir, 'cmyk');
    expect(teal.r).toBeLessThan(60);
    expect(teal.g).toBeGreaterThan(90);
    expect(teal.b).toBeGreaterThan(90);
  });
});

describe('hostile answers from the images API', () => {
  it('each fails alone, a structural fault is not paid for twice, and memory stays bounded', async () => {
    const answers: Record<string, Buffer> = {
      good: images.good!,
      bomb: images.bomb!,
      liar: images.liar!,
      truncated: images['truncated-png']!,
      cmyk: images.cmyk!,
      webp: images.webp!,
      deep: images.deep!,
      empty: images.empty!,
    };
    api.reset();
    api.script((request) => {
      const name = /^Answer (\S+) /.exec(String(request.body?.['prompt']))?.[1] ?? 'good';
      return { kind: 'ok', image: answers[name] };
    });
    const assets = Object.keys(answers).map((name) => `  ${name}: { prompt: "Answer ${name} please, front view, centered", targets: [web] }`);
    const dir = await makeProject(
      {
        'assets.pipeline.yaml': `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low, options: { maxRetries: 1, retryBaseDelayMs: 10, retryMaxDelayMs: 50 } }
  upscale: { engine: none }
targets:
  web: { width: 32, height: 32, format: png }
assets:
${assets.join('\n')}
`,
      },
      'gpt4k-hostile-api-',
    );
    dirs.push(dir);
    const { run, output, peakMb } = await buildMeasured(dir, { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });
    expect(run.code, output).toBe(1);
    expect(output).not.toMatch(/E_INTERNAL|\n\s+at /);
    expect(peakMb, `peak RSS ${peakMb.toFixed(0)} MB`).toBeLessThan(PEAK_RSS_LIMIT_MB);

    const sent = (name: string) => api.requests.filter((r) => String(r.body?.['prompt']).startsWith(`Answer ${name} `)).length;
    const report = await readReport(dir);
    const error = (id: string) => assetOf(report, id).error;
    // Structural: the same request would get the same answer. Sent once.
    for (const [id, why] of [
      ['bomb', /17000x17000 \(289 MP\), over the limit/],
      ['liar', /30000x30000 \(900 MP\), over the limit/],
      ['webp', /animation \(3 frames\)/],
    ] as const) {
      expect(error(id), id).toMatchObject({ step: 'generate', code: 'E_BAD_IMAGE' });
      expect(error(id)?.message).toMatch(why);
      expect(sent(id), id).toBe(1);
    }
    // Damaged in transit: worth one more request (maxRetries: 1), then reported.
    for (const [id, why] of [
      ['truncated', /does not decode/],
      ['empty', /held no image/],
    ] as const) {
      expect(error(id), id).toMatchObject({ step: 'generate', code: 'E_BAD_IMAGE' });
      expect(error(id)?.message).toMatch(why);
      expect(sent(id), id).toBe(2);
    }
    expect(report.assets.filter((a) => a.status === 'built').map((a) => a.id).sort()).toEqual(['cmyk', 'deep', 'good']);
    for (const id of ['good', 'cmyk', 'deep']) {
      expect(sent(id), id).toBe(1);
      await expectDeliverable(dir, id);
    }
  });
});
