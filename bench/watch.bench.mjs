// 9. Watch rebuild of one asset in a 1,000-asset project (issue 21): a real `gpt4k watch --json`
// process; after its first cycle, one asset's prompt is edited in the manifest (a real write, as
// an editor saves) and the time from the write to the cycle's done event is split into the
// debounce (and file-watch latency), the asset's own work (its built steps' ms in that cycle's
// report) and the rest: the overhead. Beside it, the peer: the same one-asset edit built by a
// one-shot `gpt4k build -q` process, and `node -e 0`. Then the same for a `source:` image edit.

import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CLI, ROOT, fmtMs, gpt4k, median, readReport, result, run, tempDir, writeManifest } from './lib.mjs';
import { manifest as noopManifest } from './noop.bench.mjs';

const ASSETS = 1000;
const EDITS = Number(process.env.BENCH_WATCH_EDITS ?? 7);
const DEBOUNCE_MS = 100; // gpt4k watch's default
const SOURCE_ASSET = 'photo';
const SOURCE_FILE = 'photo.png';

/** The no-op bench's manifest with one asset made from a `source:` image instead of a generated one. */
function manifest() {
  const m = noopManifest(ASSETS - 1);
  m.assets[SOURCE_ASSET] = { source: `./${SOURCE_FILE}`, targets: ['thumb'] };
  return m;
}

/** A 64x64 PNG whose pixels differ with `n`: each write is a real edit of the source image. */
async function writeSource(dir, n) {
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: (n * 37) % 256, g: (n * 91) % 256, b: 128 } } }).png().toBuffer();
  writeFileSync(path.join(dir, SOURCE_FILE), png);
}

/** Edits asset `id`'s prompt in the manifest text, in place, as an editor would. */
function editPrompt(dir, id, n) {
  const file = path.join(dir, 'assets.pipeline.yaml');
  const index = Number(id.slice(1));
  const before = `Benchmark asset number ${index},`;
  const text = readFileSync(file, 'utf8');
  const at = text.search(new RegExp(`Benchmark asset number ${index}(?: edit \\d+)?,`));
  if (at < 0) throw new Error(`prompt of ${id} not found in the manifest`);
  const end = text.indexOf(',', at);
  writeFileSync(file, `${text.slice(0, at)}${before.slice(0, -1)} edit ${n}${text.slice(end)}`);
}

/** A `gpt4k watch --json` process: its JSON lines, each stamped with when it arrived. */
function startWatch(dir, nodeArgs = []) {
  // --quiet: the watch events and each build's summary and failures, not a line per cached step
  // (5,000 of them per cycle here), as the default printer shows a person (plain, TTY).
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'watch', '--json', '--quiet'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const events = [];
  const waiters = [];
  let buffered = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const at = performance.now();
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.trim()) continue;
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        continue;
      }
      events.push({ at, event });
      for (const w of waiters.splice(0)) if (!w(event, at)) waiters.push(w);
    }
  });
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  /** Resolves with { at, event } for the next event that `match` accepts (or rejects after `ms`). */
  const next = (match, ms = 120_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`watch: timed out waiting for an event; stderr: ${stderr}`)), ms);
      waiters.push((event, at) => {
        if (!match(event)) return false;
        clearTimeout(timer);
        resolve({ at, event });
        return true;
      });
    });
  return { child, events, next, exited, stderr: () => stderr };
}

const isWatch = (type) => (e) => e.watch === true && e.type === type;

/** One edit under watch: write, then wait for the cycle it starts to finish; the split of its time. */
async function timedEdit(w, dir, edit, asset) {
  const from = w.events.length;
  const started = w.next(isWatch('cycle-start'));
  const done = w.next(isWatch('cycle-done'));
  const t0 = performance.now();
  const hr0 = process.hrtime.bigint();
  await edit();
  const start = await started;
  const end = await done;
  const inCycle = w.events.slice(from).map((e) => e.event);
  if (!inCycle.some((e) => e.type === 'build-done')) throw new Error(`watch cycle ${end.event.cycle} did not build: ${JSON.stringify(end.event).slice(0, 500)}`);
  // The report is written before the cycle's done event: that cycle's steps, with their ms.
  const report = readReport(dir);
  const steps = report.assets.find((a) => a.id === asset)?.steps.filter((s) => s.status === 'built') ?? [];
  const ownMs = steps.reduce((sum, s) => sum + s.ms, 0);
  const others = report.assets.filter((a) => a.id !== asset && a.steps.some((s) => s.status === 'built')).length;
  return {
    totalMs: end.at - t0,
    waitMs: start.at - t0, // file-watch latency + debounce: no build runs yet
    cycleMs: end.at - start.at,
    ownMs,
    overheadMs: end.at - t0 - DEBOUNCE_MS - ownMs,
    steps: steps.map((s) => `${s.kind} ${Math.round(s.ms)}`).join(', '),
    others,
    rebuilt: end.event.rebuilt?.length ?? 0,
    // CLOCK_MONOTONIC in microseconds, the clock of a V8 CPU profile's sample times.
    window: [Number(hr0 / 1000n), Number(hr0 / 1000n) + Math.round((end.at - t0) * 1000)],
  };
}

