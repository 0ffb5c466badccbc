/**
 * gpt4k in a project of its own, as the README tells a user to add it: a dev dependency from a
 * packed tarball (then `npx gpt4k init` and `npx gpt4k build`), and from a git URL (npm runs
 * `prepare` in its clone, which compiles dist/). Real npm, real installs from the npm cache.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/paths.js';

const run = promisify(execFile);

/** npm or npx with the test's Node first on PATH and no CI terminal tricks. */
async function npm(tool: 'npm' | 'npx', args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, CI: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
  return run(tool, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
}

const PACKAGE_JSON = JSON.stringify({ name: 'my-catalogue', private: true, version: '1.0.0' });

describe('gpt4k as a dev dependency of another project', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'gpt4k-install-'));
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('from a packed tarball: npx gpt4k init, then npx gpt4k build makes FOGRA39L print files', async () => {
    // npm test has just built dist/; packing without scripts leaves the checkout's dist/ alone.
    const { stdout } = await npm('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], REPO_ROOT);
    const tarball = path.join(tmp, stdout.trim().split('\n').pop()!);
    const project = path.join(tmp, 'tarball-project');
    await run('mkdir', ['-p', project]);
    await writeFile(path.join(project, 'package.json'), PACKAGE_JSON);
    await npm('npm', ['install', '--save-dev', '--prefer-offline', tarball], project);
    const manifest = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    expect(manifest.devDependencies.gpt4k).toMatch(/gpt4k-.*\.tgz$/);

    await npm('npx', ['gpt4k', 'init'], project);
    const build = await npm('npx', ['gpt4k', 'build'], project);
    expect(build.stdout).toMatch(/3 built, 0 cached, 0 failed/);
    expect(build.stdout).toContain('out/report.html');
    const tiffs = (await readdir(path.join(project, 'out'), { recursive: true })).filter((f) => f.endsWith('.tif'));
    expect(tiffs.length).toBeGreaterThan(0);
    for (const tiff of tiffs) {
      const meta = await sharp(path.join(project, 'out', tiff)).metadata();
      expect(meta.space).toBe('cmyk');
      expect(meta.icc?.toString('latin1')).toContain('FOGRA39L Coated');
    }
  }, 300_000);

  it('from a git URL: npm runs prepare in its clone, and the bin answers', async () => {
    const source = path.join(tmp, 'gpt4k-source');
    await run('git', ['clone', '-q', REPO_ROOT, source]);
    const project = path.join(tmp, 'git-project');
    await run('mkdir', ['-p', project]);
    await writeFile(path.join(project, 'package.json'), PACKAGE_JSON);
    await npm('npm', ['install', '--save-dev', '--prefer-offline', `git+file://${source}`], project);
    const version = await npm('npx', ['gpt4k', '--version'], project);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    await npm('npx', ['gpt4k', 'init'], project);
    const validate = await npm('npx', ['gpt4k', 'validate'], project);
    expect(validate.stdout + validate.stderr).not.toMatch(/E_[A-Z]/);
  }, 300_000);
});
