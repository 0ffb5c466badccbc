import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, rm, stat, writeFile, cp, appendFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { hashFile } from '../src/cache/hash.js';
import { FOGRA39, REPO_ROOT } from './support/paths.js';
import { readTiffTags, Tag, numbers, bytes } from './support/tiff.js';
import { builtAssets, makeProject, readReport, removeProject, runCli, startCli, stepStatus, waitFor } from './support/project.js';

/** A small project: tiny images so every build takes a second or two. */
function smallManifest(overrides: { prefix?: string; promptB?: string; dpi?: number } = {}): string {
  return `version: 1
defaults:
  generate: { provider: procedural, size: 96x64 }
  upscale: { engine: lanczos, scale: 2 }
limits: { generate: 2, process: 2 }
styles:
  cat:
    prefix: "${overrides.prefix ?? 'Studio packshot, soft light —'}"
    reference: a
profiles:
  fogra: ${FOGRA39}
targets:
  web: { width: 120, height: 80, format: png }
  print: { paper: A5, dpi: ${overrides.dpi ?? 30}, color: { profile: fogra }, format: tiff, preflight: off }
assets:
  a: { style: cat, prompt: "red mug, centered", targets: [web, print] }
  b: { style: cat, prompt: "${overrides.promptB ?? 'blue mug, centered'}", targets: [web] }
  c: { prompt: "green vase, centered", targets: [web] }
  d: { prompt: "yellow lamp, centered", targets: [web, print] }
`;
}

describe('the demo manifest', () => {
  let dir: string;
  beforeAll(async () => {
    // The demo as shipped (its press profile is the built-in fogra39), with a bleed target added.
    const demo = await readFile(path.join(REPO_ROOT, 'assets.pipeline.yaml'), 'utf8');
    expect(demo).toContain('press: fogra39');
    const manifest = demo
      .replace('targets:\n', 'targets:\n  a3-bleed: { paper: A3, dpi: 300, bleed_mm: 3, color: { profile: press }, format: tiff }\n')
      .replace('targets: [uhd]\n  lifestyle', 'targets: [uhd, a3-bleed]\n  lifestyle');
    expect(manifest).toContain('a3-bleed]');
    dir = await makeProject({ 'assets.pipeline.yaml': manifest });
    await cp(path.join(REPO_ROOT, 'photos'), path.join(dir, 'photos'), { recursive: true });
  });
  afterAll(() => removeProject(dir));

  it('builds every deliverable, then a second build builds nothing', async () => {
    const first = await runCli(['build'], { cwd: dir });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ assets: 6, built: 6, failed: 0 });
    for (const asset of report.assets) expect(asset.outputs.length).toBeGreaterThan(0);

    const again = await runCli(['build', '--json'], { cwd: dir });
    expect(again.code).toBe(0);
    const second = await readReport(dir);
    expect(second.summary).toMatchObject({ assets: 6, built: 0, cached: 6, failed: 0, providerCalls: 0 });
    const events = again.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(events.filter((e) => e.type === 'node-start')).toEqual([]);

    // A no-op after a no-op: the contact sheet would differ only by the build's duration, so it stays.
    const sheet = (await stat(path.join(dir, 'out/report.html'))).mtimeMs;
    expect((await runCli(['build'], { cwd: dir })).code).toBe(0);
    expect((await stat(path.join(dir, 'out/report.html'))).mtimeMs).toBe(sheet);
  });

  it('writes the A3 TIFF as 3508x4961 CMYK, LZW, 300 DPI in inches, ICC embedded, no alpha', async () => {
    const file = path.join(dir, 'out/hero/a3.tif');
    const tags = await readTiffTags(file);
    expect(numbers(tags, Tag.ImageWidth)).toEqual([3508]);
    expect(numbers(tags, Tag.ImageLength)).toEqual([4961]);
    expect(numbers(tags, Tag.Photometric)).toEqual([5]); // separated (CMYK)
    expect(numbers(tags, Tag.SamplesPerPixel)).toEqual([4]);
    expect(tags.has(Tag.ExtraSamples)).toBe(false);
    expect(numbers(tags, Tag.Compression)).toEqual([5]); // LZW
    expect(numbers(tags, Tag.XResolution)).toEqual([300]);
    expect(numbers(tags, Tag.YResolution)).toEqual([300]);
    expect(numbers(tags, Tag.ResolutionUnit)).toEqual([2]); // inch
    const icc = bytes(tags, Tag.ICCProfile);
    expect(icc?.equals(await readFile(FOGRA39))).toBe(true);
  });

  it('adds 3 mm bleed on every side: 3579x5031', async () => {
    const meta = await sharp(path.join(dir, 'out/sku-003/a3-bleed.tif')).metadata();
    expect([meta.width, meta.height, meta.space, meta.channels]).toEqual([3579, 5031, 'cmyk', 4]);
  });

  it('writes the UHD PNG as 3840x2160 sRGB with its profile', async () => {
    const meta = await sharp(path.join(dir, 'out/hero/uhd.png')).metadata();
    expect([meta.width, meta.height, meta.space, meta.hasAlpha, meta.format]).toEqual([3840, 2160, 'srgb', false, 'png']);
    expect(meta.icc).toBeDefined();
  });

  it('writes the report and the contact sheet', async () => {
    const report = await readReport(dir);
    const hero = report.assets.find((a) => a.id === 'hero');
    expect(hero?.outputs.map((o) => o.path).sort()).toEqual(['out/hero/a3.tif', 'out/hero/uhd.png']);
    expect(hero?.outputs.find((o) => o.target === 'a3')).toMatchObject({ width: 3508, height: 4961, format: 'tiff', space: 'cmyk', dpi: 300, icc: 'FOGRA39L Coated' });
    await stat(path.join(dir, 'out/report.html'));
  });
});