/** Waits until no watch event has arrived for `quietMs` (the watcher is idle). */
async function settle(w, quietMs = 1000) {
  for (;;) {
    const count = w.events.length;
    await new Promise((r) => setTimeout(r, quietMs));
    if (w.events.length === count) return;
  }
}

/** The peer: the same one-asset edit built by a one-shot `gpt4k build -q`; own work from the report. */
async function oneShot(dir, edit, asset) {
  await edit();
  const out = await gpt4k(dir, ['build', '-q']);
  const report = readReport(dir);
  const own = report.assets.find((a) => a.id === asset)?.steps.filter((s) => s.status === 'built').reduce((sum, s) => sum + s.ms, 0) ?? 0;
  return { totalMs: out.ms, ownMs: own, overheadMs: out.ms - own, built: report.summary.built };
}

/**
 * Where a watch cycle's time goes: a `gpt4k watch --json --cpu-prof` process through `edits`
 * prompt edits; of the samples inside the edit windows (save to cycle done), the time by gpt4k
 * module and package (inclusive: a sample counts once for every module on its stack) and the
 * functions with the most self time.
 */
async function profileCycles(dir, edits) {
  const profDir = path.join(dir, 'prof');
  const w = startWatch(dir, ['--cpu-prof', '--cpu-prof-dir', profDir]);
  const windows = [];
  try {
    await w.next(isWatch('cycle-done'));
    await settle(w);
    for (let i = 1; i <= edits; i++) {
      const asset = `a${String(500 + i * 29).padStart(4, '0')}`;
      windows.push((await timedEdit(w, dir, () => editPrompt(dir, asset, 200 + i), asset)).window);
      await settle(w, 500);
    }
  } finally {
    w.child.kill('SIGINT');
    await w.exited;
  }
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const prof = JSON.parse(readFileSync(path.join(profDir, file), 'utf8'));
  rmSync(profDir, { recursive: true, force: true });
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const group = (url) => {
    const dist = /\/dist\/(.+)\.js$/.exec(url);
    if (dist && !url.includes('node_modules')) return `${dist[1]}.js`;
    const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    return nm ? `package ${nm[1]}` : null;
  };
  const inclusive = new Map();
  const self = new Map();
  let total = 0;
  let idle = 0;
  let gc = 0;
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (!windows.some(([a, b]) => t >= a && t <= b)) return;
    total += dt;
    const frame = byId.get(id).callFrame;
    if (frame.functionName === '(idle)') idle += dt;
    if (frame.functionName === '(garbage collector)') gc += dt;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url ? `${path.basename(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();
    self.set(name, (self.get(name) ?? 0) + dt);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const g = group(byId.get(cur).callFrame.url);
      if (g && !seen.has(g)) {
        seen.add(g);
        inclusive.set(g, (inclusive.get(g) ?? 0) + dt);
      }
    }
  });
  const per = (us) => fmtMs(us / 1000 / edits);
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${per(v)}`).join(', ');
  return `CPU profile of ${edits} prompt-edit cycles (node --cpu-prof on the watch process, samples from save to cycle done only), per cycle: ` +
    `${per(total)} sampled, ${per(idle)} idle (waiting on fs, timers, the debounce), ${per(gc)} GC. ` +
    `Inclusive by module (a sample counts for every module on its stack; an await cuts the stack, so a caller is not charged for what it awaited): ${top(inclusive, 18)}. Most self time: ${top(self, 12)}.`;
}

/**
 * The phases of a watch cycle after a prompt edit, in one process through the programmatic API
 * (what engine/watch.ts runs per cycle: reload the manifest, then build() with skipGenerate),
 * split at the build's own events: median ms per phase over `edits` edits.
 */
