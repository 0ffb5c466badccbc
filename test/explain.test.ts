/**
 * `gpt4k plan` says why each step runs: one real temp project is built once, then each test
 * makes one kind of change, asks the CLI (`plan --json` and the text form), and undoes it.
 * The CLI runs in-process (`main()` with captured streams) to keep the suite fast on a busy
 * machine; the first and last tests run the real bin/gpt4k.js.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { diffWords, explainChange } from '../src/graph/explain.js';
import { FOGRA39, SWOP } from './support/paths.js';
import { makeProject, readReport, removeProject, runCli } from './support/project.js';

const MANIFEST = `version: 1
output: out
defaults:
  generate: { provider: procedural, model: gpt-image-2, size: 64x64, quality: low }
  upscale: { engine: lanczos, scale: 2 }
profiles:
  press: ./profiles/press.icc
styles:
  cat: { prefix: "Studio shot:", reference: hero }
targets:
  a5: { paper: A5, dpi: 20, color: { profile: press, intent: perceptual }, format: tiff, preflight: off }
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "Packshot of a coffee bag in dark teal kraft paper, three-quarter view"
    targets: [a5, web]
  sku:
    style: cat
    prompt: "A bottle, front view"
    targets: [web]
  photo:
    source: ./photos/x.jpg
    targets: [web]
`;

interface PlanNode {
  id: string;
  passThrough?: boolean;
  asset: string;
  kind: string;
  action: 'run' | 'cached';
  reasons: string[];
  estimatedCostUsd: number;
}
interface PlanJson {
  nodes: PlanNode[];
  summary: { nodes: number; run: number; cached: number; generate: number; estimatedCostUsd: number };
}

let base: string;

const photo = (r: number) => sharp({ create: { width: 48, height: 32, channels: 3, background: { r, g: 90, b: 40 } } }).jpeg().toBuffer();

beforeAll(async () => {
  base = await makeProject({
    'assets.pipeline.yaml': MANIFEST,
    'photos/x.jpg': await photo(200),
    'profiles/press.icc': await readFile(FOGRA39),
  }, 'gpt4k-explain-');
  const run = await runCli(['build'], { cwd: base });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
});

afterAll(async () => {
  if (base) await removeProject(base);
});

/** Edits a file of the project for one test; `undo` puts it back. */
const undo: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

async function replaceFile(rel: string, content: string | Buffer): Promise<void> {
  const file = path.join(base, rel);
  const before = await readFile(file);
  undo.push(() => writeFile(file, before));
  await writeFile(file, content);
}

async function editManifest(from: string | RegExp, to: string): Promise<void> {
  const text = await readFile(path.join(base, 'assets.pipeline.yaml'), 'utf8');
  const edited = text.replace(from, to);
  expect(edited).not.toBe(text);
  await replaceFile('assets.pipeline.yaml', edited);
}

/** The CLI in-process: same argv, same code path as bin/gpt4k.js, streams captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk: Buffer, _enc, cb) => (append(chunk.toString()), cb()) });
  const out = sink((s) => (stdout += s));
  const err = sink((s) => (stderr += s));
  const code = await main(args, { out, err, cwd: base, env: { CI: '1' }, isTTY: false });
  return { code, stdout, stderr };
}

async function plan(args: string[] = [], options: { spawn?: boolean } = {}): Promise<{ json: PlanJson; text: string }> {
  const run = options.spawn ? (a: string[]) => runCli(a, { cwd: base }) : cli;
  const json = await run(['plan', '--json', ...args]);
  const text = await run(['plan', ...args]);
  expect(json.stderr).toBe('');
  expect(json.code).toBe(0);
  expect(text.code).toBe(0);
  return { json: JSON.parse(json.stdout) as PlanJson, text: text.stdout };
}

const node = (p: PlanJson, id: string): PlanNode => {
  const found = p.nodes.find((n) => n.id === id);
  if (!found) throw new Error(`no node ${id} in the plan`);
  return found;
};
/** The steps that do work (a pass-through normalize runs in name only). */
const running = (p: PlanJson) => p.nodes.filter((n) => n.action === 'run' && !n.passThrough).map((n) => n.id).sort();

