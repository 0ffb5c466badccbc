import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../src/color/profiles.js';
import { renderTarget } from '../src/color/render.js';
import type { ResolvedTarget } from '../src/manifest/types.js';
import { writeContactSheet } from '../src/report/contact-sheet.js';
import { escapeHtml } from '../src/report/html-render.js';
import type { PipelineReport } from '../src/report/types.js';
import { writeJsonReport } from '../src/report/write-report.js';
import { FOGRA39, REPO_ROOT } from './support/paths.js';

// Code in page.evaluate runs in Chromium; the project compiles without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, document: any;

const CHROMIUM = process.env.GPT4K_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const EVIL_PROMPT = `Bottle "label" & <script>window.__pwned = 1</script> <b>bold?</b> it's`;
const FAILED_MESSAGE = 'The provider refused the prompt: it mentions a trademarked logo.';

let root: string;
let out: string;

/** A picture with some structure, so the screenshot shows real thumbnails. */
function scene(width: number, height: number, from: string, to: string, label: string): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="${from}"/><stop offset="1" stop-color="${to}"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>
    <circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 4}" fill="#ffffff" fill-opacity="0.55"/>
    <text x="50%" y="${height * 0.85}" font-size="${Math.round(height / 12)}" font-family="sans-serif"
      text-anchor="middle" fill="#ffffff">${label}</text></svg>`);
}

function makeReport(): PipelineReport {
  return {
    version: 1,
    summary: {
      assets: 4,
      built: 2,
      cached: 1,
      failed: 1,
      skipped: 0,
      providerCalls: 2,
      retries: 1,
      costUsd: 0.34,
      durationMs: 5400,
    },
    assets: [
      {
        id: 'hero',
        status: 'built',
        prompt: 'Commercial packshot of a premium coffee bag, dark teal kraft paper, soft shadows',
        costUsd: 0.17,
        steps: [
          { kind: 'generate', status: 'built', key: '9f3c', ms: 4100, costUsd: 0.17, reasons: ['new'] },
          { kind: 'upscale', status: 'built', key: 'aa01', ms: 820 },
          { kind: 'normalize', status: 'built', key: 'aa02', ms: 140 },
          { kind: 'render', target: 'a3', status: 'built', key: 'aa03', ms: 610 },
          { kind: 'render', target: 'uhd', status: 'built', key: 'aa04', ms: 230 },
        ],
        outputs: [
          {
            target: 'a3',
            path: 'out/hero/a3.tif',
            width: 600,
            height: 848,
            format: 'tiff',
            space: 'cmyk',
            dpi: 300,
            icc: 'Chemical proof',
            preflight: {
              ok: true,
              checks: [
                {
                  name: 'resolution',
                  ok: false,
                  severity: 'warning',
                  message: 'effective resolution is below 300 dpi',
                  value: 240,
                  limit: 300,
                },
              ],
            },
          },
          {
            target: 'uhd',
            path: 'out/hero/uhd.png',
            width: 960,
            height: 540,
            format: 'png',
            space: 'srgb',
            preflight: { ok: true, checks: [] },
          },
        ],
        error: null,
      },
      {
        id: 'sku-001',
        status: 'cached',
        style: 'catalog',
        prompt: EVIL_PROMPT,
        costUsd: 0,
        steps: [
          { kind: 'generate', status: 'cached', key: 'bb01', ms: 0 },
          { kind: 'render', target: 'print', status: 'cached', key: 'bb02', ms: 3 },
        ],
        outputs: [
          {
            target: 'print',
            path: 'out/sku-001/print.pdf',
            width: 3508,
            height: 4961,
            format: 'pdf',
            space: 'cmyk',
            dpi: 300,
            icc: 'FOGRA39L Coated',
            preflight: {
              ok: false,
              checks: [
                {
                  name: 'inkLimit',
                  ok: false,
                  severity: 'error',
                  message: 'total ink coverage exceeds the limit',
                  value: 342,
                  limit: 320,
                },
              ],
            },
          },
        ],
        error: null,
      },
      {
        id: 'broken-logo',
        status: 'failed',
        style: 'catalog',
        prompt: 'A tote bag with a famous logo',
        costUsd: 0,
        steps: [{ kind: 'generate', status: 'failed', key: null, ms: 900, requests: 2, retries: 1 }],
        outputs: [],
        error: {
          step: 'generate',
          code: 'E_PROVIDER_REFUSED',
          message: FAILED_MESSAGE,
          hint: 'Rephrase the prompt without the brand name, then run gpt4k build broken-logo.',
        },
      },
      {
        id: 'mug',
        status: 'built',
        style: 'catalog',
        prompt: 'Matte white ceramic mug with a thin gold rim, steam rising',
        costUsd: 0.17,
        steps: [
          { kind: 'generate', status: 'built', key: 'cc01', ms: 3900, costUsd: 0.17 },
          { kind: 'render', target: 'uhd', status: 'built', key: 'cc02', ms: 200 },
        ],
        outputs: [
          {
            target: 'uhd',
            path: 'out/mug/uhd.png',
            width: 960,
            height: 540,
            format: 'png',
            space: 'srgb',
            preflight: { ok: true, checks: [] },
          },
        ],
        error: null,
      },
    ],
  };
}

async function writeDeliverables(): Promise<void> {
  await mkdir(path.join(out, 'hero'), { recursive: true });
  await mkdir(path.join(out, 'sku-001'), { recursive: true });
  await mkdir(path.join(out, 'mug'), { recursive: true });
  // A CMYK TIFF with an embedded profile, as the a3 target renders it.
  await sharp(scene(600, 848, '#0f6e78', '#0a3d4a', 'A3 CMYK'))
    .toColourspace('cmyk')
    .withIccProfile('cmyk')
    .tiff()
    .toFile(path.join(out, 'hero', 'a3.tif'));
  await sharp(scene(960, 540, '#e8a23a', '#b4462c', 'UHD')).png().toFile(path.join(out, 'hero', 'uhd.png'));
  await sharp(scene(960, 540, '#d9dde3', '#7f8a99', 'mug')).png().toFile(path.join(out, 'mug', 'uhd.png'));
  await writeFile(path.join(out, 'sku-001', 'print.pdf'), '%PDF-1.4\n%%EOF\n');
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-sheet-'));
  out = path.join(root, 'out');
  await writeDeliverables();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('escapeHtml', () => {
  it('escapes every character that can break out of text or an attribute', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('writeJsonReport', () => {
  it('writes out/pipeline_report.json atomically, pretty-printed', async () => {
    const report = makeReport();
    const { file } = await writeJsonReport(report, out);
    expect(file).toBe(path.join(out, 'pipeline_report.json'));
    const text = await readFile(file, 'utf8');
    expect(text).toContain('\n  "summary": {');
    expect(JSON.parse(text)).toEqual(report);
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('writeContactSheet', () => {
  it('writes small sRGB thumbnails, not copies of the deliverables', async () => {
    // A thumbnail of an output that is no longer in the report: must be cleaned up.
    await mkdir(path.join(out, '.thumbs', 'gone'), { recursive: true });
    await writeFile(path.join(out, '.thumbs', 'gone', 'uhd.jpg'), 'stale');

    const result = await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(result.file).toBe(path.join(out, 'report.html'));
    expect(result.thumbnails).toBe(3); // hero a3 + uhd, mug uhd; the PDF gets a placeholder

    for (const [thumb, deliverable] of [
      ['hero/a3.jpg', 'hero/a3.tif'],
      ['hero/uhd.jpg', 'hero/uhd.png'],
      ['mug/uhd.jpg', 'mug/uhd.png'],
    ] as const) {
      const thumbFile = path.join(out, '.thumbs', thumb);
      const meta = await sharp(thumbFile).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.space).toBe('srgb');
      expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(360);
      const size = (await stat(thumbFile)).size;
      expect(size).toBeLessThan(60_000);
      expect(size).toBeLessThan((await stat(path.join(out, deliverable))).size);
    }
    expect(existsSync(path.join(out, '.thumbs', 'sku-001'))).toBe(false);
    expect(existsSync(path.join(out, '.thumbs', 'gone'))).toBe(false);

    // The CMYK thumbnail was converted through its profile: still teal, not inverted garbage.
    const { channels } = await sharp(path.join(out, '.thumbs', 'hero', 'a3.jpg')).stats();
    const [r, g, b] = channels.map((c) => c.mean);
    expect(g!).toBeGreaterThan(r! + 20);
    expect(b!).toBeGreaterThan(r! + 20);
  });

  it('does not remake thumbnails when the deliverables are unchanged, and remakes a changed one', async () => {
    const thumb = (rel: string): string => path.join(out, '.thumbs', ...rel.split('/'));
    const before = await Promise.all(['hero/a3.jpg', 'hero/uhd.jpg', 'mug/uhd.jpg'].map((t) => stat(thumb(t))));
    await new Promise((r) => setTimeout(r, 30));
    await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    const after = await Promise.all(['hero/a3.jpg', 'hero/uhd.jpg', 'mug/uhd.jpg'].map((t) => stat(thumb(t))));
    after.forEach((s, i) => expect(s.mtimeMs).toBe(before[i]!.mtimeMs));

    // An edited deliverable gets a new thumbnail; the others stay as they were.
    await sharp(scene(960, 540, '#c9d3df', '#5f6b7a', 'mug v2')).png().toFile(path.join(out, 'mug', 'uhd.png'));
    await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect((await stat(thumb('mug/uhd.jpg'))).mtimeMs).toBeGreaterThan(before[2]!.mtimeMs);
    expect((await stat(thumb('hero/a3.jpg'))).mtimeMs).toBe(before[0]!.mtimeMs);
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('leaves the page as it is when only the build duration changed, and remakes it for anything else', async () => {
    const sheet = path.join(out, 'report.html');
    await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    const before = await stat(sheet);
    await new Promise((r) => setTimeout(r, 30));

    const faster = makeReport();
    faster.summary.durationMs = 120;
    const again = await writeContactSheet(faster, { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(again.unchanged).toBe(true);
    expect((await stat(sheet)).mtimeMs).toBe(before.mtimeMs);

    // A step that changed status is news: the page is made again.
    const changed = makeReport();
    changed.assets[0]!.status = 'cached';
    const remade = await writeContactSheet(changed, { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(remade.unchanged).toBeUndefined();
    expect((await stat(sheet)).mtimeMs).toBeGreaterThan(before.mtimeMs);

    // So is a deleted page.
    await rm(sheet);
    await writeContactSheet(changed, { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(existsSync(sheet)).toBe(true);
  });

  it('removes thumbnails of outputs that left the report', async () => {
    const report = makeReport();
    report.assets = report.assets.filter((a) => a.id !== 'mug');
    await writeContactSheet(report, { root, outputDir: out });
    expect(existsSync(path.join(out, '.thumbs', 'mug'))).toBe(false);
    expect(existsSync(path.join(out, '.thumbs', 'hero', 'a3.jpg'))).toBe(true);
    await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(existsSync(path.join(out, '.thumbs', 'mug', 'uhd.jpg'))).toBe(true);
  });

  it('removes the thumbnail of an output replaced by another, though the count of thumbnails stays the same', async () => {
    // As many outputs as before, one asset renamed (mug -> cup): the index changes by a key, not
    // only by an entry, so mug's thumbnail must go (a skip keyed on the count would keep it).
    await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(existsSync(path.join(out, '.thumbs', 'mug', 'uhd.jpg'))).toBe(true);
    await mkdir(path.join(out, 'cup'), { recursive: true });
    await sharp(scene(960, 540, '#aab4c0', '#303a48', 'cup')).png().toFile(path.join(out, 'cup', 'uhd.png'));
    const renamed = makeReport();
    const mug = renamed.assets.find((a) => a.id === 'mug')!;
    mug.id = 'cup';
    mug.outputs = mug.outputs.map((o) => ({ ...o, path: 'out/cup/uhd.png' }));
    await writeContactSheet(renamed, { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(existsSync(path.join(out, '.thumbs', 'cup', 'uhd.jpg'))).toBe(true);
    expect(existsSync(path.join(out, '.thumbs', 'mug'))).toBe(false);
    const index = JSON.parse(await readFile(path.join(out, '.thumbs', 'index.json'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(index.entries).sort()).toEqual(['cup/uhd.jpg', 'hero/a3.jpg', 'hero/uhd.jpg']);

    // One deliverable remade in place (a watch rebuild of one asset): its thumbnail is new, every
    // other one stays, the index still lists them all and the page shows the new one.
    const heroA3 = (await stat(path.join(out, '.thumbs', 'hero', 'a3.jpg'))).mtimeMs;
    const cupBefore = await readFile(path.join(out, '.thumbs', 'cup', 'uhd.jpg'));
    await new Promise((r) => setTimeout(r, 30));
    await sharp(scene(960, 540, '#20a040', '#104020', 'cup v2')).png().toFile(path.join(out, 'cup', 'uhd.png'));
    const result = await writeContactSheet(renamed, { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(result.thumbnails).toBe(3);
    expect((await readFile(path.join(out, '.thumbs', 'cup', 'uhd.jpg'))).equals(cupBefore)).toBe(false);
    expect((await stat(path.join(out, '.thumbs', 'hero', 'a3.jpg'))).mtimeMs).toBe(heroA3);
    const after = JSON.parse(await readFile(path.join(out, '.thumbs', 'index.json'), 'utf8')) as { entries: Record<string, { size: number }> };
    expect(Object.keys(after.entries).sort()).toEqual(['cup/uhd.jpg', 'hero/a3.jpg', 'hero/uhd.jpg']);
    expect(after.entries['cup/uhd.jpg']!.size).toBe((await stat(path.join(out, 'cup', 'uhd.png'))).size);
    expect(await readFile(path.join(out, 'report.html'), 'utf8')).toContain('.thumbs/cup/uhd.jpg');

    await rm(path.join(out, 'cup'), { recursive: true, force: true });
    await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
    expect(existsSync(path.join(out, '.thumbs', 'cup'))).toBe(false);
  });

  it('marks a missing deliverable instead of linking to nothing', async () => {
    const report = makeReport();
    report.assets[0]!.outputs.push({ ...report.assets[0]!.outputs[1]!, target: 'web', path: 'out/hero/web.png' });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-sheet-missing-'));
    try {
      await mkdir(path.join(dir, 'out', 'hero'), { recursive: true });
      const { file, thumbnails } = await writeContactSheet(report, { root: dir, outputDir: path.join(dir, 'out') });
      expect(thumbnails).toBe(0);
      const page = await readFile(file, 'utf8');
      expect(page).toContain('hero/web.png (missing)');
      expect(page).not.toContain('href="hero/web.png"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("uses the render's own preview as a print deliverable's thumbnail instead of decoding the file", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-sheet-preview-'));
    try {
      const outDir = path.join(dir, 'out');
      await mkdir(path.join(outDir, 'hero'), { recursive: true });
      await mkdir(path.join(outDir, 'sku-001'), { recursive: true });
      // A real print render: the CMYK TIFF and the sRGB preview the render made beside it.
      const fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
      const width = 600;
      const height = 848;
      const picture = await sharp(scene(300, 424, '#0f6e78', '#0a3d4a', 'A3')).removeAlpha().raw().toBuffer();
      const target: ResolvedTarget = {
        id: 'a3', width, height, trimWidth: width, trimHeight: height, dpi: 300, bleedMm: 0, fit: 'cover', format: 'tiff',
        color: { profile: 'fogra39', intent: 'perceptual', bpc: false }, preflight: 'off',
      };
      const rendered = await renderTarget({ data: picture, width: 300, height: 424, channels: 3, depth: 'uchar' }, target, fogra);
      await writeFile(path.join(outDir, 'hero', 'a3.tif'), rendered.data);
      await writeFile(path.join(outDir, 'sku-001', 'print.pdf'), '%PDF-1.4\n%%EOF\n');
      const store = path.join(dir, 'objects');
      await mkdir(store);
      await writeFile(path.join(store, 'a3-preview'), rendered.preview);
      await writeFile(path.join(store, 'pdf-preview'), rendered.preview);
      const previews = new Map([
        ['out/hero/a3.tif', path.join(store, 'a3-preview')],
        ['out/sku-001/print.pdf', path.join(store, 'pdf-preview')],
        ['out/hero/uhd.png', path.join(store, 'gone')], // missing: falls back to decoding
      ]);
      await sharp(scene(960, 540, '#e8a23a', '#b4462c', 'UHD')).png().toFile(path.join(outDir, 'hero', 'uhd.png'));
      const asked: string[] = [];
      const { thumbnails } = await writeContactSheet(makeReport(), {
        root: dir,
        outputDir: outDir,
        previewFile: (outputPath) => {
          asked.push(outputPath);
          return previews.get(outputPath);
        },
      });
      expect(asked).toEqual(expect.arrayContaining(['out/hero/a3.tif', 'out/hero/uhd.png', 'out/sku-001/print.pdf']));
      // The TIFF's and the PDF's thumbnails are the previews, byte for byte; the PNG's was decoded.
      const thumb = (rel: string) => readFile(path.join(outDir, '.thumbs', ...rel.split('/')));
      expect((await thumb('hero/a3.jpg')).equals(rendered.preview)).toBe(true);
      expect((await thumb('sku-001/print.jpg')).equals(rendered.preview)).toBe(true);
      expect((await sharp(await thumb('hero/uhd.jpg')).metadata()).width).toBe(360);
      expect(thumbnails).toBe(3);
      // The preview is what the sheet promises: a small sRGB JPEG of the page, fitted as the page is.
      const meta = await sharp(rendered.preview).metadata();
      expect([meta.format, meta.space, meta.channels]).toEqual(['jpeg', 'srgb', 3]);
      expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBe(360);
      expect((meta.width ?? 0) / (meta.height ?? 1)).toBeCloseTo(width / height, 1);
      const [r, g, b] = (await sharp(rendered.preview).stats()).channels.map((c) => c.mean);
      expect(g!).toBeGreaterThan(r! + 20); // teal, as the picture is
      expect(b!).toBeGreaterThan(r! + 20);
      const page = await readFile(path.join(outDir, 'report.html'), 'utf8');
      expect(page).toContain('.thumbs/sku-001/print.jpg');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('in headless Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      await writeContactSheet(makeReport(), { root, outputDir: out, manifestName: 'assets.pipeline.yaml' });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('loads from disk with every image, every asset, the failure, working links and no errors', async () => {
      const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
      const problems: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error' || msg.type() === 'warning') problems.push(`console ${msg.type()}: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:') && !req.url().startsWith('data:')) problems.push(`network: ${req.url()}`);
      });

      const url = pathToFileURL(path.join(out, 'report.html')).href;
      await page.goto(url, { waitUntil: 'load' });

      // Lazy images load as they come into view: scroll through, then wait for all of them.
      await page.evaluate(async () => {
        window.scrollTo(0, document.body.scrollHeight);
        await Promise.all(
          Array.from(document.images as ArrayLike<{ complete: boolean; addEventListener: (...a: unknown[]) => void }>).map((img) =>
            img.complete ? undefined : new Promise((resolve) => img.addEventListener('load', resolve, { once: true })),
          ),
        );
        window.scrollTo(0, 0);
      });
      const images = await page.$$eval('img', (imgs) =>
        imgs.map((img) => ({ src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth })),
      );
      expect(images).toHaveLength(3);
      for (const img of images) expect(img, `image ${img.src}`).toMatchObject({ complete: true });
      for (const img of images) expect(img.width, `image ${img.src}`).toBeGreaterThan(0);

      for (const id of ['hero', 'sku-001', 'broken-logo', 'mug']) {
        await expect(page.getByRole('heading', { name: id, exact: true }).isVisible()).resolves.toBe(true);
      }

      // The failed asset comes first and shows its step, code, message and hint.
      const firstCard = page.locator('article.card').first();
      await expect(firstCard.getAttribute('id')).resolves.toBe('asset-broken-logo');
      await expect(page.getByText(FAILED_MESSAGE).isVisible()).resolves.toBe(true);
      await expect(firstCard.getByText('E_PROVIDER_REFUSED').isVisible()).resolves.toBe(true);
      await expect(firstCard.getByText(/Rephrase the prompt/).isVisible()).resolves.toBe(true);
      await expect(page.getByText('PDF', { exact: true }).isVisible()).resolves.toBe(true);

      // The prompt's markup is text, not markup.
      const injected = await page.evaluate(() => ({
        scripts: document.querySelectorAll('script').length,
        bold: document.querySelectorAll('article b').length,
        pwned: window.__pwned as number | undefined,
      }));
      expect(injected).toEqual({ scripts: 0, bold: 0, pwned: undefined });
      await expect(page.locator('#asset-sku-001 .prompt').textContent()).resolves.toBe(EVIL_PROMPT);

      // Every link resolves: deliverables on disk, anchors to cards on the page.
      const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => (a as unknown as { href: string }).href));
      expect(hrefs.length).toBeGreaterThanOrEqual(8);
      for (const href of hrefs) {
        const target = new URL(href);
        expect(target.protocol, href).toBe('file:');
        if (target.hash) {
          const id = decodeURIComponent(target.hash.slice(1));
          await expect(page.evaluate((i) => document.getElementById(i) !== null, id)).resolves.toBe(true);
        } else {
          expect(existsSync(fileURLToPath(target)), href).toBe(true);
        }
      }
      const deliverableLinks = await page.$$eval('a.file', (as) => as.map((a) => a.getAttribute('href')));
      expect(deliverableLinks).toEqual(
        expect.arrayContaining(['hero/a3.tif', 'hero/uhd.png', 'sku-001/print.pdf', 'mug/uhd.png']),
      );

      // Laptop width: no horizontal scrolling, several cards per row.
      const layout = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        firstRowCards: Array.from(document.querySelectorAll('article.card') as ArrayLike<{ getBoundingClientRect(): { top: number } }>).filter(
          (c) => c.getBoundingClientRect().top === document.querySelector('article.card')!.getBoundingClientRect().top,
        ).length,
      }));
      expect(layout.scrollWidth).toBeLessThanOrEqual(layout.clientWidth);
      expect(layout.firstRowCards).toBeGreaterThanOrEqual(3);

      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'contact-sheet.png'), fullPage: true });
      expect(problems).toEqual([]);
      await page.close();
    });

    it('reads on a phone-sized screen without horizontal scrolling', async () => {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(pathToFileURL(path.join(out, 'report.html')).href, { waitUntil: 'load' });
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: path.join(ARTIFACTS, 'contact-sheet-narrow.png'), fullPage: true });
      await page.close();
    });
  });
});