const PHASES = `
import { readFileSync, writeFileSync } from 'node:fs';
const { loadManifest } = await import(${JSON.stringify(path.join(ROOT, 'dist/engine/backends.js'))});
const { build } = await import(${JSON.stringify(path.join(ROOT, 'dist/engine/build.js'))});
const file = 'assets.pipeline.yaml';
const rows = [];
for (let i = 0; i < Number(process.argv[1]); i++) {
  const idx = 600 + i * 17;
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(new RegExp('Benchmark asset number ' + idx + '(?: edit \\\\d+)?,'), 'Benchmark asset number ' + idx + ' edit ' + (300 + i) + ','));
  const t0 = performance.now();
  const loaded = await loadManifest(file, { cwd: process.cwd() });
  const t1 = performance.now();
  let planned = t1, firstStart, lastDone, done;
  await build(loaded.value, { skipGenerate: () => undefined, onEvent: (e) => {
    const now = performance.now();
    if (e.type === 'build-start') planned = now;
    if (e.type === 'node-start') firstStart ??= now;
    if (e.type === 'node-done') lastDone = now;
    if (e.type === 'build-done') done = now;
  } });
  const t2 = performance.now();
  rows.push({ 'reload + validate the manifest': t1 - t0, 'graph, lock, open cache, plan all nodes': planned - t1,
    'executor: to the first step that runs': firstStart - planned, 'executor: the asset\\'s steps, and the cached steps settled after them': lastDone - firstStart,
    'state, lock file, JSON report, contact sheet': done - lastDone, 'release': t2 - done, total: t2 - t0 });
}
console.log(JSON.stringify(rows));
`;

async function phases(dir, edits) {
  const out = await run(process.execPath, ['--input-type=module', '-e', PHASES, String(edits)], { cwd: dir });
  const rows = JSON.parse(out.stdout.trim().split('\n').pop());
  return Object.keys(rows[0]).map((k) => [k, median(rows.map((row) => row[k]))]);
}

const ms = (list, key) => median(list.map((x) => x[key]));
const runsOf = (list, key) => list.map((x) => Math.round(x[key])).join(', ');

function describe(r, label, list) {
  r.row(`${label}: save to cycle done (median of ${list.length})`, fmtMs(ms(list, 'totalMs')), `runs: ${runsOf(list, 'totalMs')} ms`);
  r.row(`${label}: save to cycle start (file watch + ${DEBOUNCE_MS} ms debounce)`, fmtMs(ms(list, 'waitMs')), `runs: ${runsOf(list, 'waitMs')} ms`);
  r.row(`${label}: cycle start to done`, fmtMs(ms(list, 'cycleMs')), `runs: ${runsOf(list, 'cycleMs')} ms`);
  r.row(`${label}: the asset's own work (its built steps)`, fmtMs(ms(list, 'ownMs')), `e.g. ${list[0].steps}`);
  r.row(`${label}: overhead (save to done - debounce - own work)`, fmtMs(ms(list, 'overheadMs')), `runs: ${runsOf(list, 'overheadMs')} ms`);
  const others = Math.max(...list.map((x) => x.others));
  if (others > 0) r.note(`${label}: ${others} other asset(s) had steps rebuilt in a cycle: the edit reached further than one asset.`);
}