describe('diffWords', () => {
  it('shows a replaced word with the words after it', () => {
    expect(diffWords('Packshot of a coffee bag in dark teal kraft paper', 'Packshot of a coffee bag in dark green kraft paper')).toBe(
      '"...teal kraft paper" → "...green kraft paper"',
    );
  });
  it('keeps a word before an insertion or deletion so the sides differ visibly', () => {
    expect(diffWords('A large matte black glass perfume bottle, front view', 'A large matte black perfume bottle, front view')).toBe(
      '"...black glass perfume bottle,..." → "...black perfume bottle,..."',
    );
  });
  it('shows short texts whole', () => {
    expect(diffWords('A bottle', 'A green bottle')).toBe('"A bottle" → "A green bottle"');
  });
});

describe('explainChange', () => {
  it('names each changed field with its old and new value', () => {
    const before = { kind: 'generate', provider: 'openai', model: 'gpt-image-2', size: '1024x1024', quality: 'low', seed: null, prompt: 'x', reference: null, tool: { provider: 'openai' } };
    const after = { ...before, size: '1536x1024', quality: 'high', seed: 42 };
    expect(explainChange(before, after)).toEqual(['size: 1024x1024 → 1536x1024', 'quality: low → high', 'seed: (none) → 42']);
  });
  it('says a provider changed without the noise of its tool fingerprint', () => {
    const before = { kind: 'generate', provider: 'procedural', model: 'gpt-image-2', prompt: 'x', tool: { procedural: '1' } };
    const after = { ...before, provider: 'openai', tool: { provider: 'openai', api: 'images' } };
    expect(explainChange(before, after)).toEqual(['provider: procedural → openai']);
  });
  it('says an upscale was turned on or off', () => {
    const off = { kind: 'upscale', engine: 'none', input: 'a' };
    const on = { kind: 'upscale', version: 1, engine: 'realesrgan', scale: 4, model: 'x4', input: 'a', tool: { binary: 'b' } };
    expect(explainChange(off, on)).toEqual(['upscale turned on: realesrgan ×4']);
    expect(explainChange(on, off)).toEqual(['upscale turned off (was realesrgan ×4)']);
  });
  it('names the upstream cause the context gives', () => {
    const before = { kind: 'normalize', version: 1, whiteBalance: { asset: 'hero', image: 'h1' }, input: 'a' };
    const after = { ...before, whiteBalance: { asset: 'hero', image: 'h2' } };
    expect(explainChange(before, after, { upstream: (role) => (role === 'whiteBalance' ? 'hero generate runs' : undefined) })).toEqual([
      'white-balance reference "hero" changed: hero generate runs',
    ]);
  });
  it('is empty when nothing changed', () => {
    expect(explainChange({ kind: 'source', file: 'a.jpg', hash: 'h' }, { kind: 'source', file: 'a.jpg', hash: 'h' })).toEqual([]);
  });
});

