// 8. Catalogue scale (issue 21): the cold first build of N and 10N tiny assets (linear?), and
// the no-op build of the 10N project beside `node -e 0`, GNU make and ninja on an equivalent
// graph (10N targets, one per asset, each from its own input file), with peak RSS.
// BENCH_SCALE=500 measures 500 and 5,000 (the default, 1,000 and 10,000, takes ~4-8 minutes
// of first build on two busy cores).

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fmtMb, fmtMs, fmtX, gpt4k, median, readReport, result, run, tempDir, which, writeManifest } from './lib.mjs';
import { manifest } from './noop.bench.mjs';

const SMALL = Number(process.env.BENCH_SCALE ?? 1000);
const LARGE = SMALL * 10;
const RUNS = 5;

async function firstBuild(count) {
  const dir = tempDir(`scale-${count}`);
  writeManifest(dir, manifest(count));
  const out = await gpt4k(dir, ['build', '-q'], { rss: true });
  const report = readReport(dir);
  if (report.summary.built !== count) throw new Error(`${count}-asset build: ${report.summary.built} built, ${report.summary.failed} failed`);
  return { dir, ...out };
}

/** A make and a ninja project of `count` targets, each copied from its own input: built once. */
async function peerProjects(count) {
  const dir = tempDir(`scale-peers-${count}`);
  mkdirSync(path.join(dir, 'src'));
  const names = Array.from({ length: count }, (_, i) => `a${String(i).padStart(5, '0')}`);
  for (const n of names) writeFileSync(path.join(dir, 'src', `${n}.txt`), n);
  writeFileSync(path.join(dir, 'Makefile'), `all: ${names.map((n) => `out/${n}.png`).join(' ')}\nout/%.png: src/%.txt\n\t@mkdir -p out && cp $< $@\n`);
  writeFileSync(path.join(dir, 'build.ninja'), `rule cp\n  command = cp $in $out\n${names.map((n) => `build nout/${n}.png: cp src/${n}.txt`).join('\n')}\n`);
  mkdirSync(path.join(dir, 'nout'));
  const make = which('make');
  const ninja = which('ninja');
  if (make) await run(make, ['-s', '-j2'], { cwd: dir });
  if (ninja) await run(ninja, ['-j2'], { cwd: dir });
  return { dir, make, ninja };
}

async function timed(runs, fn) {
  const all = [];
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    const out = await fn();
    all.push(out.ms);
    rss = Math.max(rss, out.maxRssKb ?? 0);
  }
  return { ms: median(all), all, rss };
}

export async function bench() {
  const r = result('scale', `Catalogue scale: first builds of ${SMALL.toLocaleString('en-US')} and ${LARGE.toLocaleString('en-US')} assets, and the ${LARGE.toLocaleString('en-US')}-asset no-op`);
  const small = await firstBuild(SMALL);
  const large = await firstBuild(LARGE);
  const growth = large.ms / small.ms;
  r.row(`first (cold) build, ${SMALL} assets`, fmtMs(small.ms), `peak RSS ${fmtMb(small.maxRssKb)}`);
  r.row(`first (cold) build, ${LARGE} assets`, fmtMs(large.ms), `peak RSS ${fmtMb(large.maxRssKb)}; ${fmtX(growth)} the ${SMALL}-asset build`);
  r.goal(`first build linear: ${LARGE} assets within 11x of ${SMALL}`, fmtX(growth), growth <= 11);
  r.goal('first build memory bounded by concurrency, not asset count (RSS ratio at most 1.25)', fmtX(large.maxRssKb / small.maxRssKb), large.maxRssKb / small.maxRssKb <= 1.25);

  // The first no-op after a build rewrites the report (steps were "built", now "cached") and
  // leaves the no-op stamp; the timed ones after it write nothing.
  await gpt4k(large.dir, ['build', '-q']);
  const noop = await timed(RUNS, () => gpt4k(large.dir, ['build', '-q'], { rss: true }));
  const node = await timed(RUNS, () => run(process.execPath, ['-e', '0']));
  r.row(`gpt4k no-op build, ${LARGE} assets (median of ${RUNS})`, fmtMs(noop.ms), `peak RSS ${fmtMb(noop.rss)}; runs ${noop.all.map((m) => Math.round(m)).join(', ')} ms`);
  r.row(`peer: node -e 0 (median of ${RUNS})`, fmtMs(node.ms), `ratio gpt4k / node -e 0: ${fmtX(noop.ms / node.ms)}`);
  const peers = await peerProjects(LARGE);
  if (peers.make) {
    const make = await timed(RUNS, () => run(peers.make, ['-s'], { cwd: peers.dir }));
    r.row(`peer: GNU make no-op, ${LARGE} pattern-rule targets`, fmtMs(make.ms), `gpt4k / make: ${fmtX(noop.ms / make.ms)}`);
  }
  if (peers.ninja) {
    const ninja = await timed(RUNS, () => run(peers.ninja, [], { cwd: peers.dir }));
    r.row(`peer: ninja no-op, ${LARGE} targets`, fmtMs(ninja.ms), `gpt4k / ninja: ${fmtX(noop.ms / ninja.ms)}`);
  }
  r.goal(`no-op build of ${LARGE} assets at most 10x node -e 0`, fmtX(noop.ms / node.ms), noop.ms <= 10 * node.ms);
  r.goal(`no-op build of ${LARGE} assets at most 200 MB`, fmtMb(noop.rss), noop.rss <= 200 * 1024);
  r.note(
    `Manifest as the no-op benchmark's (procedural 64x64, one 32x32 PNG target per asset). First builds: \`gpt4k build -q\` from spawn to exit, once each. ` +
      `No-op: after one untimed no-op that rewrites the report and leaves .gpt4k/noop.json. make/ninja: \`make -s\` and \`ninja\` on ${LARGE} copy targets, already built.`,
  );
  r.figures = { smallMs: small.ms, largeMs: large.ms, growth, noopMs: noop.ms, nodeMs: node.ms, noopRssKb: noop.rss };
  return r;
}