export async function bench() {
  const r = result('watch', `Watch rebuild of one asset in a ${ASSETS.toLocaleString('en-US')}-asset project`);
  const dir = tempDir('watch');
  writeManifest(dir, manifest());
  await writeSource(dir, 0);
  const load = [os.loadavg()[0]];
  const cold = await gpt4k(dir, ['build', '-q']);
  r.row(`first (cold) build, ${ASSETS} assets`, fmtMs(cold.ms), 'not a goal: context');

  const w = startWatch(dir);
  let prompt;
  let source;
  try {
    const first = await w.next(isWatch('cycle-done'));
    const firstStart = w.events.find((e) => e.event.type === 'cycle-start');
    r.row('watch: first cycle (all cached), start to done', fmtMs(first.at - (firstStart?.at ?? first.at)), 'every asset cached; not a goal: context');
    await settle(w);
    prompt = [];
    for (let i = 1; i <= EDITS; i++) {
      const asset = `a${String(100 + i * 37).padStart(4, '0')}`;
      prompt.push(await timedEdit(w, dir, () => editPrompt(dir, asset, i), asset));
      await settle(w, 500);
    }
    source = [];
    for (let i = 1; i <= EDITS; i++) {
      source.push(await timedEdit(w, dir, () => writeSource(dir, i), SOURCE_ASSET));
      await settle(w, 500);
    }
  } finally {
    w.child.kill('SIGINT');
    const code = await Promise.race([w.exited, new Promise((res) => setTimeout(() => res('timeout'), 10_000))]);
    if (code === 'timeout') w.child.kill('SIGKILL');
  }
  load.push(os.loadavg()[0]);

  describe(r, 'watch, prompt edit', prompt);
  describe(r, 'watch, source image edit', source);

  const peer = [];
  for (let i = 1; i <= EDITS; i++) {
    const asset = `a${String(120 + i * 41).padStart(4, '0')}`;
    peer.push(await oneShot(dir, () => editPrompt(dir, asset, 100 + i), asset));
  }
  const peerSource = [];
  for (let i = 1; i <= EDITS; i++) peerSource.push(await oneShot(dir, () => writeSource(dir, 100 + i), SOURCE_ASSET));
  const node = [];
  for (let i = 0; i < EDITS; i++) node.push((await run(process.execPath, ['-e', '0'])).ms);
  load.push(os.loadavg()[0]);
  const nodeMs = median(node);
  r.row(`peer: one-shot gpt4k build -q after the same prompt edit (median of ${EDITS})`, fmtMs(ms(peer, 'totalMs')), `own work ${fmtMs(ms(peer, 'ownMs'))}, overhead ${fmtMs(ms(peer, 'overheadMs'))}; runs: ${runsOf(peer, 'totalMs')} ms`);
  r.row(`peer: one-shot gpt4k build -q after the same source edit (median of ${EDITS})`, fmtMs(ms(peerSource, 'totalMs')), `own work ${fmtMs(ms(peerSource, 'ownMs'))}, overhead ${fmtMs(ms(peerSource, 'overheadMs'))}; runs: ${runsOf(peerSource, 'totalMs')} ms`);
  r.note('The one-shot peer\'s own work is larger than the watcher\'s for the same steps: a fresh process pays for loading sharp and for cold code inside its first steps, which a watch process paid once.');
  r.row(`peer: node -e 0 (median of ${EDITS})`, fmtMs(nodeMs), `watch prompt edit, save to done / node -e 0: ${(ms(prompt, 'totalMs') / nodeMs).toFixed(1)}x`);

  const overhead = ms(prompt, 'overheadMs');
  const sourceOverhead = ms(source, 'overheadMs');
  r.goal('watch rebuild of one asset in a 1,000-asset project: overhead at most 1 s beyond the asset\'s own work', `${fmtMs(overhead)} (prompt edit), ${fmtMs(sourceOverhead)} (source image edit)`, overhead <= 1000 && sourceOverhead <= 1000);
  r.note(
    `Manifest: the no-op bench's (procedural 64x64, \`upscale: {scale: 1}\`, one 32x32 PNG target each), ${ASSETS - 1} generated assets and one (\`${SOURCE_ASSET}\`) from a 64x64 \`source:\` PNG. ` +
      `After a cold \`gpt4k build -q\`, one \`gpt4k watch --json --quiet\` process runs all the edits (--quiet: no line per cached step, as the default printer): each is a plain write of the manifest (one asset's prompt changed) or of the source PNG (new pixels), ` +
      `timed from just before the write to the arrival of the cycle's \`cycle-done\` line; the watcher is left idle (no event for 0.5 s) between edits. ` +
      `Own work = the \`ms\` of that asset's steps with status built in the cycle's out/pipeline_report.json (written before \`cycle-done\`); overhead = save to done - the ${DEBOUNCE_MS} ms debounce - own work ` +
      `(so it includes the file watcher's latency, reloading and validating the manifest, planning all ${ASSETS} assets, writing state, lock, report and contact sheet). ` +
      `The debounce is part of what a user waits (save to cycle start above) but is a setting (\`--debounce\`), so it is reported apart. ` +
      `The peer builds the same kind of edit as a one-shot process (own work from out/pipeline_report.json). 1-minute load average at the start, after the watch edits, after the peers: ${load.map((l) => l.toFixed(2)).join(', ')} (2 shared cores: the benchmark itself adds about 1, other work may have run beside it).`,
  );
  try {
    const split = await phases(dir, 7);
    const text = `Phases of a prompt-edit cycle in one process (the programmatic API, as engine/watch.ts runs a cycle; median of 7): ${split.map(([k, v]) => `${k} ${fmtMs(v)}`).join('; ')}.`;
    console.log(`  ${text}`);
    r.note(text);
  } catch (err) {
    r.note(`phase split unavailable: ${String(err.message).split('\n')[0]}`);
  }
  try {
    const text = await profileCycles(dir, 5);
    console.log(`  ${text}`);
    r.note(text);
  } catch (err) {
    r.note(`CPU profile unavailable: ${String(err.message).split('\n')[0]}`);
  }
  r.figures = { promptOverheadMs: overhead, sourceOverheadMs: sourceOverhead, promptTotalMs: ms(prompt, 'totalMs'), promptOwnMs: ms(prompt, 'ownMs'), peerMs: ms(peer, 'totalMs'), nodeMs, load };
  return r;
}
