import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/index.js';
import type { PipelineReport } from '../src/report/types.js';
import { makeProject, runCli } from './support/project.js';

const MANIFEST = 'assets.pipeline.yaml';
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeProject(files, 'gpt4k-modes-');
  dirs.push(dir);
  return dir;
}

async function cli(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runCli(args, { cwd: dir });
  return { code: code ?? 1, stdout, stderr };
}

const manifest = (provider: string) => `version: 1
defaults:
  generate: { provider: ${provider}, size: ${provider === 'procedural' ? '64x64' : '1024x1024'}, quality: high }
  upscale: { engine: lanczos, scale: 1 }
targets:
  thumb: { width: 96, height: 64, format: png }
  wide: { width: 128, height: 64, format: png }
modes:
  draft: { generate: { quality: low }, targets: [thumb] }
assets:
  hero: { prompt: "Coffee bag, front view, centered", targets: [thumb, wide] }
  sku: { prompt: "Perfume bottle, side view", generate: { quality: medium } }
`;

const report = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as PipelineReport;
const qualities = (r: PipelineReport) =>
  Object.fromEntries(r.assets.map((a) => [a.id, a.steps.filter((s) => s.kind === 'generate').map((s) => [s.status, s.meta?.quality])]));

describe('modes', () => {
  it('loadManifest applies a mode: its settings win, its targets replace, its output is out/_<mode>', async () => {
    const dir = await project({ [MANIFEST]: manifest('procedural') });
    const final = await loadManifest(MANIFEST, { cwd: dir });
    const draft = await loadManifest(MANIFEST, { cwd: dir, mode: 'draft' });
    if (!final.ok || !draft.ok) throw new Error('expected valid manifests');
    expect(final.value).toMatchObject({ outputDir: path.join(dir, 'out'), modes: ['draft'] });
    expect(final.value.mode).toBeUndefined();
    expect(final.value.assets.map((a) => [a.generate.quality, a.targets])).toEqual([
      ['high', ['thumb', 'wide']],
      ['medium', ['thumb', 'wide']],
    ]);
    expect(draft.value).toMatchObject({ outputDir: path.join(dir, 'out', '_draft'), mode: 'draft' });
    expect(draft.value.assets.map((a) => [a.generate.quality, a.targets])).toEqual([
      ['low', ['thumb']],
      ['low', ['thumb']],
    ]);
    const unknown = await loadManifest(MANIFEST, { cwd: dir, mode: 'drfat' });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error[0]).toMatchObject({ code: 'E_UNKNOWN_MODE', hint: 'did you mean "draft"?', at: { line: 8, col: 1 } });
  });

  it('a draft build, then the final build regenerates at the final quality only; the cache keeps both', async () => {
    const dir = await project({ [MANIFEST]: manifest('procedural') });
    const draft = await cli(dir, 'build', '--mode', 'draft');
    expect(draft.code, draft.stderr).toBe(0);
    const draftReport = await report(path.join(dir, 'out/_draft/pipeline_report.json'));
    expect(qualities(draftReport)).toEqual({ hero: [['built', 'low']], sku: [['built', 'low']] });
    expect(draftReport.assets.flatMap((a) => a.outputs.map((o) => o.path)).sort()).toEqual(['out/_draft/hero/thumb.png', 'out/_draft/sku/thumb.png']);
    expect(existsSync(path.join(dir, 'out/hero'))).toBe(false);

    const final = await cli(dir, 'build');
    expect(final.code, final.stderr).toBe(0);
    const finalReport = await report(path.join(dir, 'out/pipeline_report.json'));
    expect(qualities(finalReport)).toEqual({ hero: [['built', 'high']], sku: [['built', 'medium']] });
    expect(finalReport.assets.flatMap((a) => a.outputs.map((o) => o.path)).sort()).toEqual([
      'out/hero/thumb.png',
      'out/hero/wide.png',
      'out/sku/thumb.png',
      'out/sku/wide.png',
    ]);
    // The draft deliverables are still there, and a second draft build needs no generation.
    expect(existsSync(path.join(dir, 'out/_draft/hero/thumb.png'))).toBe(true);
    const again = await cli(dir, 'build', '--mode', 'draft');
    expect(again.code, again.stderr).toBe(0);
    expect(qualities(await report(path.join(dir, 'out/_draft/pipeline_report.json')))).toEqual({ hero: [['cached', 'low']], sku: [['cached', 'low']] });
  });

  it('plan shows the cost of each mode', async () => {
    const dir = await project({ [MANIFEST]: manifest('openai') });
    const json = await cli(dir, 'plan', '--json');
    expect(json.code, json.stderr).toBe(0);
    const plan = JSON.parse(json.stdout) as { summary: { estimatedCostUsd: number }; modes: Array<{ mode: string; current: boolean; images: number; estimatedCostUsd: number; output: string }> };
    expect(plan.modes.map((m) => [m.mode, m.current, m.images, m.output])).toEqual([
      ['default', true, 2, 'out'],
      ['draft', false, 2, 'out/_draft'],
    ]);
    const [final, draft] = plan.modes;
    expect(final!.estimatedCostUsd).toBe(plan.summary.estimatedCostUsd);
    expect(draft!.estimatedCostUsd).toBeGreaterThan(0);
    expect(draft!.estimatedCostUsd).toBeLessThan(final!.estimatedCostUsd);

    const text = await cli(dir, 'plan', '--mode', 'draft');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/modes: default 2 images ~\$[\d.]+ -> out\/; draft \(this plan\) 2 images ~\$[\d.]+ -> out\/_draft\//);
  });
});
