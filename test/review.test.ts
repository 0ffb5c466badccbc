/**
 * `gpt4k review` end to end: the real CLI serves the page on a random loopback port, real
 * headless Chromium drives it. Soft proofs are checked against LittleCMS's own `tificc`; the
 * manifest is edited on disk and the open page must follow without a reload (SSE); a variant
 * picked in the page lands in assets.lock.json and the deliverable; approvals survive a restart.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../src/color/profiles.js';
import { renderTarget } from '../src/color/render.js';
import type { ResolvedTarget } from '../src/manifest/types.js';
import { renderContactSheet } from '../src/report/html-render.js';
import type { PipelineReport } from '../src/report/types.js';
import { renderReviewMain } from '../src/review/page.js';
import { softProof } from '../src/review/soft-proof.js';
import { eventually, makeProject, type LiveCli, type Project } from './support/cli-project.js';
import { ensureBuilt } from './support/cli-run.js';
import { FOGRA39 } from './support/paths.js';
import { deltas } from './support/pixels.js';

// Code in page.evaluate runs in Chromium; the project compiles without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, document: any, btoa: (s: string) => string;

const CHROMIUM = process.env.GPT4K_CHROMIUM ?? '/usr/bin/chromium';
const EVIL = `<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & "quotes"`;

/** 254 dpi: 1 mm is 10 px, so trim and bleed land on whole pixels: 400x300 trim + 30 px bleed. */
const manifest = (prompt: string) => `version: 1
defaults:
  generate: { provider: procedural, size: 64x64, quality: low }
  upscale: { engine: lanczos, scale: 2 }
profiles:
  fogra: ${JSON.stringify(FOGRA39)}
targets:
  print: { paper: custom, width_mm: 40, height_mm: 30, dpi: 254, bleed_mm: 3, color: { profile: fogra }, format: tiff, preflight: warn }
  web: { width: 96, height: 64, format: png }
assets:
  hero:
    prompt: ${JSON.stringify(prompt)}
    variants: 2
    targets: [print, web]
`;

let project: Project;
let server: LiveCli;
let url: string;
let browser: Browser;
const pages: Page[] = [];
const problems: string[] = [];

async function startServer(): Promise<void> {
  server = project.start(['review', '--port', '0', '--debounce', '50']);
  const out = await server.waitFor(/build #1 done/, 90_000);
  url = (/\[review\] (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out) as RegExpExecArray)[1] as string;
}

async function stopServer(): Promise<void> {
  if (server.child.exitCode !== null) return;
  server.child.kill('SIGINT');
  expect(await server.exited).toBe(0);
}

async function openPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
  pages.push(page);
  await page.goto(url);
  return page;
}

/** The print proof at 100%, composed from the tiles the page shows, as RGB bytes. */
async function proofPixelsShown(page: Page): Promise<{ width: number; height: number; rgb: Buffer; canvasCss: number[]; level: string; maxLevel: number }> {
  const viewer = page.locator('.viewer[data-key="hero/print"]');
  await viewer.locator('[data-zoom="1"]').click();
  await page.waitForFunction(() => [...document.querySelectorAll('.viewer[data-key="hero/print"] img.tile')].every((i: any) => i.complete && i.naturalWidth > 0));
  const shown = await page.evaluate(() => {
    const v = document.querySelector('.viewer[data-key="hero/print"]');
    const p = JSON.parse(v.dataset.proof);
    const c = document.createElement('canvas');
    c.width = p.width;
    c.height = p.height;
    const ctx = c.getContext('2d');
    for (const img of v.querySelectorAll('img.tile')) {
      // At 100%, a tile's CSS box is its own pixels: drawn where the page placed it.
      if (img.naturalWidth !== parseFloat(img.style.width)) throw new Error(`tile ${img.src} is ${img.naturalWidth} px shown at ${img.style.width}`);
      ctx.drawImage(img, parseFloat(img.style.left), parseFloat(img.style.top));
    }
    const rgba = ctx.getImageData(0, 0, p.width, p.height).data;
    // Base64 rather than an array of numbers: half a million numbers are slow to serialize.
    let rgb = '';
    for (let i = 0; i < rgba.length; i += 4) rgb += String.fromCharCode(rgba[i], rgba[i + 1], rgba[i + 2]);
    rgb = btoa(rgb);
    const canvas = v.querySelector('.canvas');
    return { width: p.width, height: p.height, rgb, canvasCss: [canvas.getBoundingClientRect().width, canvas.getBoundingClientRect().height], level: v.querySelector('.layer').dataset.level, maxLevel: p.maxLevel };
  });
  return { ...shown, rgb: Buffer.from(shown.rgb as string, 'base64') };
}