describe('incremental builds', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeProject({ 'assets.pipeline.yaml': smallManifest() });
    const first = await runCli(['build'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(() => removeProject(dir));

  it('editing one asset\'s prompt rebuilds only that asset', async () => {
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), smallManifest({ promptB: 'navy blue mug, centered' }));
    const plan = JSON.parse((await runCli(['plan', '--json'], { cwd: dir })).stdout) as { nodes: Array<{ id: string; action: string; reasons: string[] }> };
    expect(plan.nodes.filter((n) => n.action === 'run').map((n) => n.id).sort()).toEqual(['b/generate', 'b/normalize', 'b/render:web', 'b/upscale']);
    expect(plan.nodes.find((n) => n.id === 'b/generate')?.reasons.join(' ')).toMatch(/prompt/);
    const result = await runCli(['build'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(builtAssets(await readReport(dir))).toEqual(['b']);
  });

  it('editing a style prefix rebuilds exactly the assets of that style', async () => {
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), smallManifest({ promptB: 'navy blue mug, centered', prefix: 'Catalogue packshot, hard light —' }));
    const result = await runCli(['build'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(builtAssets(await readReport(dir))).toEqual(['a', 'b']);
  });

  it('changing a print target re-renders without generating again', async () => {
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), smallManifest({ promptB: 'navy blue mug, centered', prefix: 'Catalogue packshot, hard light —', dpi: 40 }));
    const result = await runCli(['build'], { cwd: dir });
    expect(result.code).toBe(0);
    const report = await readReport(dir);
    expect(builtAssets(report)).toEqual(['a', 'd']);
    for (const id of ['a', 'd']) {
      expect(stepStatus(report, id, 'generate')).toBe('cached');
      expect(stepStatus(report, id, 'render', 'print')).toBe('built');
      expect(stepStatus(report, id, 'render', 'web')).toBe('cached');
    }
    const meta = await sharp(path.join(dir, 'out/d/print.tif')).metadata();
    expect([meta.width, meta.height]).toEqual([Math.round((148 / 25.4) * 40), Math.round((210 / 25.4) * 40)]);
  });

  it('restores a deleted or edited deliverable from the store without running a step', async () => {
    const deleted = path.join(dir, 'out/c/web.png');
    const edited = path.join(dir, 'out/a/print.tif');
    const original = await hashFile(edited);
    await rm(deleted);
    await appendFile(edited, 'scribble');
    const result = await runCli(['build', '--json'], { cwd: dir });
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; restored?: boolean; node?: { id: string } });
    expect(events.filter((e) => e.type === 'node-start')).toEqual([]);
    expect(events.filter((e) => e.restored).map((e) => e.node?.id).sort()).toEqual(['a/render:print', 'c/render:web']);
    await stat(deleted);
    expect(await hashFile(edited)).toBe(original);
    expect((await readReport(dir)).summary.built).toBe(0);
  });

  it('plans nothing when nothing changed', async () => {
    const plan = await runCli(['plan'], { cwd: dir });
    expect(plan.stdout).toMatch(/nothing to do/);
  });
});

