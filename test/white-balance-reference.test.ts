/**
 * A style's white-balance reference is read once: its statistics are a small stored node of
 * its own (hero/balance), so editing another asset of the style rebuilds that asset only. The
 * reference's upscale is not stored (Lanczos), which is what used to make every such edit
 * recompute it (and report hero built).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtAssets, makeProject, readReport, removeProject, runCli, stepStatus } from './support/project.js';

function manifest(skuOnePrompt: string): string {
  return `version: 1
defaults:
  generate: { provider: procedural, size: 96x64 }
  upscale: { engine: lanczos, scale: 2 }
styles:
  catalog: { prefix: "Packshot —", reference: hero, whiteBalance: hero }
targets:
  web: { width: 120, height: 80, format: png }
assets:
  hero: { style: catalog, prompt: "teal coffee bag, centered", targets: [web] }
  sku-001: { style: catalog, prompt: "${skuOnePrompt}", targets: [web] }
  sku-002: { style: catalog, prompt: "copper French press, centered", targets: [web] }
`;
}

interface PlanJson {
  nodes: Array<{ id: string; asset: string; kind: string; action: 'run' | 'cached'; reasons: string[] }>;
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => removeProject(dir)));
});

async function project(skuOnePrompt: string): Promise<string> {
  const dir = await makeProject({ 'assets.pipeline.yaml': manifest(skuOnePrompt) }, 'gpt4k-wb-');
  dirs.push(dir);
  return dir;
}

describe('white-balance reference', () => {
  it('editing a non-reference asset rebuilds exactly that asset: the reference stays cached in the plan and the report', async () => {
    const dir = await project('black glass bottle, centered');
    const first = await runCli(['build'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(builtAssets(await readReport(dir))).toEqual(['hero', 'sku-001', 'sku-002']);

    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest('black glass bottle with a cork, centered'));
    const planRun = await runCli(['plan', '--json'], { cwd: dir });
    expect(planRun.code, planRun.stderr).toBe(0);
    const plan = JSON.parse(planRun.stdout) as PlanJson;
    const running = plan.nodes.filter((n) => n.action === 'run');
    expect([...new Set(running.map((n) => n.asset))]).toEqual(['sku-001']);
    const hero = plan.nodes.filter((n) => n.asset === 'hero');
    expect(hero.map((n) => n.kind).sort()).toEqual(['balance', 'generate', 'normalize', 'render', 'upscale']);
    for (const node of hero) expect(node, node.id).toMatchObject({ action: 'cached', reasons: [] });
    const planText = await runCli(['plan'], { cwd: dir });
    expect(planText.stdout).not.toContain('recomputed for sku-001');
    expect(planText.stdout).toContain('up to date: hero, sku-002');

    const second = await runCli(['build'], { cwd: dir });
    expect(second.code, second.stderr).toBe(0);
    const report = await readReport(dir);
    expect(builtAssets(report)).toEqual(['sku-001']);
    expect(report.summary).toMatchObject({ assets: 3, built: 1, cached: 2, failed: 0 });
    expect(report.assets.find((a) => a.id === 'hero')?.status).toBe('cached');
    for (const kind of ['generate', 'upscale', 'balance', 'normalize']) expect(stepStatus(report, 'hero', kind), `hero ${kind}`).toBe('cached');
    for (const kind of ['generate', 'upscale', 'normalize']) expect(stepStatus(report, 'sku-001', kind), `sku-001 ${kind}`).toBe('built');
    expect(stepStatus(report, 'sku-001', 'render', 'web')).toBe('built');

    // What the cached statistics gave is what a fresh build of the edited manifest makes.
    const fresh = await project('black glass bottle with a cork, centered');
    const clean = await runCli(['build'], { cwd: fresh });
    expect(clean.code, clean.stderr).toBe(0);
    const [incremental, fromScratch] = await Promise.all([readFile(path.join(dir, 'out/sku-001/web.png')), readFile(path.join(fresh, 'out/sku-001/web.png'))]);
    expect(incremental.equals(fromScratch)).toBe(true);
  });

  it('editing the reference rebuilds its statistics and every asset normalized to it, and says why', async () => {
    const dir = await project('black glass bottle, centered');
    expect((await runCli(['build'], { cwd: dir })).code).toBe(0);
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest('black glass bottle, centered').replace('teal coffee bag', 'green coffee bag'));
    const plan = JSON.parse((await runCli(['plan', '--json'], { cwd: dir })).stdout) as PlanJson;
    const node = (id: string) => plan.nodes.find((n) => n.id === id);
    expect(node('hero/balance')?.action).toBe('run');
    expect(node('sku-002/normalize')?.reasons).toEqual(['white-balance reference "hero" changed: hero generate runs', 'upstream changed: generate runs']);
    expect((await runCli(['build'], { cwd: dir })).code).toBe(0);
    expect(builtAssets(await readReport(dir))).toEqual(['hero', 'sku-001', 'sku-002']);
  });
});