/** tificc (LittleCMS) converts the TIFF through its embedded profile to sRGB, absolute colorimetric. */
async function tificcProof(tiff: string, dir: string): Promise<Buffer> {
  const out = path.join(dir, 'tificc-srgb.tif');
  execFileSync('tificc', ['-t3', tiff, out]);
  return sharp(out, { ignoreIcc: true }).removeAlpha().raw().toBuffer();
}

const meanDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => deltas(a, b).mean;

/** Waits until the first element matching `selector` shows `text` (the page changes on its own). */
async function waitForText(page: Page, selector: string, text: string | RegExp, timeoutMs = 15_000): Promise<void> {
  let last = '';
  await eventually(async () => {
    last = (await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => null)) ?? '';
    return typeof text === 'string' ? last.includes(text) : text.test(last);
  }, timeoutMs, `${selector} to show ${String(text)} (it shows ${JSON.stringify(last)})`).catch((err: Error) => {
    throw new Error(`${err.message}; last text: ${JSON.stringify(last)}`);
  });
}

async function waitForAttribute(page: Page, selector: string, name: string, value: string, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => (await page.locator(selector).first().getAttribute(name, { timeout: 1000 }).catch(() => null)) === value, timeoutMs, `${selector} [${name}=${value}]`);
}

/** A GET with a Host header of our choosing (fetch will not send one). */
function getWithHost(target: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(target, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  await ensureBuilt(['src/review/session.ts', 'src/review/server.ts', 'src/review/client.ts', 'src/review/page.ts', 'src/cli/commands/review.ts', 'src/cli/main.ts']);
  project = await makeProject({ 'assets.pipeline.yaml': manifest(`front view, a teal coffee bag ${EVIL}`) }, 'gpt4k-review-');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  await startServer();
}, 120_000);

afterEach(() => {
  expect(problems.splice(0), 'console errors on the page').toEqual([]);
});

afterAll(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await browser?.close();
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGINT');
    await server.exited;
  }
  await project?.remove();
});

