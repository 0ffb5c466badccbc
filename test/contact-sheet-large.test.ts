import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeContactSheet } from '../src/report/contact-sheet.js';
import type { PipelineReport, ReportAsset } from '../src/report/types.js';
import { writeJsonReport } from '../src/report/write-report.js';

// The sheet is written a slice of cards at a time (64): a catalogue larger than several slices
// must still come out whole, in attention order, with every thumbnail.
const COUNT = 150;

let root = '';
let out = '';

function asset(i: number): ReportAsset {
  const id = `sku-${String(i).padStart(3, '0')}`;
  const failedPreflight = i === 100;
  return {
    id,
    status: i === COUNT - 1 ? 'failed' : 'built',
    prompt: `product ${i}`,
    costUsd: 0,
    steps: [{ kind: 'render', target: 'web', status: i === COUNT - 1 ? 'failed' : 'built', key: `k${i}`, ms: 1 }],
    outputs: i === COUNT - 1 ? [] : [{
      target: 'web', path: `out/${id}/web.png`, width: 16, height: 16, format: 'png', space: 'srgb',
      preflight: failedPreflight
        ? { ok: false, checks: [{ name: 'resolution', ok: false, severity: 'error', message: 'too small', value: 16, limit: 300 }] }
        : { ok: true, checks: [] },
    }],
    error: i === COUNT - 1 ? { code: 'E_PROVIDER', step: 'generate', message: 'refused' } : null,
  };
}

function report(): PipelineReport {
  return {
    version: 1,
    summary: { assets: COUNT, built: COUNT - 1, cached: 0, failed: 1, skipped: 0, providerCalls: 0, retries: 0, costUsd: 0, durationMs: 1000 },
    assets: Array.from({ length: COUNT }, (_, i) => asset(i)),
  };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-sheet-large-'));
  out = path.join(root, 'out');
  for (let i = 0; i < COUNT - 1; i++) {
    const dir = path.join(out, `sku-${String(i).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: i, g: 255 - i, b: 128 } } }).png().toFile(path.join(dir, 'web.png'));
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a contact sheet of more cards than one slice', () => {
  it('has every card once, those needing attention first, each with its thumbnail', async () => {
    const r = report();
    const { stableDigest } = await writeJsonReport(r, out);
    const result = await writeContactSheet(r, { root, outputDir: out, manifestName: 'assets.pipeline.yaml', reportDigest: stableDigest });
    expect(result.thumbnails).toBe(COUNT - 1);

    const page = await readFile(result.file, 'utf8');
    const order = [...page.matchAll(/<article class="[^"]*" id="asset-([^"]+)"/g)].map((m) => m[1]);
    expect(order.length).toBe(COUNT);
    expect(new Set(order).size).toBe(COUNT);
    // The failed asset, then the failed preflight, then the rest in manifest order.
    expect(order.slice(0, 3)).toEqual(['sku-149', 'sku-100', 'sku-000']);
    expect(order.at(-1)).toBe('sku-148');
    expect(page.trimEnd().endsWith('</html>')).toBe(true);
    for (const id of ['sku-000', 'sku-063', 'sku-064', 'sku-128', 'sku-148']) {
      expect(page).toContain(`src=".thumbs/${id}/web.jpg"`);
    }
    const thumbs = await readdir(path.join(out, '.thumbs'));
    expect(thumbs.filter((name) => name.startsWith('sku-')).length).toBe(COUNT - 1);
    const index = JSON.parse(await readFile(path.join(out, '.thumbs', 'index.json'), 'utf8')) as { entries: Record<string, unknown> };
    expect(Object.keys(index.entries).length).toBe(COUNT - 1);

    // The digest the report writer gave is the one the sheet would compute: the next identical
    // report (but for its duration) leaves the page alone.
    const again = report();
    again.summary.durationMs = 5;
    expect((await writeContactSheet(again, { root, outputDir: out, manifestName: 'assets.pipeline.yaml' })).unchanged).toBe(true);
  });
});
