/**
 * The CLI behaves like the tools people already use: manifest discovery and -C, colour rules,
 * completion scripts, clean --cache confirmation, plan --exit-code, graph ASSET with dirty
 * marks, a closed pipe and SIGTERM, standalone preflight of an upscaled deliverable, watch's
 * account of a failed step, and Real-ESRGAN progress in the live view.
 */
import { spawnSync } from 'node:child_process';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { TtyReporter } from '../../src/cli/reporters/tty.js';
import { progressIn } from '../../src/upscalers/realesrgan-run.js';
import { childEnv } from '../support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { CLI } from '../support/paths.js';
import { makeProject, removeProject, runCli, startCli } from '../support/project.js';

const KEY = 'sk-test-CLI-7d1e9a';
const dirs: string[] = [];
let api: FakeOpenAI;

const small = (provider = 'procedural') => `version: 1
output: out
defaults:
  generate: { provider: ${provider}, model: gpt-image-2, size: 1024x1024, quality: low, options: { retryBaseDelayMs: 20, retryMaxDelayMs: 200 } }
  upscale: { engine: none }
targets:
  web: { width: 64, height: 64, format: png }
  card: { paper: custom, width_mm: 60, height_mm: 80, dpi: 300, format: tiff, preflight: warn }
assets:
  hero: { prompt: "A teal coffee bag on white", targets: [web] }
  mug: { prompt: "A white mug on a teal table", targets: [web] }
`;

async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeProject(files, 'gpt4k-cli-rel-');
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api.close();
  await Promise.all(dirs.map(removeProject));
});

describe('manifest discovery', () => {
  it('finds the manifest from a subfolder, says which one, and takes -C DIR', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small(), 'art/raw/.keep': '' });
    const sub = await runCli(['validate'], { cwd: path.join(dir, 'art', 'raw') });
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stderr).toContain(`gpt4k: using ${path.join('..', '..', 'assets.pipeline.yaml')}`);
    const elsewhere = await runCli(['-C', dir, 'plan', '--json'], { cwd: path.dirname(dir) });
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(JSON.parse(elsewhere.stdout).summary.nodes).toBeGreaterThan(0);
    const bad = await runCli(['-C', 'no-such-folder', 'plan'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/E_NO_DIRECTORY: -C no-such-folder: no such folder/);
  });

  it('stops at the git root: a manifest above the repository is not used', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small(), 'repo/.git/HEAD': 'ref: refs/heads/main\n', 'repo/src/.keep': '' });
    const run = await runCli(['plan'], { cwd: path.join(dir, 'repo', 'src') });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`up to ${path.join(dir, 'repo')} (the git root)`);
  });
});

describe('colour', () => {
  it('colours errors with FORCE_COLOR, never with NO_COLOR or in a pipe', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small() });
    const forced = await runCli(['plan', 'nope'], { cwd: dir, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stderr).toContain('\x1b[');
    const off = await runCli(['plan', 'nope'], { cwd: dir, env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(off.stderr).not.toContain('\x1b[');
    const pipe = await runCli(['plan', 'nope'], { cwd: dir, env: { NO_COLOR: undefined } });
    expect(pipe.stderr).not.toContain('\x1b[');
    expect(pipe.stderr).toMatch(/^error E_UNKNOWN_ASSET/);
  });
});

describe('completion', () => {
  it('bash completes commands, options and the asset and target ids of the nearest manifest', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small(), 'bin/gpt4k': `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n` });
    await chmod(path.join(dir, 'bin', 'gpt4k'), 0o755);
    const script = (await runCli(['completion', 'bash'], { cwd: dir })).stdout;
    const complete = (words: string[]) => {
      const line = `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _gpt4k; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const run = spawnSync('bash', ['-c', `${script}\n${line}`], { cwd: dir, env: { ...childEnv({}), PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` }, encoding: 'utf8' });
      return run.stdout.trim().split('\n').filter(Boolean);
    };
    expect(complete(['gpt4k', 'bu'])).toEqual(['build']);
    expect(complete(['gpt4k', 'build', ''])).toEqual(['hero', 'mug']);
    expect(complete(['gpt4k', 'build', '--fr'])).toEqual(['--frozen']);
    expect(complete(['gpt4k', 'preflight', 'x.tif', '--target', ''])).toEqual(['web', 'card']);
    expect(complete(['gpt4k', '-C', '.', 'plan', 'm'])).toEqual(['mug']);
    for (const shell of ['zsh', 'fish']) {
      const run = await runCli(['completion', shell], { cwd: dir });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('__complete assets');
      expect(run.stdout).toContain('__complete targets');
    }
  });
});

