// 1. No-op build of a generated 1,000-asset manifest: CLI wall clock beside `node -e 0`, the
// files it opens (strace), and where its time goes (phases through the programmatic API, and a
// CPU profile summary).

import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CLI, ROOT, fmtMs, fmtX, gpt4k, median, result, run, tempDir, which, writeManifest } from './lib.mjs';

const ASSETS = 1000;
const RUNS = 5;

export function manifest(count) {
  const assets = {};
  for (let i = 0; i < count; i++) {
    assets[`a${String(i).padStart(4, '0')}`] = { prompt: `Benchmark asset number ${i}, a small test picture, front view, centered`, targets: ['thumb'] };
  }
  return {
    version: 1,
    output: 'out',
    defaults: {
      generate: { provider: 'procedural', model: 'gpt-image-2', size: '64x64', quality: 'low' },
      upscale: { engine: 'lanczos', scale: 1 },
    },
    limits: { generate: 8 },
    targets: { thumb: { width: 32, height: 32, fit: 'cover', format: 'png' } },
    assets,
  };
}

const IMAGE_FILE = /\.(png|jpe?g|tiff?|webp|gif|icc|icm)$/i;

/** Files opened by a no-op build, from `strace -f -e trace=openat`. */
async function traceOpens(dir) {
  const strace = which('strace');
  if (!strace) return undefined;
  const log = path.join(dir, 'strace.log');
  await run(strace, ['-f', '-qq', '-e', 'trace=open,openat', '-o', log, process.execPath, CLI, 'build', '-q'], { cwd: dir });
  const opened = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const m = /open(?:at)?\((?:AT_FDCWD|\d+), "([^"]+)", ([A-Z_|]+)[^)]*\)\s+=\s+(-?\d+)/.exec(line);
    if (!m || Number(m[3]) < 0) continue;
    opened.push({ file: m[1], write: /O_WRONLY|O_RDWR/.test(m[2]) });
  }
  rmSync(log, { force: true });
  const inProject = opened.filter((o) => o.file.startsWith(dir) || !path.isAbsolute(o.file));
  return {
    total: opened.length,
    images: opened.filter((o) => IMAGE_FILE.test(o.file) && !o.write),
    objects: opened.filter((o) => o.file.includes('/.gpt4k/objects/')),
    actions: opened.filter((o) => o.file.includes('/.gpt4k/actions/') && !o.write).length,
    writes: inProject.filter((o) => o.write).map((o) => path.relative(dir, o.file)),
  };
}

/** The phases of a no-op build, through the programmatic API (dist/), in one process. */
const PHASES = `
const t0 = performance.now();
const { loadManifest } = await import(${JSON.stringify(path.join(ROOT, 'dist/engine/backends.js'))});
const { build, graphOf, openProjectCache } = await import(${JSON.stringify(path.join(ROOT, 'dist/engine/build.js'))});
const { planBuild } = await import(${JSON.stringify(path.join(ROOT, 'dist/graph/plan.js'))});
const t1 = performance.now();
const loaded = await loadManifest('assets.pipeline.yaml', { cwd: process.cwd() });
const t2 = performance.now();
const graph = graphOf(loaded.value);
const t3 = performance.now();
const cache = await openProjectCache(loaded.value);
const t4 = performance.now();
await planBuild(graph, { store: cache.store, files: cache.files, state: cache.state, forced: new Set() });
const t5 = performance.now();
await build(loaded.value, { contactSheet: false });
const t6 = performance.now();
await build(loaded.value, {});
const t7 = performance.now();
console.log(JSON.stringify({ 'node start to first import': t0, 'import dist modules': t1 - t0, 'load + validate manifest': t2 - t1,
  'build graph': t3 - t2, 'open cache (state.json, files.json)': t4 - t3, 'plan (decide every node)': t5 - t4,
  'build() without contact sheet (plans again, decides again, writes state + report)': t6 - t5,
  'build() with contact sheet': t7 - t6 }));
`;

/** Where the CPU time goes, by module, from `node --cpu-prof`. */
async function profile(dir) {
  const profDir = path.join(dir, 'prof');
  await run(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, CLI, 'build', '--json'], { cwd: dir });
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const prof = JSON.parse(readFileSync(path.join(profDir, file), 'utf8'));
  rmSync(profDir, { recursive: true, force: true });
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTime = new Map();
  prof.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const group = (url) => {
    if (!url) return null;
    const dist = /\/dist\/([^/]+)\//.exec(url);
    if (dist && !url.includes('node_modules')) return `gpt4k ${dist[1]}/`;
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (nm) return `package ${nm[1]}`;
    if (url.startsWith('node:internal/modules')) return 'node module loader';
    if (url.startsWith('node:internal/fs') || url === 'node:fs') return 'node fs';
    return null;
  };
  const inclusive = new Map();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const [id, t] of selfTime) {
    total += t;
    const fn = byId.get(id).callFrame.functionName;
    if (fn === '(idle)') idle += t;
    if (fn === '(garbage collector)') gc += t;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const g = group(byId.get(cur).callFrame.url);
      if (g && !seen.has(g)) {
        seen.add(g);
        inclusive.set(g, (inclusive.get(g) ?? 0) + t);
      }
    }
  }
  const top = [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return { totalMs: total / 1000, idleMs: idle / 1000, gcMs: gc / 1000, top: top.map(([g, t]) => [g, t / 1000]) };
}

