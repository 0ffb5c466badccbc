/**
 * 20 kill loops: the real CLI builds against the images stand-in and is SIGKILLed at a random
 * moment; the next build must complete, every deliverable must decode at its size, nothing in
 * .gpt4k/ may be half-written (objects match their hashes, JSON parses, no temp litter), and no
 * prompt is paid for twice unless its request was in flight at the kill. Each loop changes the
 * prompts, so every loop has paid work to interrupt. The seed is printed with any failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile } from '../../src/cache/hash.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { makeProject, readReport, removeProject, runCli, startCli } from '../support/project.js';

const KEY = 'sk-test-KILL-3e7a91d2';
const LOOPS = 20;
const ASSETS = ['hero', 'mug', 'bag'];

let api: FakeOpenAI;
let dir: string;
const seed = Number(process.env.GPT4K_KILL_SEED ?? Date.now() % 1_000_000);
let state = seed;
/** A small seeded generator (mulberry32), so a failing loop can be replayed with GPT4K_KILL_SEED. */
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function manifest(loop: number): string {
  const assets = ASSETS.map((id) => `  ${id}: { ${id === 'hero' ? '' : 'style: cat, '}prompt: "A ${id} on white, loop ${loop}, front view, centered", targets: [web] }`);
  return `version: 1
defaults:
  generate: { provider: openai, model: gpt-image-2, size: 1024x1024, quality: low, options: { retryBaseDelayMs: 10, retryMaxDelayMs: 100 } }
  upscale: { engine: none }
limits: { generate: 2, process: 2 }
styles:
  cat: { prefix: "Studio packshot —", reference: hero }
targets:
  web: { width: 48, height: 32, format: png }
assets:
${assets.join('\n')}
`;
}

const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: api.url });

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Everything .gpt4k/ and out/ hold is whole: objects match their names, JSON parses, no temp files. */
async function expectNothingHalfWritten(why: string): Promise<void> {
  const cache = path.join(dir, '.gpt4k');
  for (const file of await filesUnder(path.join(cache, 'objects'))) {
    expect(await hashFile(file), `${why}: object ${file}`).toBe(path.basename(file));
  }
  for (const file of await filesUnder(cache)) {
    if (!file.endsWith('.json')) continue;
    const text = await readFile(file, 'utf8');
    expect(() => JSON.parse(text), `${why}: ${file}`).not.toThrow();
  }
  for (const file of await filesUnder(path.join(cache, 'actions'))) {
    const record = JSON.parse(await readFile(file, 'utf8')) as { output: { hash: string; size: number } };
    const object = path.join(cache, 'objects', record.output.hash.slice(0, 2), record.output.hash);
    expect((await stat(object)).size, `${why}: ${file} names a missing or short object`).toBe(record.output.size);
  }
  const litter = [...(await filesUnder(cache)), ...(await filesUnder(path.join(dir, 'out')))]
    .map((f) => path.relative(dir, f))
    .filter((f) => f.endsWith('.tmp') || f.startsWith(path.join('.gpt4k', 'tmp') + path.sep));
  expect(litter, `${why}: temp files left`).toEqual([]);
}

async function expectDeliverables(why: string): Promise<void> {
  for (const id of ASSETS) {
    const web = sharp(path.join(dir, 'out', id, 'web.png'), { failOn: 'warning' });
    const { info } = await web.raw().toBuffer({ resolveWithObject: true }); // every pixel decodes
    expect([info.width, info.height], `${why}: ${id}/web.png`).toEqual([48, 32]);
  }
}

beforeAll(async () => {
  api = await startFakeOpenAI({ apiKey: KEY });
  dir = await makeProject({ 'assets.pipeline.yaml': manifest(0) }, 'gpt4k-kill-');
});
afterAll(async () => {
  await api?.close();
  if (dir) await removeProject(dir);
});

