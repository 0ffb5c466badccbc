/**
 * The live TTY view: fed events through a fake terminal (a Writable with isTTY and columns),
 * whose output a tiny screen model replays, so the tests assert what a person would see.
 * One test runs the real CLI in a pty (`script`), one checks CI output has no escape codes.
 */
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildEvent, NodeRef } from '../src/engine/events.js';
import { loadLiveView, makeReporter } from '../src/cli/main.js';
import { PlainReporter } from '../src/cli/reporters/plain.js';
import { TtyReporter } from '../src/cli/reporters/tty.js';
import type { PipelineReport } from '../src/report/types.js';
import { GptError } from '../src/util/errors.js';
import { CLI } from './support/paths.js';
import { cliEnv, makeProject, removeProject, runCli } from './support/project.js';

/** A terminal of unbounded height: enough of VT100 for what log-update writes. */
class Screen {
  lines: string[] = [''];
  row = 0;
  col = 0;
  raw = '';

  write(text: string): void {
    this.raw += text;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (ch === '\x1b') {
        const match = /^\x1b\[(\??)(\d*)([A-Za-z])/.exec(text.slice(i));
        if (!match) continue;
        i += match[0].length - 1;
        const n = Number(match[2] || 1);
        if (match[3] === 'K') this.lines[this.row] = '';
        else if (match[3] === 'A') this.row = Math.max(0, this.row - n);
        else if (match[3] === 'G') this.col = 0;
        continue;
      }
      if (ch === '\n') {
        this.row++;
        this.col = 0;
        while (this.lines.length <= this.row) this.lines.push('');
        continue;
      }
      if (ch === '\r') {
        this.col = 0;
        continue;
      }
      const line = (this.lines[this.row] ?? '').padEnd(this.col);
      this.lines[this.row] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
      this.col++;
    }
  }

  text(): string {
    return this.lines.join('\n').trimEnd();
  }
}

function fakeTerminal(columns = 100): { stream: NodeJS.WritableStream; screen: Screen } {
  const screen = new Screen();
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      screen.write(chunk.toString());
      cb();
    },
  });
  Object.assign(stream, { isTTY: true, columns, rows: 40 });
  return { stream, screen };
}

const ref = (asset: string, kind: NodeRef['kind'], target?: string): NodeRef => ({ id: `${asset}/${target ? `render:${target}` : kind}`, asset, kind, ...(target ? { target } : {}) });

