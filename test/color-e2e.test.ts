/**
 * Print color end to end through the real CLI: a relative-intent TIFF and a PDF with a file
 * profile, preflight in the report, a `preflight: warn` target delivered with a warning, a
 * failing target kept out of out/ (exit 1), and `gpt4k preflight FILE --target T`.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../src/cache/store.js';
import { makeProject, type Project, type RunResult } from './support/cli-project.js';
import { ensureBuilt } from './support/cli-run.js';
import { FOGRA39 } from './support/paths.js';

const MANIFEST = `version: 1
defaults:
  generate: { provider: procedural, size: 256x256 }
  upscale: { engine: lanczos, scale: 2 }
styles:
  catalog:
    prefix: "studio packshot"
    whiteBalance: hero
profiles:
  press: ./press.icc
targets:
  card: { paper: custom, width_mm: 60, height_mm: 80, dpi: 72, bleed_mm: 3, color: { profile: press, intent: relative }, format: tiff }
  cardpdf: { paper: custom, width_mm: 60, height_mm: 80, dpi: 72, bleed_mm: 3, color: { profile: press, intent: relative }, format: pdf }
  fine: { paper: custom, width_mm: 60, height_mm: 80, dpi: 300, color: { profile: press }, format: tiff, preflight: warn }
  strict: { paper: custom, width_mm: 60, height_mm: 80, dpi: 300, color: { profile: press }, format: tiff }
assets:
  hero:
    prompt: "a teal coffee bag"
    targets: [card, cardpdf]
  mug:
    style: catalog
    prompt: "a red enamel mug"
    targets: [card, fine]
  poster:
    prompt: "a mountain at dawn"
    targets: [strict]
`;

let project: Project;
let build: RunResult;

beforeAll(async () => {
  await ensureBuilt(['src/cli/main.ts', 'src/cli/commands/preflight.ts', 'src/color/render.ts', 'src/color/preflight.ts', 'src/color/pdf.ts', 'src/color/lcms.ts', 'src/color/white-balance.ts', 'src/steps/render.ts', 'src/steps/normalize.ts', 'src/engine/build.ts', 'src/color/tiff-ink.ts', 'src/report/contact-sheet.ts']);
  project = await makeProject({ 'assets.pipeline.yaml': MANIFEST, 'press.icc': await readFile(FOGRA39) }, 'gpt4k-color-');
  build = await project.run(['build']);
});

afterAll(async () => {
  await project?.remove();
});

describe('gpt4k build with print targets', () => {
  it('builds what passes preflight, fails the asset that does not (exit 1), and keeps its file out of out/', async () => {
    expect(build.code, build.stderr + build.stdout).toBe(1);
    const report = await project.report();
    const byId = new Map(report.assets.map((a) => [a.id, a]));
    expect(byId.get('hero')?.status).toBe('built');
    expect(byId.get('mug')?.status).toBe('built');
    const poster = byId.get('poster');
    expect(poster?.status).toBe('failed');
    expect(poster?.error?.code).toBe('E_PREFLIGHT');
    expect(poster?.error?.message).toMatch(/preflight failed for target "strict": resolution: \d+(\.\d)? dpi effective \(512x512 px of detail over 60 mm x 80 mm\) is below the 300 dpi minimum/);
    expect(project.exists('out/poster/strict.tif')).toBe(false);
  });

  it('writes the relative-intent TIFF with the file profile, and its preflight in the report', async () => {
    const report = await project.report();
    const hero = report.assets.find((a) => a.id === 'hero');
    const card = hero?.outputs.find((o) => o.target === 'card');
    expect(card).toMatchObject({ path: 'out/hero/card.tif', format: 'tiff', space: 'cmyk', dpi: 72, icc: 'FOGRA39L Coated' });
    expect(card?.preflight?.ok).toBe(true);
    expect(card?.preflight?.checks.map((c) => c.name)).toEqual(['resolution', 'color-space', 'profile-embedded', 'ink-max', 'ink-p99', 'alpha', 'bleed']);
    const meta = await sharp(await project.bytes('out/hero/card.tif')).metadata();
    expect([meta.space, meta.width, meta.height]).toEqual(['cmyk', 187, 244]);
  });

  it('writes the PDF with trim and bleed boxes and the output intent', async () => {
    const report = await project.report();
    const pdf = report.assets.find((a) => a.id === 'hero')?.outputs.find((o) => o.target === 'cardpdf');
    expect(pdf).toMatchObject({ path: 'out/hero/cardpdf.pdf', format: 'pdf', space: 'cmyk' });
    expect(pdf?.preflight?.ok).toBe(true);
    const info = spawnSync('pdfinfo', ['-box', `${project.dir}/out/hero/cardpdf.pdf`], { encoding: 'utf8' });
    expect(info.stdout).toMatch(/TrimBox:\s+8\.50\s+8\.50\s+178\.58\s+235\.28\b/);
  });

  it("makes each deliverable's contact-sheet thumbnail from the render's own preview, not by decoding the file", async () => {
    const report = await project.report();
    const store = new LocalStore(path.join(project.dir, '.gpt4k'));
    const checked: string[] = [];
    for (const asset of report.assets) {
      for (const step of asset.steps) {
        if (step.kind !== 'render' || step.status !== 'built' || !step.key) continue;
        const hash = (await store.getAction(step.key))?.meta?.previewHash;
        expect(typeof hash, `${asset.id}/${step.target}: meta.previewHash`).toBe('string');
        const thumb = await project.bytes(`out/.thumbs/${asset.id}/${step.target}.jpg`);
        expect(thumb.equals(await readFile(store.objectPath(hash as string))), `${asset.id}/${step.target}`).toBe(true);
        checked.push(`${asset.id}/${step.target}`);
      }
    }
    // The TIFFs and the PDF, perceptual (libvips, 16-bit white-balanced input too) and relative (LittleCMS).
    expect(checked.sort()).toEqual(['hero/card', 'hero/cardpdf', 'mug/card', 'mug/fine']);
  });

  it('delivers a preflight: warn target that fails, with ok: false in the report and a warning', async () => {
    const report = await project.report();
    const fine = report.assets.find((a) => a.id === 'mug')?.outputs.find((o) => o.target === 'fine');
    expect(fine?.preflight?.ok).toBe(false);
    expect(fine?.preflight?.checks.find((c) => !c.ok)).toMatchObject({ name: 'resolution', severity: 'warning', limit: 300 });
    expect(project.exists('out/mug/fine.tif')).toBe(true);
    expect(build.stdout + build.stderr).toMatch(/preflight resolution/);
  });
});

describe('gpt4k preflight FILE --target T', () => {
  it('passes a deliverable against its target (exit 0) and prints every check', async () => {
    const run = await project.run(['preflight', 'out/hero/card.tif', '--target', 'card']);
    expect(run.code, run.stderr).toBe(0);
    for (const name of ['resolution', 'color-space', 'profile-embedded', 'ink-max', 'ink-p99', 'alpha', 'bleed']) expect(run.stdout).toMatch(new RegExp(`^ok\\s+${name}\\b`, 'm'));
    expect(run.stdout).toMatch(/preflight for target "card" passed/);
    const pdf = await project.run(['preflight', 'out/hero/cardpdf.pdf', '--target', 'cardpdf']);
    expect(pdf.code, pdf.stdout + pdf.stderr).toBe(0);
  });

  it('fails it against a stricter target (exit 1), naming the check and the numbers', async () => {
    const run = await project.run(['preflight', 'out/hero/card.tif', '--target', 'strict']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL resolution\s+\d+(\.\d)? dpi effective \(187x244 px of detail over 60 mm x 80 mm\) is below the 300 dpi minimum/m);
    expect(run.stdout).toMatch(/preflight for target "strict" failed/);
  });

  it('says which targets exist when the target is unknown (exit 2)', async () => {
    const run = await project.run(['preflight', 'out/hero/card.tif', '--target', 'crad']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/did you mean "card"/);
  });
});

describe('a print file that no longer passes preflight', () => {
  it('is removed from out/ with a warning, so the file of the old manifest is not taken for the new one', async () => {
    const target = (dpi: number) => `version: 1
defaults:
  generate: { provider: procedural, size: 64x64 }
  upscale: { engine: lanczos, scale: 2 }
profiles:
  press: ./press.icc
targets:
  label: { paper: custom, width_mm: 20, height_mm: 20, dpi: ${dpi}, color: { profile: press }, format: tiff }
assets:
  tag: { prompt: "a paper tag, front view", targets: [label] }
`;
    const tags = await makeProject({ 'assets.pipeline.yaml': target(72), 'press.icc': await readFile(FOGRA39) }, 'gpt4k-stale-');
    try {
      const first = await tags.run(['build']);
      expect(first.code, first.stderr).toBe(0);
      expect(tags.exists('out/tag/label.tif')).toBe(true);

      // 128 px of detail over 20 mm is ~163 dpi: the 600 dpi render fails preflight.
      await tags.write('assets.pipeline.yaml', target(600));
      const second = await tags.run(['build']);
      expect(second.code).toBe(1);
      expect(tags.exists('out/tag/label.tif')).toBe(false);
      expect(second.stderr + second.stdout).toContain('removed out/tag/label.tif: it was made for the manifest as it was before');
      const step = (await tags.report()).assets[0]?.steps.find((s) => s.kind === 'render');
      expect(step?.status).toBe('failed');
      expect((step?.meta as { warnings?: string[] } | undefined)?.warnings?.[0]).toMatch(/^removed out\/tag\/label\.tif/);

      // Back to the manifest it was made for: restored from the cache, no render.
      await tags.write('assets.pipeline.yaml', target(72));
      const third = await tags.run(['build']);
      expect(third.code).toBe(0);
      expect(tags.exists('out/tag/label.tif')).toBe(true);
      expect((await tags.report()).assets[0]?.steps.find((s) => s.kind === 'render')?.status).toBe('cached');
    } finally {
      await tags.remove();
    }
  });
});

describe('a render that is only skipped', () => {
  it('keeps the file an earlier build delivered (a step before it failed; the render itself never ran)', async () => {
    const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#806040' } }).png().toBuffer();
    const shots = await makeProject(
      {
        'assets.pipeline.yaml': 'version: 1\ntargets:\n  web: { width: 64, height: 48, format: png }\nassets:\n  shot: { source: ./photo.png, targets: [web] }\n',
        'photo.png': photo,
      },
      'gpt4k-skipped-',
    );
    try {
      expect((await shots.run(['build'])).code).toBe(0);
      await shots.write('photo.png', 'not a picture');
      const broken = await shots.run(['build']);
      expect(broken.code).toBe(1);
      expect((await shots.report()).assets[0]?.steps.find((s) => s.kind === 'render')?.status).toBe('skipped');
      expect(shots.exists('out/shot/web.png')).toBe(true);
      expect(broken.stdout + broken.stderr).not.toContain('removed out/shot/web.png');
    } finally {
      await shots.remove();
    }
  });
});
