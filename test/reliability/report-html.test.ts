/**
 * HTML in what users write stays text in out/report.html: prompts, catalog CSV values (ids may
 * not hold < or >, the schema refuses them) and source file names. The sheet is opened in
 * headless Chromium from disk; every payload would set window.__pwned or open a dialog if it ran.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, removeProject, runCli } from '../support/project.js';

const CHROMIUM = process.env.GPT4K_CHROMIUM ?? '/usr/bin/chromium';
const SCRIPT = '<script>window.__pwned = "script"</script>';
const IMG = '<img src=x onerror="window.__pwned = \'img\'">';
const CLOSE = '</title></textarea></style></script><svg onload="window.__pwned = \'svg\'">';
const ATTR = '" autofocus onfocus="window.__pwned = \'attr\'" x="';
const FILE_NAME = `<img src=y onerror=alert(1)>.png`;

let browser: Browser | undefined;
let dir: string;

beforeAll(async () => {
  const photo = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0a8' } }).png().toBuffer();
  const csv = ['sku,name', `a1,"${IMG.replace(/"/g, '""')}"`, `a2,"${CLOSE.replace(/"/g, '""')}"`, `a3,"${ATTR.replace(/"/g, '""')}"`].join('\n');
  dir = await makeProject(
    {
      'assets.pipeline.yaml': `version: 1
defaults:
  generate: { provider: procedural, size: 64x64 }
  upscale: { engine: none }
targets:
  web: { width: 32, height: 32, format: png }
assets:
  scripted: { prompt: ${JSON.stringify(`${SCRIPT} a mug, front view, centered`)} }
  closing: { prompt: ${JSON.stringify(`${CLOSE} a cup, front view, centered`)} }
  quoted: { prompt: ${JSON.stringify(`${ATTR} a bowl, front view, centered`)} }
  photo: { source: ${JSON.stringify(`./photos/${FILE_NAME}`)} }
  failing: { source: "./photos/${'<script>window.__pwned=1</script>'}.png" }
include:
  - file: skus.csv
    id: "sku-{{sku}}"
    prompt: "Packshot of {{name}}, front view, centered"
`,
      'skus.csv': csv,
      [`photos/${FILE_NAME}`]: photo,
      'photos/<script>window.__pwned=1</script>.png': Buffer.from('not an image'),
    },
    'gpt4k-html-',
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(async () => {
  await browser?.close();
  if (dir) await removeProject(dir);
});

describe('HTML in prompts, catalog values and file names', () => {
  it('is shown as text in report.html and never runs', async () => {
    const run = await runCli(['build'], { cwd: dir });
    expect(run.code, run.stdout + run.stderr).toBe(1); // "failing" is not an image
    const page = await browser!.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(pathToFileURL(path.join(dir, 'out', 'report.html')).href);
    await page.waitForLoadState('load');
    // Give onerror/onload handlers a moment to fire, were there any.
    await page.waitForTimeout(300);
    await page.locator('body').focus().catch(() => undefined);
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    const text = await page.locator('body').innerText();
    for (const id of ['scripted', 'closing', 'quoted', 'photo', 'failing', 'sku-a1', 'sku-a2', 'sku-a3']) expect(text).toContain(id);
    // The payloads are there, as text: nothing was dropped to make them safe.
    const html = await page.content();
    expect(await page.locator('script:not([src])').evaluateAll((s) => s.map((e) => e.textContent).filter((t) => t?.includes('__pwned')))).toEqual([]);
    expect(await page.locator('[onerror], [onload], [onfocus]').count()).toBe(0);
    expect(text + html).toMatch(/&lt;script&gt;window\.__pwned|<script>window\.__pwned = "script"<\/script>/);
    await page.close();
  });
});