describe(`${LOOPS} kill loops (seed ${seed})`, () => {
  it('after each SIGKILL the next build completes, everything is whole, and nothing is paid twice', { timeout: 300_000 }, async () => {
    // Answers take 0-300 ms, so kills land before, during and after requests.
    api.script(() => ({ kind: 'ok', latencyMs: Math.floor(random() * 300) }));
    const started = Date.now();
    const first = await runCli(['build'], { cwd: dir, env: env() });
    expect(first.code, first.stderr).toBe(0);
    // Kills land anywhere from the CLI's start to about when a whole build would have ended.
    const window = Date.now() - started;

    let inFlightAtKills = 0;
    for (let loop = 1; loop <= LOOPS; loop++) {
      const why = `seed ${seed}, loop ${loop}`;
      await writeManifest(loop);
      const before = api.requests.length;
      const killed = startCli(['build'], { cwd: dir, env: env() });
      const delay = Math.floor(random() * window);
      await new Promise((resolve) => setTimeout(resolve, delay));
      killed.child.kill('SIGKILL');
      await killed.done;
      const sentBeforeKill = api.requests.slice(before);

      const next = await runCli(['build'], { cwd: dir, env: env() });
      expect(next.code, `${why}: ${next.stdout}${next.stderr}`).toBe(0);
      const sentAfter = api.requests.slice(before + sentBeforeKill.length);
      const report = await readReport(dir);
      for (const id of ASSETS) {
        const prompt = (r: (typeof api.requests)[number]) => String(r.body?.['prompt']).includes(`A ${id} on white, loop ${loop},`);
        const before = sentBeforeKill.filter(prompt);
        const after = sentAfter.filter(prompt);
        const generate = report.assets.find((a) => a.id === id)?.steps.find((s) => s.kind === 'generate')?.status;
        expect(before.length, `${why}: ${id} sent twice before the kill`).toBeLessThanOrEqual(1);
        // A result that reached the store is never paid for again; only an unfinished one is re-sent, once.
        if (generate === 'cached') expect(after, `${why}: ${id} was cached yet sent again`).toHaveLength(0);
        else expect(after, `${why}: ${id} rebuilt`).toHaveLength(1);
        expect(before.length + after.length, `${why}: ${id} paid`).toBeGreaterThanOrEqual(1);
        if (before.length + after.length > 1) inFlightAtKills++;
      }
      await expectNothingHalfWritten(why);
      await expectDeliverables(why);
    }
    // Not an assertion on timing: a note for whoever reads the run.
    console.log(`kill loops: seed ${seed}, kill window ${window} ms, ${inFlightAtKills} request(s) in flight at a kill were re-sent`);
  });
});

describe('what a killed build leaves behind', () => {
  it('the next build removes the temp files of the dead holder, and no one else\'s', async () => {
    const project = await makeProject({ 'assets.pipeline.yaml': 'version: 1\ntargets:\n  web: { width: 16, height: 16 }\nassets:\n  a: { prompt: "A cup, front view, centered", generate: { size: 64x64 }, upscale: { engine: none } }\n' }, 'gpt4k-litter-');
    try {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      const litter = [
        `.gpt4k/objects/ab/.abcdef0123456789.${dead}.0123abcd.tmp`,
        `.gpt4k/actions/ab/.abcdef0123456789.json.${dead}.89abcdef.tmp`,
        `.gpt4k/.state.json.${dead}.0badf00d.tmp`,
        `.gpt4k/tmp/build-${dead}/upscale.png`,
        `.gpt4k/tmp/${dead}-object`,
        `out/a/.web.png.${dead}.deadbeef.tmp`,
      ];
      const alive = [`out/a/.web.png.${process.pid}.deadbeef.tmp`, 'out/a/.notes.tmp', '.gpt4k/tmp/keep-me'];
      for (const file of [...litter, ...alive]) await writeFileDeep(path.join(project, file), 'half');
      await writeFileDeep(path.join(project, '.gpt4k/build.lock/.keep'), '');
      await writeFileDeep(path.join(project, '.gpt4k/build.lock.holder.json'), JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then' }));
      const run = await runCli(['build'], { cwd: project });
      expect(run.code, run.stderr).toBe(0);
      for (const file of litter) expect(existsSync(path.join(project, file)), file).toBe(false);
      for (const file of alive) expect(existsSync(path.join(project, file)), file).toBe(true);
    } finally {
      await removeProject(project);
    }
  });
});

async function writeFileDeep(file: string, data: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, data);
}

async function writeManifest(loop: number): Promise<void> {
  await writeFile(path.join(dir, 'assets.pipeline.yaml'), manifest(loop));
}
