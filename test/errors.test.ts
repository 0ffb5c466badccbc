/**
 * Every user-facing error has a stable code, a message and a hint, and no stack trace unless
 * --verbose: bad flags, an unknown asset, no manifest, an unreadable profile, a corrupt source
 * image, an internal error. Runs the CLI (in-process where the process boundary adds nothing).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, printError } from '../src/cli/main.js';
import { PlainReporter } from '../src/cli/reporters/plain.js';
import { GptError, toGptError } from '../src/util/errors.js';
import { FOGRA39, REPO_ROOT } from './support/paths.js';
import { makeProject, readReport, removeProject, runCli } from './support/project.js';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await main(args, { out: out.stream, err: err.stream, cwd, env: { CI: '1' }, isTTY: false });
  return { code, stdout: out.text(), stderr: err.text() };
}

const STACK_LINE = /^\s+at /m;

const MANIFEST = `version: 1
output: out
defaults:
  generate: { provider: procedural, model: gpt-image-2, size: 64x64, quality: low }
  upscale: { engine: lanczos, scale: 2 }
profiles:
  press: ./profiles/press.icc
targets:
  a5: { paper: A5, dpi: 20, color: { profile: press, intent: perceptual }, format: tiff, preflight: off }
  web: { width: 128, height: 96, format: png }
assets:
  hero: { prompt: "A teal coffee bag, front view", targets: [web] }
  poster: { prompt: "A poster on a wall, front view", targets: [a5] }
  photo: { source: ./photos/x.jpg, targets: [web] }
`;

let dir: string;

beforeAll(async () => {
  const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#806040' } }).jpeg().toBuffer();
  const icc = readFileSync(FOGRA39);
  dir = await makeProject({ 'assets.pipeline.yaml': MANIFEST, 'photos/x.jpg': jpeg, 'profiles/press.icc': icc }, 'gpt4k-errors-');
});

afterAll(async () => {
  if (dir) await removeProject(dir);
});

describe('usage errors: exit 2, one line with a code, and a hint', () => {
  it('an unknown flag (the real bin)', async () => {
    const run = await runCli(['build', '--bogus'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe("error E_USAGE: unknown option '--bogus'\n  hint: see `gpt4k build --help` for the usage\n");
  });

  it('an unknown command says what was meant', async () => {
    const run = await cli(['biuld'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("error E_USAGE: unknown command 'biuld' (did you mean build?)\n  hint: see `gpt4k --help` for the usage\n");
  });

  it('a bad option value', async () => {
    const run = await cli(['build', '--max-cost', 'lots'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error E_USAGE: option '--max-cost <usd>' argument 'lots' is invalid\. expected an amount in USD/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(2);
  });

  it('--help still prints the usage and exits 0', async () => {
    const run = await cli(['build', '--help'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: gpt4k build');
  });

  it('--version prints the package version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await cli([flag], dir);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(version);
    }
  });

  it('an unknown asset on the command line: did you mean, or the list of assets', async () => {
    const typo = await cli(['build', 'heor'], dir);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('error E_UNKNOWN_ASSET: no asset named "heor" in assets.pipeline.yaml\n  hint: did you mean "hero"?');
    const unknown = await cli(['plan', 'zzzzzzzz'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('hint: the assets are: hero, poster, photo');
  });

  it('no manifest: E_NO_MANIFEST names the folder and points at gpt4k init and --manifest', async () => {
    const empty = await makeProject({}, 'gpt4k-empty-');
    try {
      const run = await cli(['build'], empty);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`error E_NO_MANIFEST: no assets.pipeline.yaml in ${empty} or any folder above it up to ${path.parse(empty).root} (the filesystem root)\n  hint: run \`gpt4k init\` to create one, point at yours with --manifest FILE, or run in another folder with -C DIR\n`);
      const named = await cli(['plan', '--manifest', 'nope.yaml'], empty);
      expect(named.code).toBe(2);
      expect(named.stderr).toMatch(/^error E_NO_MANIFEST: manifest nope\.yaml does not exist\n {2}hint: /);
    } finally {
      await removeProject(empty);
    }
  });
});

describe('--json: errors as a JSON line on stdout too', () => {
  it('a manifest error, with each diagnostic and its position', async () => {
    const bad = await makeProject({ 'assets.pipeline.yaml': 'version: 1\nassets:\n  hero: { prompt: "a mug, front view", colour: red }\n' }, 'gpt4k-json-error-');
    try {
      const run = await cli(['build', '--json'], bad);
      expect(run.code).toBe(2);
      const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; error?: Record<string, unknown> });
      const error = lines.find((l) => l.type === 'error')?.error as { code: string; exitCode: number; diagnostics: Array<{ code: string; at: { line: number; col: number } }> };
      expect(error.exitCode).toBe(2);
      expect(error.diagnostics.map((d) => [d.code, d.at.line])).toEqual([['E_UNKNOWN_FIELD', 3]]);
      expect(run.stderr).toContain('E_UNKNOWN_FIELD'); // people still read stderr
    } finally {
      await removeProject(bad);
    }
  });

  it('a usage error and a policy error, with code, hint and exit code', async () => {
    const usage = await cli(['build', '--json', '--bogus'], dir);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ type: 'error', error: { code: 'E_USAGE', message: "unknown option '--bogus'", hint: 'see `gpt4k build --help` for the usage', exitCode: 2 } });
    const unknown = await cli(['plan', '--json', 'heor'], dir);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout.trim().split('\n').pop() as string)).toMatchObject({ type: 'error', error: { code: 'E_UNKNOWN_ASSET', hint: 'did you mean "hero"?', exitCode: 2 } });
  });
});

describe('asset errors: that asset fails with a code and a hint, the others build, exit 1', () => {
  it('a corrupt source image: E_BAD_IMAGE naming the file', async () => {
    await writeFile(path.join(dir, 'photos/x.jpg'), 'this is not a JPEG');
    const run = await runCli(['build'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/FAILED photo source: E_BAD_IMAGE: .*photos\/x\.jpg.*\n {7}hint: /);
    expect(run.stdout + run.stderr).not.toMatch(STACK_LINE);
    const report = await readReport(dir);
    const status = Object.fromEntries(report.assets.map((a) => [a.id, a.status]));
    expect(status).toEqual({ hero: 'built', poster: 'built', photo: 'failed' });
    const error = report.assets.find((a) => a.id === 'photo')?.error;
    expect(error).toMatchObject({ step: 'source', code: 'E_BAD_IMAGE' });
    expect(error?.message).toContain('photos/x.jpg');
    expect(error?.hint).toBeTruthy();
  });

  it('an unreadable ICC profile: E_BAD_PROFILE for the asset that renders with it', async () => {
    await writeFile(path.join(dir, 'profiles/press.icc'), 'not an ICC profile at all');
    const run = await cli(['build'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/FAILED poster render:a5: E_BAD_PROFILE: profile "press" .* is not an ICC profile.*\n {7}hint: /);
    expect(run.stderr).not.toMatch(STACK_LINE);
    const report = await readReport(dir);
    expect(report.assets.find((a) => a.id === 'poster')?.error).toMatchObject({ code: 'E_BAD_PROFILE', step: 'render:a5' });
    expect(report.assets.find((a) => a.id === 'hero')?.status).toBe('cached');
  });
});

describe('internal errors: E_INTERNAL, a hint, and the stack only with --verbose', () => {
  const bug = () => {
    try {
      (undefined as unknown as { x: number }).x;
    } catch (err) {
      return err;
    }
    throw new Error('unreachable');
  };

  it('at the top level', () => {
    const quiet = capture();
    const io = { out: quiet.stream, err: quiet.stream, cwd: '.', env: {}, isTTY: false };
    expect(printError(bug(), io, false)).toBe(1);
    expect(quiet.text()).toMatch(/^error E_INTERNAL: Cannot read properties of undefined \(reading 'x'\)\n {2}hint: this is a bug in gpt4k: run again with --verbose/);
    expect(quiet.text()).not.toMatch(STACK_LINE);
    const loud = capture();
    printError(bug(), { ...io, out: loud.stream, err: loud.stream }, true);
    expect(loud.text()).toMatch(STACK_LINE);
  });

  it('in a step, as the plain reporter shows it', () => {
    const error = toGptError(bug());
    for (const verbose of [false, true]) {
      const out = capture();
      const reporter = new PlainReporter({ verbose, quiet: false, out: out.stream, err: out.stream });
      reporter.onEvent({ type: 'node-failed', node: { id: 'hero/upscale', asset: 'hero', kind: 'upscale' }, error });
      expect(out.text()).toContain('FAILED hero upscale: E_INTERNAL: ');
      expect(out.text()).toContain('hint: this is a bug in gpt4k');
      expect(STACK_LINE.test(out.text())).toBe(verbose);
    }
  });

  it('a user-facing error never gets a stack, even with --verbose', () => {
    const out = capture();
    printError(new GptError('E_BUDGET', 'too expensive', { hint: 'raise the budget' }), { out: out.stream, err: out.stream, cwd: '.', env: {}, isTTY: false }, true);
    expect(out.text()).toBe('error E_BUDGET: too expensive\n  hint: raise the budget\n');
  });
});

describe('docs/errors.md', () => {
  it('documents every error and warning code the source uses', () => {
    const docs = readFileSync(path.join(REPO_ROOT, 'docs/errors.md'), 'utf8');
    const codes = new Set<string>();
    const walk = (folder: string) => {
      for (const name of readdirSync(folder)) {
        const file = path.join(folder, name);
        if (statSync(file).isDirectory()) walk(file);
        else if (name.endsWith('.ts')) for (const m of readFileSync(file, 'utf8').matchAll(/['"`]([EW]_[A-Z0-9_]+)['"`]/g)) codes.add(m[1] as string);
      }
    };
    walk(path.join(REPO_ROOT, 'src'));
    expect(codes.size).toBeGreaterThan(50);
    const missing = [...codes].filter((code) => !docs.includes(`\`${code}\``)).sort();
    expect(missing, 'add these codes to docs/errors.md').toEqual([]);
  });
});