describe('plan --exit-code and graph ASSET', () => {
  it('exits 1 while there is work, 0 when up to date; graph marks what would run, for one asset', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small() });
    expect((await runCli(['plan', '--exit-code'], { cwd: dir })).code).toBe(1);
    const graph = JSON.parse((await runCli(['graph', 'hero', '--format', 'json'], { cwd: dir })).stdout) as { nodes: Array<{ id: string; asset: string; dirty: boolean }> };
    expect(new Set(graph.nodes.map((n) => n.asset))).toEqual(new Set(['hero']));
    expect(graph.nodes.find((n) => n.id === 'hero/generate')?.dirty).toBe(true);
    expect((await runCli(['build', 'hero'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['plan', '--exit-code', 'hero'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['plan', '--exit-code'], { cwd: dir })).code).toBe(1);
    const dot = (await runCli(['graph'], { cwd: dir })).stdout;
    expect(dot).toMatch(/"mug\/generate" \[label="mug\\ngenerate \*", style=filled/);
    expect(dot).toMatch(/"hero\/generate" \[label="hero\\ngenerate"\];/);
    expect((await runCli(['build'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['plan', '--exit-code'], { cwd: dir })).code).toBe(0);
  });
});

describe('clean --cache', () => {
  it('refuses without a terminal or --yes, naming the paid images and dollars; --yes removes them', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small('openai') });
    const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url };
    const built = await runCli(['build'], { cwd: dir, env });
    expect(built.code, built.stderr).toBe(0);
    const refused = await runCli(['clean', '--cache'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/E_CONFIRM: clean --cache would discard 2 paid image\(s\) that cost \$\d+\.\d\d in \.gpt4k/);
    expect(refused.stderr).toContain('--yes');
    expect((await readdir(path.join(dir, '.gpt4k'))).length).toBeGreaterThan(0);
    expect((await readdir(path.join(dir, 'out'))).length).toBeGreaterThan(0);
    const yes = await runCli(['clean', '--cache', '--yes'], { cwd: dir });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/removed out, \.gpt4k \(2 paid image\(s\), \$/);
    expect((await readdir(dir)).sort()).toEqual(['assets.lock.json', 'assets.pipeline.yaml']);
  });
});

describe('pipes and signals', () => {
  it('a closed pipe (| head -1) ends quietly: no stack, build cancelled, no temp folder left', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small().replace('  mug:', '  a: { prompt: "A", targets: [web] }\n  b: { prompt: "B", targets: [web] }\n  mug:') });
    const run = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" --json build | head -1`], { cwd: dir, env: childEnv({ CI: '1', GPT4K_PROCEDURAL_LATENCY_MS: '300' }), encoding: 'utf8' });
    expect(run.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(run.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(await readdir(path.join(dir, '.gpt4k', 'tmp')).catch(() => [])).toEqual([]);
  });

  it('SIGTERM exits 143 after the steps in flight, leaving no temp files; the next build finishes the rest', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small() });
    const live = startCli(['build'], { cwd: dir, env: { GPT4K_PROCEDURAL_LATENCY_MS: '1500' } });
    // Once the build has started (its first line): before that, a signal simply ends the process.
    const deadline = Date.now() + 20_000;
    while (!/step\(s\) to run/.test(live.output()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    live.child.kill('SIGTERM');
    const done = await live.done;
    expect(done.code).toBe(143);
    expect(done.stderr).toContain('interrupted');
    expect(await readdir(path.join(dir, '.gpt4k', 'tmp')).catch(() => [])).toEqual([]);
    const again = await runCli(['build'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
  });
});

describe('preflight FILE --target T of a deliverable', () => {
  it('measures the detail the asset had after its upscale, not the pixels the render resampled it to', async () => {
    const dir = await project({ 'assets.pipeline.yaml': `${small()}  photo: { source: ./photo.png, targets: [card] }\n` });
    await writeFile(path.join(dir, 'photo.png'), await sharp({ create: { width: 256, height: 256, channels: 3, background: '#3a7' } }).png().toBuffer());
    const built = await runCli(['build', 'photo'], { cwd: dir });
    expect(built.code, built.stderr).toBe(0);
    const run = await runCli(['preflight', 'out/photo/card.tif', '--target', 'card'], { cwd: dir });
    // 256 px of detail over 80 mm is ~81 dpi, whatever the file's 709x945 pixels say.
    expect(run.stdout).toMatch(/^FAIL resolution\s+8\d(\.\d)? dpi effective \(256x256 px of detail/m);
    expect(run.code).toBe(1);
  });
});

describe('watch', () => {
  it('does not call a failed generation rebuilt in its first cycle', async () => {
    const dir = await project({ 'assets.pipeline.yaml': small('openai').replace(/  mug:.*\n/, '') });
    const live = startCli(['watch'], { cwd: dir, env: { OPENAI_API_KEY: 'sk-wrong-key', OPENAI_BASE_URL: api.url } });
    try {
      const deadline = Date.now() + 20_000;
      while (!/waiting for changes/.test(live.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(live.output()).toMatch(/\[watch\] failed: hero \(generate\)/);
      expect(live.output()).not.toMatch(/rebuilt.*\n.*hero generate/);
    } finally {
      live.child.kill('SIGINT');
      await live.done;
    }
  });
});

describe('Real-ESRGAN progress', () => {
  it('reads the percentages the binary prints and shows them beside the running step', () => {
    expect(progressIn('0.00%\n4.17%\n')).toBeCloseTo(0.0417);
    expect(progressIn('[0 llvmpipe]  queueC=0[1]')).toBeUndefined();
    const out = new Writable({ write: (_c: Buffer, _e, cb) => cb() });
    Object.assign(out, { isTTY: true, columns: 100, rows: 40 });
    const reporter = new TtyReporter({ verbose: false, quiet: false, out, err: out });
    const node = { id: 'hero/upscale', asset: 'hero', kind: 'upscale' as const };
    reporter.onEvent({ type: 'build-start', assets: 1, nodesToRun: 1, estimatedCostUsd: 0, runsByAsset: { hero: 1 } });
    reporter.onEvent({ type: 'node-start', node, reasons: [] });
    reporter.onEvent({ type: 'progress', node, fraction: 0.42 });
    expect(reporter.frame()).toContain('hero upscale');
    expect(reporter.frame()).toContain('(42%)');
    reporter.close();
  });
});