describe('failures, interruptions and concurrency', () => {
  it('a failing asset does not stop the others; the report names the step and why', async () => {
    const dir = await makeProject({
      'assets.pipeline.yaml': smallManifest().replace('assets:\n', 'assets:\n  broken: { source: ./broken.png, targets: [web] }\n'),
      'broken.png': 'this is not a PNG',
    });
    try {
      const result = await runCli(['build'], { cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/E_BAD_IMAGE/);
      const report = await readReport(dir);
      expect(report.summary).toMatchObject({ assets: 5, built: 4, failed: 1 });
      const broken = report.assets.find((a) => a.id === 'broken');
      expect(broken?.status).toBe('failed');
      expect(broken?.error).toMatchObject({ step: 'source', code: 'E_BAD_IMAGE' });
      expect(stepStatus(report, 'broken', 'upscale')).toBe('skipped');
      expect(broken?.error?.message).toMatch(/broken\.png/);
      expect(stepStatus(report, 'broken', 'render', 'web')).toBe('skipped');

      const failFast = await runCli(['build', '--fail-fast'], { cwd: dir });
      expect(failFast.code).toBe(1);
    } finally {
      await removeProject(dir);
    }
  });

  it('a build killed mid-way leaves nothing corrupt and the next build finishes only the rest', async () => {
    const many = Array.from({ length: 8 }, (_, i) => `  x${i}: { prompt: "object number ${i}, centered", targets: [web] }`).join('\n');
    const dir = await makeProject({ 'assets.pipeline.yaml': smallManifest().replace('limits: { generate: 2, process: 2 }', 'limits: { generate: 1, process: 1 }') + many + '\n' });
    try {
      const env = { GPT4K_PROCEDURAL_LATENCY_MS: '400' };
      const run = startCli(['build', '--verbose'], { cwd: dir, env });
      await waitFor(() => (run.output().match(/built {2}\S+ generate/g) ?? []).length >= 3, 60_000, 'three generated images');
      run.child.kill('SIGKILL');
      await run.done;
      const generatedBefore = (run.output().match(/built {2}(\S+) generate/g) ?? []).map((l) => l.split(/\s+/)[1]);

      // Every stored object still hashes to its name.
      const objects = path.join(dir, '.gpt4k/objects');
      for (const shard of await readdir(objects)) {
        for (const name of await readdir(path.join(objects, shard))) {
          if (name.endsWith('.tmp')) continue;
          expect(await hashFile(path.join(objects, shard, name))).toBe(name);
        }
      }

      const resumed = await runCli(['build'], { cwd: dir, env });
      expect(resumed.code, resumed.stderr).toBe(0);
      const report = await readReport(dir);
      expect(report.summary.failed).toBe(0);
      for (const id of generatedBefore) expect(stepStatus(report, id as string, 'generate')).toBe('cached');
      expect(report.assets.every((a) => a.outputs.length > 0)).toBe(true);
    } finally {
      await removeProject(dir);
    }
  });

  it('Ctrl-C stops cleanly with exit 130 and the next build resumes', async () => {
    const many = Array.from({ length: 6 }, (_, i) => `  y${i}: { prompt: "thing ${i}, centered", targets: [web] }`).join('\n');
    const dir = await makeProject({ 'assets.pipeline.yaml': smallManifest().replace('limits: { generate: 2, process: 2 }', 'limits: { generate: 1, process: 1 }') + many + '\n' });
    try {
      const env = { GPT4K_PROCEDURAL_LATENCY_MS: '500' };
      const run = startCli(['build'], { cwd: dir, env });
      await waitFor(() => /built {2}\S+ generate/.test(run.output()), 60_000, 'a first image');
      run.child.kill('SIGINT');
      const interrupted = await run.done;
      expect(interrupted.code).toBe(130);
      const partial = await readReport(dir);
      expect(partial.summary.skipped).toBeGreaterThan(0);
      const resumed = await runCli(['build'], { cwd: dir, env });
      expect(resumed.code).toBe(0);
      expect((await readReport(dir)).summary.failed).toBe(0);
    } finally {
      await removeProject(dir);
    }
  });

  it('two builds started at once both end well', async () => {
    const dir = await makeProject({ 'assets.pipeline.yaml': smallManifest() });
    try {
      // Slow enough that the second build surely arrives while the first holds the lock.
      const env = { GPT4K_PROCEDURAL_LATENCY_MS: '1500' };
      const first = startCli(['build'], { cwd: dir, env });
      await waitFor(() => first.output().includes('gpt4k:'), 30_000, 'the first build to start');
      const [one, two] = await Promise.all([first.done, runCli(['build'], { cwd: dir, env })]);
      expect([one.code, two.code]).toEqual([0, 0]);
      expect(one.stderr + two.stderr).toMatch(/waiting for another gpt4k build/);
      const report = await readReport(dir);
      expect(report.summary.failed).toBe(0);
      expect(report.summary.assets).toBe(4);
      const sizes = await Promise.all(['a/web.png', 'b/web.png', 'c/web.png', 'd/web.png', 'a/print.tif', 'd/print.tif'].map((f) => sharp(path.join(dir, 'out', f)).metadata()));
      expect(sizes.every((m) => (m.width ?? 0) > 0)).toBe(true);
    } finally {
      await removeProject(dir);
    }
  });
});

describe('CLI basics', () => {
  it('graph prints dot, mermaid and json', async () => {
    const dir = await makeProject({ 'assets.pipeline.yaml': smallManifest() });
    try {
      const dot = await runCli(['graph'], { cwd: dir });
      expect(dot.stdout).toMatch(/^digraph gpt4k/);
      expect(dot.stdout).toContain('"a/generate" -> "b/generate"');
      const mermaid = await runCli(['graph', '--format', 'mermaid'], { cwd: dir });
      expect(mermaid.stdout).toMatch(/^flowchart LR/);
      const json = JSON.parse((await runCli(['graph', '--format', 'json'], { cwd: dir })).stdout) as { nodes: Array<{ id: string; inputs: string[] }> };
      expect(json.nodes.find((n) => n.id === 'b/generate')?.inputs).toEqual(['b/prompt', 'a/generate']);
      const bad = await runCli(['graph', '--format', 'svg'], { cwd: dir });
      expect(bad.code).toBe(2);
    } finally {
      await removeProject(dir);
    }
  });

  it('validate exits 2 with file:line:col on a bad manifest, 0 on a good one', async () => {
    const dir = await makeProject({ 'assets.pipeline.yaml': smallManifest().replace('targets: [web, print] }\n  b', 'targets: [web, prnt] }\n  b') });
    try {
      const bad = await runCli(['validate'], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/assets\.pipeline\.yaml:\d+:\d+: error E_UNKNOWN_TARGET/);
      expect(bad.stderr).toMatch(/did you mean "print"/);
      await writeFile(path.join(dir, 'assets.pipeline.yaml'), smallManifest());
      const good = await runCli(['validate'], { cwd: dir });
      expect(good.code).toBe(0);
    } finally {
      await removeProject(dir);
    }
  });

  it('build ASSET builds only that asset and what it depends on; an unknown asset is exit 2', async () => {
    const dir = await makeProject({ 'assets.pipeline.yaml': smallManifest() });
    try {
      const result = await runCli(['build', 'b'], { cwd: dir });
      expect(result.code).toBe(0);
      const report = await readReport(dir);
      expect(report.assets.map((a) => a.id).sort()).toEqual(['a', 'b']);
      const unknown = await runCli(['build', 'bb'], { cwd: dir });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/E_UNKNOWN_ASSET/);
      const clean = await runCli(['clean'], { cwd: dir });
      expect(clean.code).toBe(0);
      await expect(stat(path.join(dir, 'out'))).rejects.toThrow();
      await stat(path.join(dir, '.gpt4k'));
    } finally {
      await removeProject(dir);
    }
  });
});
