import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FOGRA39, SWOP } from './support/paths.js';
import { makeProject, readReport, removeProject, runCli } from './support/project.js';

/** Two assets, one with a print target whose press profile is a file in the project. */
function manifest(prompt = 'red mug, centered'): string {
  return `version: 1
defaults:
  generate: { provider: procedural, size: 64x64 }
  upscale: { engine: lanczos, scale: 1 }
profiles:
  press: press.icc
targets:
  web: { width: 48, height: 48, format: png }
  print: { paper: A5, dpi: 20, color: { profile: press }, format: tiff, preflight: off }
assets:
  a: { prompt: "${prompt}", targets: [web, print] }
  b: { prompt: "blue vase, centered", targets: [web] }
`;
}

/** Every file under `dir` with its mtime (what a build that writes nothing leaves as it was). */
async function mtimes(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    found.set(path.relative(dir, file), (await stat(file)).mtimeMs);
  }
  return found;
}

describe('a no-op build after a no-op build (the stamp in .gpt4k/noop.json)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeProject({ 'assets.pipeline.yaml': manifest() });
    await copyFile(FOGRA39, path.join(dir, 'press.icc'));
    for (let i = 0; i < 2; i++) {
      const run = await runCli(['build'], { cwd: dir });
      expect(run.code, run.stderr).toBe(0);
    }
  });
  afterEach(() => removeProject(dir));

  it('writes nothing at all, and says what the ordinary no-op says', async () => {
    const before = await mtimes(dir);
    const quiet = await runCli(['build', '-q'], { cwd: dir });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/^done: 0 built, 2 cached, 0 failed; 0 provider call\(s\), \$0\.00, \d+ms; deliverables out\/, contact sheet out\/report\.html, report out\/pipeline_report\.json\n$/);
    const plain = await runCli(['build'], { cwd: dir });
    expect(plain.stdout.split('\n')[0]).toBe('gpt4k: nothing to run (2 asset(s), every step cached)');
    expect(await mtimes(dir)).toEqual(before);
    expect((await readReport(dir)).summary).toMatchObject({ built: 0, cached: 2, failed: 0 });
  });

  it('rebuilds what a changed input file feeds (a press profile in the project)', async () => {
    await copyFile(SWOP, path.join(dir, 'press.icc'));
    const run = await runCli(['build', '-q'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const report = await readReport(dir);
    expect(report.summary).toMatchObject({ built: 1, cached: 1 });
    expect(report.assets.find((a) => a.id === 'a')?.steps.find((s) => s.target === 'print')?.status).toBe('built');
  });

  it('restores a deleted deliverable, and rebuilds an edited asset', async () => {
    await rm(path.join(dir, 'out/b/web.png'));
    expect((await runCli(['build', '-q'], { cwd: dir })).code).toBe(0);
    await stat(path.join(dir, 'out/b/web.png'));

    await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest('green mug, centered'));
    const run = await runCli(['build', '-q'], { cwd: dir });
    expect(run.stdout).toMatch(/^done: 1 built, 1 cached/);
    expect((await readReport(dir)).assets.find((a) => a.id === 'a')?.status).toBe('built');
  });

  it('answers other commands and flags the ordinary way (--json lists every step)', async () => {
    const json = await runCli(['build', '--json'], { cwd: dir });
    expect(json.code).toBe(0);
    const events = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string });
    expect(events.filter((e) => e.type === 'node-done').length).toBeGreaterThan(0);
    // That build had nothing to do either: the next plain one writes nothing.
    const before = await mtimes(dir);
    expect((await runCli(['build', '-q'], { cwd: dir })).code).toBe(0);
    expect(await mtimes(dir)).toEqual(before);
  });

  it("takes the ordinary path when gpt4k's own environment changes (a Real-ESRGAN binary elsewhere changes upscale keys)", async () => {
    const stamp = path.join(dir, '.gpt4k', 'noop.json');
    const stamped = (await stat(stamp)).mtimeMs;
    const run = await runCli(['build', '-q'], { cwd: dir, env: { GPT4K_REALESRGAN_MODELS: path.join(dir, 'models-elsewhere') } });
    expect(run.code, run.stderr).toBe(0);
    // The ordinary path planned again, found nothing to do and stamped anew.
    expect((await stat(stamp)).mtimeMs).toBeGreaterThan(stamped);
    expect(await readFile(stamp, 'utf8')).not.toContain('models-elsewhere');
  });
});