export async function bench() {
  const r = result('noop', `No-op build of a ${ASSETS.toLocaleString('en-US')}-asset manifest`);
  const dir = tempDir('noop');
  writeManifest(dir, manifest(ASSETS));
  r.note(
    `Manifest: ${ASSETS} assets under \`assets:\` (YAML, ${Math.round(readFileSync(path.join(dir, 'assets.pipeline.yaml')).length / 1024)} KB), procedural provider at 64x64, ` +
      '`upscale: {scale: 1}`, one 32x32 PNG target each: 5 graph nodes per asset. Timed: `node bin/gpt4k.js build -q` from spawn to exit, ' +
      `after a first (cold) build and one untimed no-op (which rewrites the report and leaves .gpt4k/noop.json, so the timed ones take the no-op fast path); median of ${RUNS}. ` +
      'The phases and the profile below are of the ordinary path (the programmatic API, and `gpt4k build --json`, which the fast path does not answer).',
  );

  const first = await gpt4k(dir, ['build', '-q']);
  r.row('first (cold) build, 1000 assets', fmtMs(first.ms), 'not a goal: context');
  await gpt4k(dir, ['build', '-q']); // settles state/thumb index writes of the first build

  const noop = [];
  for (let i = 0; i < RUNS; i++) noop.push((await gpt4k(dir, ['build', '-q'])).ms);
  const base = [];
  for (let i = 0; i < RUNS; i++) base.push((await run(process.execPath, ['-e', '0'])).ms);
  const noopMs = median(noop);
  const baseMs = median(base);
  r.row('gpt4k no-op build (median of 5)', fmtMs(noopMs), `runs: ${noop.map((m) => Math.round(m)).join(', ')} ms`);
  r.row('peer: node -e 0 (median of 5)', fmtMs(baseMs), `ratio gpt4k / node -e 0: ${fmtX(noopMs / baseMs)}`);
  r.goal('no-op build of 1,000 assets at most 500 ms', fmtMs(noopMs), noopMs <= 500);
  r.goal('no-op build of 1,000 assets at most 3x node -e 0 (issue 21)', fmtX(noopMs / baseMs), noopMs <= 3 * baseMs);

  const trace = await traceOpens(dir);
  if (trace) {
    const imageReads = trace.images.length + trace.objects.filter((o) => !IMAGE_FILE.test(o.file)).length;
    r.row('strace: images / store objects opened', `${trace.images.length} / ${trace.objects.length}`, trace.images.slice(0, 3).map((o) => path.basename(o.file)).join(', '));
    r.row('strace: action records opened', String(trace.actions), `${(trace.actions / ASSETS).toFixed(1)} per asset`);
    r.row('strace: files opened in all / written in the project', `${trace.total} / ${trace.writes.length}`, trace.writes.slice(0, 6).join(', '));
    r.goal('a no-op build opens no image and no store object (so hashes no large file)', `${imageReads} opened`, imageReads === 0);
    r.goal('a no-op build writes nothing (no report, contact sheet, state or lock file rewritten)', `${trace.writes.length} written`, trace.writes.length === 0);
  } else {
    r.note('strace is not installed: the no-op build\'s file opens were not checked (apt-get install strace).');
  }

  try {
    const phases = await run(process.execPath, ['--input-type=module', '-e', PHASES], { cwd: dir });
    const data = JSON.parse(phases.stdout.trim().split('\n').pop());
    r.note(`Phases of a no-op build in one process (programmatic API): ${Object.entries(data).map(([k, v]) => `${k} ${fmtMs(v)}`).join('; ')}.`);
    console.log(`  phases: ${JSON.stringify(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Math.round(v)])))}`);
  } catch (err) {
    r.note(`phase breakdown unavailable: ${String(err.message).split('\n')[0]}`);
  }
  try {
    const prof = await profile(dir);
    r.note(
      `CPU profile of one no-op (node --cpu-prof, ${fmtMs(prof.totalMs)} sampled, ${fmtMs(prof.idleMs)} idle = waiting on fs, ${fmtMs(prof.gcMs)} GC); ` +
        `inclusive time by module: ${prof.top.map(([g, t]) => `${g} ${fmtMs(t)}`).join(', ')}.`,
    );
  } catch (err) {
    r.note(`CPU profile unavailable: ${String(err.message).split('\n')[0]}`);
  }
  r.figures = { noopMs, nodeMs: baseMs, firstBuildMs: first.ms, ratio: noopMs / baseMs };
  return r;
}