describe('gpt4k review', () => {
  it("shows the print target's soft proof: LittleCMS's own CMYK->sRGB of the TIFF, pixel for pixel at 100%", async () => {
    const page = await openPage();
    const shown = await proofPixelsShown(page);
    expect([shown.width, shown.height]).toEqual([460, 360]);
    expect(shown.canvasCss).toEqual([460, 360]);
    expect(Number(shown.level)).toBe(shown.maxLevel);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-tificc-'));
    try {
      const reference = await tificcProof(path.join(project.dir, 'out/hero/print.tif'), dir);
      expect(meanDiff(shown.rgb, reference)).toBeLessThan(3);
      // And it is a proof, not the source: the deliverable decoded naively differs more.
      const naive = await sharp(path.join(project.dir, 'out/hero/print.tif')).toColourspace('srgb').removeAlpha().raw().toBuffer();
      expect(meanDiff(naive, reference)).toBeGreaterThan(meanDiff(shown.rgb, reference));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await waitForText(page, '.viewer[data-key="hero/print"] .viewer-facts', 'FOGRA39');
  });

  it('draws trim, bleed and safe-area lines where the target puts them, with the effective PPI', async () => {
    const page = await openPage();
    await page.locator('.viewer[data-key="hero/print"] [data-zoom="1"]').click();
    const boxes = await page.evaluate(() => {
      const v = document.querySelector('.viewer[data-key="hero/print"]');
      const origin = v.querySelector('.canvas').getBoundingClientRect();
      const box = (cls: string) => {
        const r = v.querySelector(`svg.lines rect.${cls}`).getBoundingClientRect();
        return [r.left - origin.left, r.top - origin.top, r.width, r.height].map(Math.round);
      };
      return { bleed: box('bleed'), trim: box('trim'), safe: box('safe') };
    });
    // 3 mm bleed = 30 px around a 400x300 px trim; the safe area 5 mm = 50 px inside the trim.
    expect(boxes.bleed).toEqual([0, 0, 460, 360]);
    expect(boxes.trim).toEqual([30, 30, 400, 300]);
    expect(boxes.safe).toEqual([80, 80, 300, 200]);
    await waitForText(page, '.viewer[data-key="hero/print"] .viewer-facts', /effective [\d.]+ ppi/);
    await waitForText(page, '.viewer[data-key="hero/print"] .viewer-facts', '40 × 30 mm trim + 3 mm bleed');
  });

  it('shows a prompt with HTML and script in it as text, running none of it', async () => {
    const page = await openPage();
    await waitForText(page, 'article[data-asset="hero"] > .prompt', EVIL);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
    expect(await page.locator('article[data-asset="hero"] > .prompt script, article[data-asset="hero"] > .prompt img').count()).toBe(0);
  });

  it('follows an edit of the manifest without a reload, showing the prompt change', async () => {
    const page = await openPage();
    await page.evaluate(() => (window.__samePage = 'yes'));
    await project.write('assets.pipeline.yaml', manifest(`front view, a red coffee bag ${EVIL}`));
    await waitForText(page, 'article[data-asset="hero"] > .prompt', 'a red coffee bag', 60_000);
    await waitForText(page, 'article[data-asset="hero"] .prompt-diff ins', 'red', 60_000);
    await waitForText(page, 'article[data-asset="hero"] .prompt-diff del', 'teal', 60_000);
    expect(await page.evaluate(() => window.__samePage)).toBe('yes');
    expect(Number(await page.evaluate(() => document.documentElement.dataset.updates))).toBeGreaterThan(0);
  });

  it('picks a variant from the page: assets.lock.json and the deliverable change', async () => {
    const page = await openPage();
    const lock = async () => JSON.parse(await project.read('assets.lock.json')) as { assets: Record<string, { pick?: number }> };
    expect((await lock()).assets.hero?.pick).toBe(1);
    const before = await project.bytes('out/hero/print.tif');
    expect(await page.locator('.candidate img').count()).toBe(2);
    await page.locator('button.pick[data-pick="2"]').click();
    await eventually(async () => (await lock()).assets.hero?.pick === 2, 30_000, 'the pick in assets.lock.json');
    await waitForText(page, '.candidate-current', 'In use: 2', 60_000);
    expect((await project.bytes('out/hero/print.tif')).equals(before)).toBe(false);
  });

  it('keeps an approval, with its comment as text, across a restart, and shows it in out/report.html', async () => {
    let page = await openPage();
    await page.locator('form.review-form[data-asset="hero"] textarea').fill(`ok for press ${EVIL}`);
    await page.locator('form.review-form[data-asset="hero"] button.approve').click();
    await waitForAttribute(page, 'article[data-asset="hero"] p.review-status', 'data-status', 'approved');
    const saved = JSON.parse(await project.read('assets.review.json')) as { assets: Record<string, { decision: string; comment: string; renders: Record<string, string> }> };
    expect(saved.assets.hero?.decision).toBe('approved');
    expect(Object.keys(saved.assets.hero?.renders ?? {}).sort()).toEqual(['print', 'web']);
    expect(await project.read('out/report.html')).toContain('Approved');

    // Pages of the old server would reconnect their event stream and log the refusals.
    for (const open of pages.splice(0)) await open.close();
    await stopServer();
    await startServer();
    page = await openPage();
    await waitForAttribute(page, 'article[data-asset="hero"] p.review-status', 'data-status', 'approved');
    await waitForText(page, 'article[data-asset=\"hero\"] p.review-status', `ok for press ${EVIL}`);
    expect(await page.evaluate(() => window.__pwned)).toBeUndefined();
  });

  it('refuses a POST without the page token and a request for another host', async () => {
    const res = await fetch(new URL('/api/review', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ asset: 'hero', decision: 'approved' }) });
    expect(res.status).toBe(403);
    expect(await getWithHost(url, 'evil.example:80')).toBe(421);
    expect(await getWithHost(url, new URL(url).host)).toBe(200);
  });
});

