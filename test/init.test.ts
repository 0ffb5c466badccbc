import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { parse } from 'yaml';
import { initProject } from '../src/cli/init.js';
import { loadManifest } from '../src/index.js';
import { readReport, runCli } from './support/project.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-init-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = (rel: string): Promise<string> => readFile(path.join(dir, rel), 'utf8');

interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}

describe('initProject', () => {
  it('creates the manifest, .gitignore and the workflow', async () => {
    const result = await initProject(dir);
    expect(result).toEqual({
      created: ['assets.pipeline.yaml', '.gitignore', '.github/workflows/assets.yml'],
      skipped: [],
    });
    for (const rel of result.created) expect(existsSync(path.join(dir, rel))).toBe(true);
  });

  it('writes a manifest with the schema comment that follows DESIGN.md and builds offline', async () => {
    await initProject(dir);
    const text = await read('assets.pipeline.yaml');
    expect(text.split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./node_modules/gpt4k/schemas/pipeline.schema.json',
    );
    const manifest = parse(text) as {
      version: number;
      defaults: { generate: { provider: string } };
      profiles: Record<string, string>;
      styles: Record<string, { prefix: string; reference: string }>;
      targets: Record<string, Record<string, unknown>>;
      assets: Record<string, { targets: string[]; style?: string }>;
    };
    expect(manifest.version).toBe(1);
    expect(manifest.defaults.generate.provider).toBe('procedural');
    const styles = Object.values(manifest.styles);
    expect(styles).toHaveLength(1);
    expect(styles[0]!.prefix.length).toBeGreaterThan(10);
    expect(Object.keys(manifest.assets)).toContain(styles[0]!.reference);
    expect(Object.keys(manifest.assets)).toHaveLength(3);
    expect(manifest.targets.a3).toMatchObject({ paper: 'A3', dpi: 300, format: 'tiff', color: { profile: 'press' } });
    expect(manifest.profiles).toEqual({ press: 'fogra39' });
    expect(manifest.targets.uhd).toMatchObject({ width: 3840, height: 2160, format: 'png' });
    for (const asset of Object.values(manifest.assets)) {
      for (const t of asset.targets) expect(Object.keys(manifest.targets)).toContain(t);
      if (asset.style) expect(Object.keys(manifest.styles)).toContain(asset.style);
    }
  });

  it('the project it writes builds offline as it stands: every deliverable, preflight passed, then nothing to do', async () => {
    await initProject(dir);
    const first = await runCli(['build'], { cwd: dir });
    // Not a failure, and not a warning either (prompt lint included): a starter teaches by example.
    expect(first.stderr + first.stdout).not.toMatch(/FAILED|E_[A-Z]|W_[A-Z]|warning/);
    expect(first.code).toBe(0);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ failed: 0, skipped: 0 });
    const outputs = report.assets.flatMap((a) => a.outputs.map((o) => ({ asset: a.id, ...o })));
    expect(outputs.map((o) => o.path).sort()).toEqual(['out/hero/a3.tif', 'out/hero/uhd.png', 'out/mug/a3.tif', 'out/mug/uhd.png', 'out/tote/uhd.png']);
    for (const output of outputs.filter((o) => o.target === 'a3')) {
      expect(output.preflight?.ok).toBe(true);
      // A real press condition, named: what a repro house reads from the embedded profile.
      expect(output.icc).toBe('FOGRA39L Coated');
      const meta = await sharp(path.join(dir, output.path)).metadata();
      // A3 landscape with 3 mm bleed at 300 dpi: 426 x 303 mm.
      expect({ width: meta.width, height: meta.height, space: meta.space, density: meta.density }).toEqual({ width: 5031, height: 3579, space: 'cmyk', density: 300 });
    }
    const again = await runCli(['build', '--frozen'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('gpt4k: nothing to run (3 asset(s), every step cached)');
    expect(again.stdout).toMatch(/0 built, 3 cached, 0 failed/);

    // An edited prompt: plan and build name the same steps of the one asset it changes.
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), (await read('assets.pipeline.yaml')).replace('steam rising,', 'steam rising, morning light,'));
    const plan = await runCli(['plan'], { cwd: dir });
    const planned = /(\d+) of \d+ steps to run \(1 of 3 assets\)/.exec(plan.stdout);
    expect(planned, plan.stdout).not.toBeNull();
    const edited = await runCli(['build'], { cwd: dir });
    expect(edited.code).toBe(0);
    expect(edited.stdout).toContain(`gpt4k: ${planned![1]} step(s) to run (1 of 3 asset(s))`);
    expect(edited.stdout.match(/^built {2}\S+/gm)?.map((line) => line.split(/\s+/)[1])).toEqual(Array(Number(planned![1])).fill('mug'));
    expect(edited.stdout).toMatch(/1 built, 2 cached, 0 failed/);
  }, 120_000);

  it('writes a manifest the loader accepts as it stands', async () => {
    await initProject(dir);
    const loaded = await loadManifest(path.join(dir, 'assets.pipeline.yaml'));
    if (!loaded.ok) expect.fail(loaded.error.map((d) => `${d.code}: ${d.message}`).join('\n'));
    expect(loaded.value.assets.map((a) => a.id)).toEqual(['hero', 'mug', 'tote']);
    expect(loaded.value.targets.get('a3')?.color.profile).toBe('press');
    expect(loaded.value.profiles.get('press')).toEqual({ kind: 'builtin', name: 'fogra39' });
    expect(loaded.value.outputDir).toBe(path.join(dir, 'out'));
  });

  it('shows the current choice for print: Sunburst finals as written, a Flare draft mode, with what each costs', async () => {
    await initProject(dir);
    const text = await read('assets.pipeline.yaml');
    const final = await loadManifest(path.join(dir, 'assets.pipeline.yaml'));
    const draft = await loadManifest(path.join(dir, 'assets.pipeline.yaml'), { mode: 'draft' });
    if (!final.ok || !draft.ok) expect.fail('the init manifest does not load in both modes');
    expect(final.value.modes).toEqual(['draft']);
    expect(final.value.assets.map((a) => a.generate.model)).toEqual(Array(3).fill('gpt-image-2.5-sunburst'));
    expect(draft.value.assets.map((a) => a.generate.model)).toEqual(Array(3).fill('gpt-image-2.5-flare'));
    expect(draft.value.outputDir).toBe(path.join(dir, 'out', '_draft'));
    // The costs the comment names are the estimator's own figures for the generate size.
    expect(text).toContain('$0.165 on Sunburst at high');
    expect(text).toContain('$0.041 on Flare at medium');
    // Switched to openai, plan prices both modes without sending anything.
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), text.replace('provider: procedural', 'provider: openai'));
    const plan = await runCli(['plan'], { cwd: dir, env: { OPENAI_API_KEY: 'sk-test-init' } });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/default \(this plan\) 3 images ~\$0\.49/);
    expect(plan.stdout).toMatch(/draft 3 images ~\$0\.12/);
  });

  it('writes a workflow that is valid YAML, caches .gpt4k and builds --frozen', async () => {
    await initProject(dir);
    const workflow = parse(await read('.github/workflows/assets.yml')) as {
      on: Record<string, unknown>;
      jobs: Record<string, { 'runs-on': string; steps: WorkflowStep[] }>;
    };
    expect(workflow.on).toHaveProperty('push');
    const steps = Object.values(workflow.jobs)[0]!.steps;
    const index = (pred: (s: WorkflowStep) => boolean): number => steps.findIndex(pred);

    const checkout = index((s) => s.uses?.startsWith('actions/checkout@') === true);
    const setupNode = index((s) => s.uses?.startsWith('actions/setup-node@') === true);
    const npmCi = index((s) => s.run === 'npm ci');
    const restore = index((s) => s.uses?.startsWith('actions/cache') === true);
    const build = index((s) => s.run?.includes('gpt4k build') === true);
    const save = index((s) => s.uses?.startsWith('actions/cache/save@') === true);
    const upload = index((s) => s.uses?.startsWith('actions/upload-artifact@') === true);
    expect([checkout, setupNode, npmCi, restore, build, save, upload].every((i) => i >= 0)).toBe(true);
    expect(checkout).toBeLessThan(setupNode);
    expect(npmCi).toBeLessThan(build);
    expect(restore).toBeLessThan(build);
    expect(save).toBeGreaterThan(build);
    expect(upload).toBeGreaterThan(build);

    expect(String(steps[setupNode]!.with?.['node-version'])).toBe('20');
    expect(steps[build]!.run).toBe('npx gpt4k build --frozen');

    const cache = steps[restore]!.with!;
    expect(cache.path).toBe('.gpt4k');
    const key = String(cache.key);
    expect(key).toContain('hashFiles(');
    for (const input of ['assets.pipeline.yaml', 'profiles/', 'assets.lock.json']) expect(key).toContain(input);
    expect(String(cache['restore-keys'])).toMatch(/gpt4k-/);
    // A failed asset must not throw away what the build did generate.
    expect(steps[save]!.if).toMatch(/always\(\)/);

    expect(steps[upload]!.with).toMatchObject({ path: 'out/', 'include-hidden-files': true });
    expect(steps[upload]!.if).toMatch(/always\(\)/);
  });

  it('never overwrites existing files without force, and reports them as skipped', async () => {
    await writeFile(path.join(dir, 'assets.pipeline.yaml'), 'version: 1\n# mine\n');
    const first = await initProject(dir);
    expect(first.skipped).toContain('assets.pipeline.yaml');
    expect(first.created).toContain('.github/workflows/assets.yml');
    expect(await read('assets.pipeline.yaml')).toBe('version: 1\n# mine\n');

    await writeFile(path.join(dir, '.github/workflows/assets.yml'), 'name: edited\n');
    const second = await initProject(dir);
    expect(second).toEqual({
      created: [],
      skipped: ['assets.pipeline.yaml', '.gitignore', '.github/workflows/assets.yml'],
    });
    expect(await read('.github/workflows/assets.yml')).toBe('name: edited\n');

    const forced = await initProject(dir, { force: true });
    expect(forced.created).toEqual(['assets.pipeline.yaml', '.github/workflows/assets.yml']);
    expect(await read('assets.pipeline.yaml')).toMatch(/^# yaml-language-server: \$schema=/);
    expect(await read('.github/workflows/assets.yml')).toContain('--frozen');
  });

  it('appends only the missing .gitignore lines, once', async () => {
    await writeFile(path.join(dir, '.gitignore'), 'node_modules/\n/out'); // no trailing newline; out already ignored
    await initProject(dir);
    await initProject(dir);
    await initProject(dir, { force: true });
    const lines = (await read('.gitignore')).split('\n');
    expect(lines.filter((l) => l === '.gpt4k/')).toHaveLength(1);
    expect(lines.filter((l) => /^\/?out\/?$/.test(l))).toHaveLength(1);
    expect(lines).toContain('node_modules/');
    expect(lines).toContain('/out');
  });

  it('creates .gitignore with both lines when there is none', async () => {
    await initProject(dir);
    await initProject(dir);
    const lines = (await read('.gitignore')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(['.gpt4k/', 'out/']);
  });
});
