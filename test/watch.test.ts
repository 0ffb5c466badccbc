/**
 * `gpt4k watch`, driven as a user would: the real CLI in a temp project, files edited on disk,
 * Ctrl-C as SIGINT. Provider calls are counted at the OpenAI images stand-in. No fixed sleeps:
 * every step waits on the watcher's own output.
 */
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { count, eventually, makeProject, type LiveCli, type Project } from './support/cli-project.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fake-openai.js';

const KEY = 'sk-test-watch-0000';
let api: FakeOpenAI;
let project: Project;
let session: LiveCli | undefined;

const manifest = (mug: string, extra = '') => `version: 1
defaults:
  generate: { provider: procedural, size: 64x64, quality: low }
  upscale: { engine: lanczos, scale: 2 }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "front view, a teal coffee bag"
  mug:
    prompt: "${mug}"
${extra}`;

const openaiManifest = (hero: string) => `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-1.5, size: 1024x1024, quality: low }
  upscale: { engine: none }
targets:
  web: { width: 128, height: 96, format: png }
assets:
  hero:
    prompt: "${hero}"
  mug:
    generate: { provider: procedural, size: 64x64 }
    prompt: "front view, a red enamel mug"
`;

/** Waits for the n-th "waiting for changes" line: the end of the n-th build cycle. */
const cycles = (n: number) => (out: string) => count(out, /\[watch\] waiting for changes/) >= n;

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
});
afterAll(async () => {
  await api.close();
});
beforeEach(async () => {
  api.reset();
  project = await makeProject({ 'assets.pipeline.yaml': manifest('front view, a red enamel mug') }, 'gpt4k-watch-');
});
afterEach(async () => {
  if (session && session.child.exitCode === null) {
    session.child.kill('SIGKILL');
    await session.exited;
  }
  session = undefined;
  await project.remove();
});

const start = (env: Record<string, string> = {}) => {
  session = project.start(['watch', '--debounce', '50'], { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url, ...env });
  return session;
};