describe('soft proof', () => {
  it('matches tificc (LittleCMS) on a small CMYK TIFF within 1/255 on average', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-proof-'));
    try {
      const tiff = path.join(dir, 'in.tif');
      const pixels = Buffer.alloc(24 * 16 * 3);
      for (let i = 0; i < 24 * 16; i++) pixels.set(i % 24 < 12 ? [255, 32, 32] : [27, 127, 142], i * 3);
      await sharp(pixels, { raw: { width: 24, height: 16, channels: 3 } })
        .withIccProfile(FOGRA39)
        .toColourspace('cmyk')
        .tiff()
        .toFile(tiff);
      const proof = await softProof(tiff);
      expect(proof.profile).toMatch(/FOGRA39/i);
      expect(meanDiff(proof.rgb, await tificcProof(tiff, dir))).toBeLessThan(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("makes a print render's preview (the contact sheet's thumbnail) a soft proof of the TIFF", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-preview-'));
    try {
      const fogra = await loadProfile('fogra39', { kind: 'file', path: FOGRA39 });
      // Left half bright red, right half bright blue.
      const picture = Buffer.alloc(200 * 160 * 3);
      for (let i = 0; i < 200 * 160; i++) picture.set(i % 200 < 100 ? [255, 48, 0] : [0, 160, 255], i * 3);
      const target: ResolvedTarget = {
        id: 'print', width: 200, height: 160, trimWidth: 200, trimHeight: 160, dpi: 300, bleedMm: 0, fit: 'cover', format: 'tiff',
        color: { profile: 'fogra39', intent: 'perceptual', bpc: false }, preflight: 'off',
      };
      const rendered = await renderTarget({ data: picture, width: 200, height: 160, channels: 3, depth: 'uchar' }, target, fogra);
      const tiff = path.join(dir, 'print.tif');
      await writeFile(tiff, rendered.data);
      const preview = await sharp(rendered.preview).removeAlpha().raw().toBuffer();
      // Bright blue and red are outside FOGRA39: a proof shows them duller, as the press will.
      expect(meanDiff(preview, await tificcProof(tiff, dir))).toBeLessThan(3);
      expect(meanDiff(preview, picture)).toBeGreaterThan(10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('contact sheet: a preflight warning is amber, not a failure; prompts in full; the built-in CMYK profile says what it is', () => {
    const warn = { name: 'resolution', ok: false, severity: 'warning' as const, message: '150 dpi effective is below the 300 dpi minimum', value: 150, limit: 300 };
    const report: PipelineReport = {
      version: 1,
      summary: { assets: 1, built: 1, cached: 0, failed: 0, skipped: 0, providerCalls: 0, retries: 0, costUsd: 0, durationMs: 10 },
      assets: [{ id: 'hero', status: 'built', prompt: 'a long prompt '.repeat(40), costUsd: 0, steps: [], error: null,
        outputs: [{ target: 'a3', path: 'out/hero/a3.tif', width: 10, height: 10, format: 'tiff', space: 'cmyk', dpi: 300, icc: 'Chemical proof', preflight: { ok: false, checks: [warn] } }] }],
    };
    const page = renderContactSheet({ title: 't', report, assets: [{ asset: report.assets[0]!, outputs: [{ output: report.assets[0]!.outputs[0]!, href: null, label: 'hero/a3.tif', preview: { kind: 'placeholder', label: 'x' } }] }] });
    expect(page).toContain('class="preflight preflight-warn"');
    expect(page).not.toContain('preflight-failed"');
    expect(page).not.toContain('Preflight failed');
    expect(page).not.toContain('line-clamp');
    expect(page).toContain('Chemical proof (the built-in generic CMYK profile');
  });

  it('escapes an asset id that holds HTML (ids come from manifests, includes and CSVs)', () => {
    const id = `<img src=x onerror=alert(1)>`;
    const text = renderReviewMain({
      title: 't',
      cycle: 1,
      building: false,
      assets: [{ asset: { id, status: 'built', prompt: EVIL, costUsd: 0, steps: [], outputs: [], error: null }, outputs: [], review: { status: 'pending' } }],
    });
    expect(text).not.toContain('<img src=x');
    expect(text).not.toContain('<script>');
    expect(text).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});