describe('gpt4k plan explains each change', () => {
  it('has nothing to do when nothing changed', async () => {
    const { json, text } = await plan([], { spawn: true });
    expect(json.summary.run).toBe(0);
    expect(json.nodes.every((n) => n.action === 'cached' && n.reasons.length === 0)).toBe(true);
    expect(text).toContain('nothing to do');
    expect(text).toContain('up to date: hero, sku, photo');
  });

  it('prompt text: a word-level diff, and "generate runs" downstream and for the styled assets', async () => {
    await editManifest('dark teal kraft', 'dark green kraft');
    const { json, text } = await plan();
    expect(node(json, 'hero/generate')).toMatchObject({ action: 'run', reasons: ['prompt: "...teal kraft paper,..." → "...green kraft paper,..."'] });
    expect(node(json, 'hero/upscale').reasons).toEqual(['upstream changed: generate runs']);
    expect(node(json, 'hero/render:web').reasons).toEqual(['upstream changed: generate runs']);
    expect(node(json, 'sku/generate').reasons).toEqual(['style reference "hero" changed: hero generate runs']);
    expect(node(json, 'photo/render:web').action).toBe('cached');
    // The pass-through normalize does no work: flagged so, and left out of the text form.
    expect(node(json, 'hero/normalize')).toMatchObject({ action: 'run', passThrough: true, reasons: ['upstream changed: generate runs'] });
    expect(json.summary).toMatchObject({ run: 9, generate: 2 });
    expect(text).not.toContain('normalize');
    expect(text).toMatch(/^hero\n {2}run +generate +prompt: "\.\.\.teal kraft paper,\.\.\." → "\.\.\.green kraft paper,\.\.\."$/m);
    expect(text).toContain('up to date: photo (all steps cached)');
    expect(text).toMatch(/7 of \d+ steps to run \(2 of 3 assets\), 2 images to generate/);
  });

  it('quality: low → high, for the asset that changed it only', async () => {
    await editManifest('    targets: [a5, web]', '    generate: { quality: high }\n    targets: [a5, web]');
    const { json } = await plan();
    expect(node(json, 'hero/generate').reasons).toEqual(['quality: low → high']);
    expect(node(json, 'sku/generate').reasons).toEqual(['style reference "hero" changed: hero generate runs']);
  });

  it('size and seed', async () => {
    await editManifest('size: 64x64, quality: low }', 'size: 96x64, quality: low, seed: 7 }');
    const { json } = await plan();
    expect(node(json, 'hero/generate').reasons).toEqual(['size: 64x64 → 96x64', 'seed: (none) → 7']);
    expect(node(json, 'sku/generate').reasons).toEqual(['size: 64x64 → 96x64', 'seed: (none) → 7', 'style reference "hero" changed: hero generate runs']);
  });

  it('target dpi, with the pixel size it implies; the lanczos upscale is recomputed for it', async () => {
    await editManifest('dpi: 20', 'dpi: 25');
    const { json, text } = await plan();
    expect(running(json)).toEqual(['hero/render:a5', 'hero/upscale']);
    expect(node(json, 'hero/render:a5').reasons).toEqual([expect.stringMatching(/^dpi: 20 → 25 \(\d+x\d+ → \d+x\d+ px\)$/)]);
    expect(node(json, 'hero/upscale').reasons).toEqual(['not stored: recomputed for render:a5']);
    expect(text).toContain('not stored: recomputed for render:a5');
  });

  it('screen target size', async () => {
    await editManifest('width: 128, height: 96', 'width: 160, height: 96');
    const { json } = await plan();
    expect(node(json, 'sku/render:web').reasons).toEqual(['size: 128x96 → 160x96 px']);
  });

  it('ICC profile file bytes: names the file', async () => {
    await replaceFile('profiles/press.icc', await readFile(SWOP));
    const { json, text } = await plan();
    expect(running(json)).toEqual(['hero/render:a5', 'hero/upscale']);
    expect(node(json, 'hero/render:a5').reasons).toEqual(['ICC profile file profiles/press.icc changed']);
    expect(text).toContain('ICC profile file profiles/press.icc changed');
  });

  it('rendering intent', async () => {
    await editManifest('intent: perceptual', 'intent: saturation');
    const { json } = await plan();
    expect(node(json, 'hero/render:a5').reasons).toEqual(['rendering intent: perceptual → saturation']);
  });

  it('upscale scale: the upscale says so, renders name it as their cause', async () => {
    await editManifest('scale: 2', 'scale: 4');
    const { json } = await plan();
    expect(node(json, 'hero/upscale').reasons).toEqual(['scale: 2 → 4']);
    expect(node(json, 'hero/render:a5').reasons).toEqual(['upstream changed: upscale runs']);
    expect(node(json, 'photo/upscale').reasons).toEqual(['scale: 2 → 4']);
    expect(json.summary.generate).toBe(0);
  });

  it('source file: names the file', async () => {
    await replaceFile('photos/x.jpg', await photo(30));
    const { json } = await plan();
    expect(running(json)).toEqual(['photo/render:web', 'photo/upscale']);
    expect(node(json, 'photo/upscale').reasons).toEqual(['upstream changed: source file photos/x.jpg changed']);
    expect(node(json, 'photo/render:web').reasons).toEqual(['upstream changed: source file photos/x.jpg changed']);
    expect(node(json, 'photo/source').reasons).toEqual(['source file photos/x.jpg changed']);
  });

  it('a deleted or edited deliverable is restored from the cache, with no rework', async () => {
    await rm(path.join(base, 'out/hero/web.png'));
    await writeFile(path.join(base, 'out/sku/web.png'), 'scribbled over');
    const { json, text } = await plan();
    expect(json.summary.run).toBe(0);
    expect(node(json, 'hero/render:web')).toMatchObject({ action: 'cached', reasons: ['out/hero/web.png is missing: restored from the cache (no rework)'] });
    expect(node(json, 'sku/render:web').reasons).toEqual(['out/sku/web.png was edited: restored from the cache (no rework)']);
    expect(text).toMatch(/restore +render:web +out\/hero\/web\.png is missing/);
    expect(text).toContain('nothing to do');
    expect(text).toContain('2 deliverables to restore from the cache');
    const build = await cli(['build']);
    expect(build.stdout).toContain('restored hero render:web from the cache');
    expect(build.stdout).not.toMatch(/^built/m);
    expect((await plan()).json.nodes.filter((n) => n.reasons.length > 0)).toEqual([]);
  });

  it('--regenerate: forced', async () => {
    const { json } = await plan(['--regenerate', 'sku']);
    expect(node(json, 'sku/generate').reasons).toEqual(['forced (--regenerate)']);
    expect(node(json, 'sku/render:web').reasons).toEqual(['upstream changed: generate runs']);
    expect(node(json, 'hero/generate').action).toBe('cached');
  });

  it('a new asset: one line, with the estimated cost per generate and in total', async () => {
    const extra = `  poster:\n    prompt: "A poster, front view"\n    generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: medium }\n    targets: [web]\n`;
    await replaceFile('assets.pipeline.yaml', MANIFEST + extra);
    const { json, text } = await plan();
    const generate = node(json, 'poster/generate');
    expect(generate).toMatchObject({ action: 'run', reasons: ['new asset'] });
    expect(generate.estimatedCostUsd).toBeGreaterThan(0);
    expect(json.summary.estimatedCostUsd).toBe(generate.estimatedCostUsd);
    expect(running(json)).toEqual(['poster/generate', 'poster/render:web', 'poster/upscale']);
    const usd = `$${generate.estimatedCostUsd.toFixed(2)}`;
    expect(text).toContain(`poster  ~${usd}\n  new asset: generate ~${usd}, upscale, render:web`);
    expect(text).toContain(`1 image to generate, estimated ${usd}`);
  });

  it('build --explain prints the reasons, and the report keeps them', async () => {
    await editManifest('dark teal kraft', 'dark green kraft');
    const run = await runCli(['build', '--explain'], { cwd: base });
    expect(run.code).toBe(0);
    const explained = run.stdout.indexOf('prompt: "...teal kraft paper,..." → "...green kraft paper,..."');
    expect(explained).toBeGreaterThanOrEqual(0);
    expect(explained).toBeLessThan(run.stdout.indexOf('built'));
    const report = await readReport(base);
    const steps = report.assets.find((a) => a.id === 'hero')?.steps ?? [];
    expect(steps.find((s) => s.kind === 'render' && s.target === 'web')?.reasons).toEqual(['upstream changed: generate runs']);
    expect(steps.find((s) => s.kind === 'generate')?.reasons).toEqual(['prompt: "...teal kraft paper,..." → "...green kraft paper,..."']);
    // And the next plan has nothing left to do.
    expect((await plan([], { spawn: true })).json.summary.run).toBe(0);
  });
});