describe('gpt4k watch', () => {
  it('rebuilds what changed and why, builds nothing on a no-op save, survives a broken manifest, stops on Ctrl-C', async () => {
    const w = start();
    await w.waitFor(cycles(1));
    expect((await project.report()).summary).toMatchObject({ built: 2, failed: 0 });

    // A prompt edit: only mug runs, and the watcher says why.
    await project.write('assets.pipeline.yaml', manifest('front view, a green enamel mug'));
    let out = await w.waitFor(cycles(2));
    expect(out).toMatch(/\[watch\] build #2: assets\.pipeline\.yaml/);
    const second = out.split('[watch] build #2')[1];
    expect(second).toMatch(/^ {2}mug generate: .*prompt/m);
    expect(second).not.toMatch(/^ {2}hero /m);
    let report = await project.report();
    expect(report.assets.find((a) => a.id === 'mug')?.status).toBe('built');
    expect(report.assets.find((a) => a.id === 'hero')?.status).toBe('cached');

    // A save that changes no key: nothing runs, nothing is rendered.
    await project.write('assets.pipeline.yaml', `${manifest('front view, a green enamel mug')}# a comment\n`);
    out = await w.waitFor(cycles(3));
    expect(out.split('[watch] build #3')[1]).toMatch(/\[watch\] nothing changed/);
    report = await project.report();
    expect(report.summary).toMatchObject({ built: 0, cached: 2 });

    // A broken manifest: file:line:col on stderr, and the watcher keeps waiting.
    await project.write('assets.pipeline.yaml', manifest('front view, a green enamel mug').replace('targets:\n', 'targets:\n  web: [oops\n'));
    await w.waitFor(/the manifest has errors/);
    expect(w.stderr()).toMatch(/assets\.pipeline\.yaml:\d+:\d+: error E_/);
    expect(w.child.exitCode).toBeNull();

    // The fix builds again, and an include added by it is watched from then on.
    await project.write('jobs.json', JSON.stringify([{ id: 'tote', prompt: 'front view, a canvas tote bag' }]));
    await project.write('assets.pipeline.yaml', manifest('front view, a green enamel mug', 'include:\n  - jobs.json\n'));
    out = await w.waitFor(/\[watch\] build #5[\s\S]*\[watch\] waiting for changes/);
    expect(out).toMatch(/\[watch\] watching 3 file\(s\): assets\.lock\.json, assets\.pipeline\.yaml, jobs\.json/);
    expect(out.split('[watch] build #5')[1]).toMatch(/^ {2}tote generate: new/m);
    await project.write('jobs.json', JSON.stringify([{ id: 'tote', prompt: 'front view, a linen tote bag' }]));
    out = await w.waitFor(/\[watch\] build #6: jobs\.json[\s\S]*\[watch\] waiting for changes/);
    expect(out.split('[watch] build #6')[1]).toMatch(/^ {2}tote generate: .*prompt/m);

    // The lock file our own builds rewrite never set off another build.
    expect(out).not.toMatch(/build #\d+: assets\.lock\.json/);

    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(w.stdout()).toMatch(/\[watch\] stopped/);
    expect(project.exists('.gpt4k/lock')).toBe(false);
  });

  it('rebuilds downstream when a candidate is picked from another terminal', async () => {
    await project.write('assets.pipeline.yaml', manifest('front view, a red enamel mug').replace('bag"\n', 'bag"\n    variants: 2\n'));
    const w = start();
    await w.waitFor(cycles(1));
    const before = await project.bytes('out/hero/web.png');
    const pick = await project.run(['pick', 'hero', '2']);
    expect(pick.code, pick.stderr).toBe(0);
    const out = await w.waitFor(cycles(2));
    const second = out.split('[watch] build #2: assets.lock.json')[1];
    expect(second).toMatch(/^ {2}hero render:web: /m);
    expect(second).not.toMatch(/^ {2}hero generate/m);
    expect(await project.bytes('out/hero/web.png')).not.toEqual(before);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(count(w.stdout(), /\[watch\] build #/)).toBe(1);
  });

  it('rebuilds when a source image changes', async () => {
    const image = (r: number) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r, g: 80, b: 80 } } }).png().toBuffer();
    await project.write('photos/shot.png', await image(10));
    await project.write('assets.pipeline.yaml', manifest('front view, a red enamel mug', '  shot:\n    source: ./photos/shot.png\n'));
    const w = start();
    const first = await w.waitFor(cycles(1));
    expect(first).toMatch(/watching 3 file\(s\): assets\.lock\.json, assets\.pipeline\.yaml, photos\/shot\.png/);
    const before = await project.bytes('out/shot/web.png');
    await project.write('photos/shot.png', await image(250));
    const out = await w.waitFor(cycles(2));
    expect(out.split('[watch] build #2')[1]).toMatch(/^ {2}shot (upscale|render:web): /m);
    expect(await project.bytes('out/shot/web.png')).not.toEqual(before);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
  });

  it('does not send a failed generation again until its key changes', async () => {
    api.script((request) => (String(request.body?.['prompt']).includes('forbidden') ? 'moderation_blocked' : 'ok'));
    await project.write('assets.pipeline.yaml', openaiManifest('front view, a forbidden thing'));
    const w = start();
    await w.waitFor(cycles(1));
    expect(api.requests).toHaveLength(1);
    expect((await project.report()).assets.find((a) => a.id === 'hero')?.status).toBe('failed');

    // Saves that leave hero's key alone: no new request, and the watcher says so.
    await project.write('assets.pipeline.yaml', `${openaiManifest('front view, a forbidden thing')}# saved again\n`);
    let out = await w.waitFor(cycles(2));
    expect(out.split('[watch] build #2')[1]).toMatch(/not sent again.*hero/);
    expect(api.requests).toHaveLength(1);

    // A new prompt is a new key: sent.
    await project.write('assets.pipeline.yaml', openaiManifest('front view, a teal coffee bag'));
    out = await w.waitFor(cycles(3));
    expect(api.requests).toHaveLength(2);
    expect((await project.report()).assets.find((a) => a.id === 'hero')?.status).toBe('built');
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
  });

  it('queues exactly one more build for changes made during a build', async () => {
    api.script((request) => (String(request.body?.['prompt']).includes('slow') ? { kind: 'ok', latencyMs: 1500 } : 'ok'));
    await project.write('assets.pipeline.yaml', openaiManifest('front view, a slow coffee bag v0'));
    const w = start();
    await eventually(() => api.requests.length === 1, 15_000, 'the first request');
    // Three saves while the first build waits on the provider.
    for (const v of [1, 2, 3]) await project.write('assets.pipeline.yaml', openaiManifest(`front view, a coffee bag v${v}`));
    const out = await w.waitFor(cycles(2), 20_000);
    expect(count(out, /\[watch\] build #/)).toBe(1);
    // Only the last save was built: one request for v0, one for v3.
    expect(api.requests.map((r) => String(r.body?.['prompt']))).toEqual(['front view, a slow coffee bag v0', 'front view, a coffee bag v3']);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(count(w.stdout(), /\[watch\] build #/)).toBe(1);
  });

  it('Ctrl-C aborts the build in flight and exits at once', async () => {
    api.script('hang');
    await project.write('assets.pipeline.yaml', openaiManifest('front view, a teal coffee bag'));
    const w = start();
    await eventually(() => api.requests.length === 1, 15_000, 'the request');
    const t0 = Date.now();
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    await eventually(() => api.requests[0]?.clientClosed === true, 2_000, 'the request to be abandoned');
    expect(project.exists('.gpt4k/lock')).toBe(false);
  });
});