function report(failed = false): PipelineReport {
  return {
    version: 1,
    summary: { assets: 3, built: failed ? 1 : 2, cached: 1, failed: failed ? 1 : 0, skipped: 0, providerCalls: 2, retries: 0, costUsd: 0.08, durationMs: 4200 },
    assets: [
      { id: 'hero', status: 'built', costUsd: 0.04, steps: [], outputs: [], error: null },
      failed
        ? { id: 'sku', status: 'failed', costUsd: 0.04, steps: [], outputs: [], error: { step: 'render:web', code: 'E_BAD_IMAGE', message: 'cached image of sku/upscale is not a readable image', hint: 'run gpt4k clean' } }
        : { id: 'sku', status: 'built', costUsd: 0.04, steps: [], outputs: [], error: null },
      { id: 'photo', status: 'cached', costUsd: 0, steps: [], outputs: [], error: null },
    ],
  } as PipelineReport;
}

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TtyReporter', () => {
  it('shows assets and steps done, what runs with its elapsed time, spend, elapsed and ETA', () => {
    const { stream, screen } = fakeTerminal();
    const time = clock();
    const reporter = new TtyReporter({ verbose: false, quiet: false, out: stream, err: stream }, time);
    reporter.onEvent({ type: 'build-start', assets: 3, nodesToRun: 4, estimatedCostUsd: 0.08, runsByAsset: { hero: 2, sku: 2 } });
    reporter.onEvent({ type: 'node-start', node: ref('hero', 'generate'), reasons: ['new asset'] });
    time.advance(1500);
    reporter.onEvent({ type: 'node-start', node: ref('sku', 'generate'), reasons: ['new asset'] });
    time.advance(500);
    reporter.onEvent({ type: 'node-done', node: ref('hero', 'generate'), status: 'built', ms: 2000, costUsd: 0.04 });
    reporter.onEvent({ type: 'node-start', node: ref('hero', 'render', 'web'), reasons: [] });
    time.advance(1000);
    reporter.onEvent({ type: 'retry', node: ref('sku', 'generate'), attempt: 2, delayMs: 1500, reason: 'rate limited (429)' });
    // The redraw is throttled; the frame is what the next tick draws.
    const frame = reporter.frame();
    expect(frame.split('\n')).toEqual([
      'building: 1/3 assets · 1/4 steps · $0.04 of ~$0.08 · 3.0s elapsed · ETA 9.0s',
      '  › sku generate     1.5s  (retry 2 in 1.5s: rate limited (429))',
      '  › hero render:web  1.0s',
    ]);
    reporter.close();
  });

  it('ends with a static summary: the live view is gone, failures are listed with error and hint', () => {
    const { stream, screen } = fakeTerminal();
    const reporter = new TtyReporter({ verbose: false, quiet: false, out: stream, err: stream });
    reporter.onEvent({ type: 'build-start', assets: 3, nodesToRun: 2, estimatedCostUsd: 0, runsByAsset: { hero: 1, sku: 1 } });
    reporter.onEvent({ type: 'node-start', node: ref('hero', 'render', 'web'), reasons: [] });
    reporter.onEvent({ type: 'node-done', node: ref('hero', 'render', 'web'), status: 'built', ms: 20 });
    reporter.onEvent({ type: 'warning', message: 'hero/render:web: upscaled past the source detail' });
    reporter.onEvent({ type: 'node-failed', node: ref('sku', 'render', 'web'), error: new GptError('E_BAD_IMAGE', 'cached image of sku/upscale is not a readable image', { hint: 'run gpt4k clean' }) });
    expect(screen.text()).toContain('building: ');
    reporter.onEvent({ type: 'build-done', report: report(true), reportFile: 'out/pipeline_report.json' });
    reporter.close();
    expect(screen.text()).toBe(
      [
        'warning: hero/render:web: upscaled past the source detail',
        '✖ sku render:web failed: E_BAD_IMAGE: cached image of sku/upscale is not a readable image',
        '✖ done with failures in 4.2s: 1 built, 1 cached, 1 failed · 2 provider calls · $0.08',
        '  sku (render:web): E_BAD_IMAGE: cached image of sku/upscale is not a readable image',
        '    hint: run gpt4k clean',
        'deliverables out/, report out/pipeline_report.json',
      ].join('\n'),
    );
  });

  it('--quiet: no live view, only errors and the summary', () => {
    const { stream, screen } = fakeTerminal();
    const reporter = new TtyReporter({ verbose: false, quiet: true, out: stream, err: stream });
    reporter.onEvent({ type: 'build-start', assets: 3, nodesToRun: 2, estimatedCostUsd: 0 });
    reporter.onEvent({ type: 'node-start', node: ref('hero', 'render', 'web'), reasons: [] });
    reporter.onEvent({ type: 'node-done', node: ref('hero', 'render', 'web'), status: 'built', ms: 20 });
    reporter.onEvent({ type: 'warning', message: 'something minor' });
    reporter.onEvent({ type: 'build-done', report: report(), reportFile: 'out/pipeline_report.json' });
    reporter.close();
    expect(screen.raw).not.toContain('building:');
    expect(screen.text()).toBe(['✔ done in 4.2s: 2 built, 1 cached, 0 failed · 2 provider calls · $0.08', 'deliverables out/, report out/pipeline_report.json'].join('\n'));
  });

  it('--verbose: node starts with reasons, cached steps, and the stack of an internal error', () => {
    const { stream, screen } = fakeTerminal();
    const reporter = new TtyReporter({ verbose: true, quiet: false, out: stream, err: stream });
    reporter.onEvent({ type: 'build-start', assets: 1, nodesToRun: 1, estimatedCostUsd: 0 });
    reporter.onEvent({ type: 'node-done', node: ref('hero', 'generate'), status: 'cached', ms: 0 });
    reporter.onEvent({ type: 'node-start', node: ref('hero', 'render', 'web'), reasons: ['size: 128x96 → 160x96 px'] });
    const bug = new TypeError('cannot read properties of undefined');
    reporter.onEvent({ type: 'node-failed', node: ref('hero', 'render', 'web'), error: new GptError('E_INTERNAL', bug.message, { cause: bug }) });
    reporter.onEvent({ type: 'build-done', report: report(true), reportFile: 'out/pipeline_report.json' });
    reporter.close();
    const text = screen.text();
    expect(text).toContain('cached hero generate');
    expect(text).toContain('start  hero render:web (size: 128x96 → 160x96 px)');
    expect(text).toContain('stack trace of hero/render:web:\nTypeError: cannot read properties of undefined\n    at ');
  });

  it('redraws at most ~10 times a second', async () => {
    const { stream, screen } = fakeTerminal();
    const reporter = new TtyReporter({ verbose: false, quiet: false, out: stream, err: stream });
    reporter.onEvent({ type: 'build-start', assets: 1, nodesToRun: 500, estimatedCostUsd: 0, runsByAsset: { a: 500 } });
    const t0 = Date.now();
    for (let i = 0; i < 500; i++) {
      reporter.onEvent({ type: 'node-start', node: { id: `a/n${i}`, asset: 'a', kind: 'render', target: `t${i}` }, reasons: [] });
      reporter.onEvent({ type: 'node-done', node: { id: `a/n${i}`, asset: 'a', kind: 'render', target: `t${i}` }, status: 'built', ms: 1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 350));
    const frames = screen.raw.split('building:').length - 1;
    const seconds = (Date.now() - t0) / 1000;
    expect(frames).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 2);
    expect(screen.text()).toContain('building: 1/1 assets · 500/500 steps');
    reporter.close();
  });

  it('is chosen for a terminal only: --json, CI or a pipe get the other reporters', async () => {
    const io = (isTTY: boolean, env: NodeJS.ProcessEnv) => ({ out: process.stdout, err: process.stderr, cwd: '.', env, isTTY });
    // The live view's module loads only for a terminal (main() does this before a command runs).
    await loadLiveView(io(true, {}));
    expect(makeReporter({}, io(true, {}))).toBeInstanceOf(TtyReporter);
    expect(makeReporter({}, io(true, { CI: 'true' }))).toBeInstanceOf(PlainReporter);
    expect(makeReporter({}, io(false, {}))).toBeInstanceOf(PlainReporter);
    expect(makeReporter({ json: true }, io(true, {})).constructor.name).toBe('JsonReporter');
  });
});

describe('the CLI on a terminal and in CI', () => {
  let dir: string;
  const manifest = (prompt: string) => `version: 1
output: out
defaults:
  generate: { provider: procedural, model: gpt-image-2, size: 64x64, quality: low }
  upscale: { engine: lanczos, scale: 2 }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero: { prompt: "${prompt}, front view", targets: [web] }
  photo: { source: ./photos/x.jpg, targets: [web] }
`;

  beforeAll(async () => {
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#806040' } }).jpeg().toBuffer();
    dir = await makeProject({ 'assets.pipeline.yaml': manifest('A teal bag'), 'photos/x.jpg': jpeg }, 'gpt4k-tty-');
  });
  afterAll(async () => {
    if (dir) await removeProject(dir);
  });

  it('CI=1 or a pipe: plain lines, no escape codes', async () => {
    const run = await runCli(['build'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).not.toContain('\x1b');
    expect(run.stdout).toMatch(/^built +hero generate/m);
  });

  it.skipIf(spawnSync('script', ['--version']).error !== undefined)('a real pty (script): the live view, then the summary', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${dir}/assets.pipeline.yaml`, manifest('A green bag'));
    const env = cliEnv({ CI: undefined, TERM: 'xterm', COLUMNS: '100', LINES: '30' });
    const run = spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} build`, '/dev/null'], { cwd: dir, env, encoding: 'utf8' });
    expect(run.status).toBe(0);
    const screen = new Screen();
    screen.write(run.stdout.replace(/\r/g, ''));
    expect(run.stdout).toContain('building: ');
    expect(run.stdout).toContain('\x1b[');
    expect(screen.text()).toMatch(/✔ done in [\d.]+m?s: 1 built, 1 cached, 0 failed · 0 provider calls · \$0\.00\ndeliverables out\/, contact sheet out\/report\.html, report out\/pipeline_report\.json$/);
    expect(screen.text()).not.toContain('building: ');
  });
});
