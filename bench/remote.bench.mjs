// 8. (issue 17) The shared remote cache: `gpt4k init`'s demo built on a fresh checkout whose
// .gpt4k/ is empty, against a warm remote (a real nginx WebDAV server on loopback, filled by
// another checkout's build), beside the same cold build with no remote. Also: what uploading
// costs the build that fills the remote, and a --frozen assembly from the remote.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, fmtMs, fmtX, gpt4k, median, readReport, result, run, tempDir } from './lib.mjs';

const RUNS = 2;

async function webDav() {
  const built = path.join(ROOT, 'bench/.build/nginx-webdav.js');
  // Compiled from test/support/nginx-webdav.ts (not copied): bench/tsconfig.json emits it here.
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'bench/tsconfig.json')]);
  if (!existsSync(built)) throw new Error(`${built} was not emitted`);
  return import(pathToFileURL(built).href);
}

/** A fresh checkout of the demo: `gpt4k init`, nothing built. */
async function demo(name) {
  const dir = tempDir(name);
  const init = await gpt4k(dir, ['init']);
  if (init.code !== 0) throw new Error(`gpt4k init failed: ${init.stderr}`);
  return dir;
}

async function timedBuild(dir, args, env) {
  const res = await gpt4k(dir, ['build', '-q', ...args], { env: { CI: '1', ...env } });
  if (res.code !== 0) throw new Error(`gpt4k build ${args.join(' ')} exited ${res.code}: ${res.stderr.slice(-2000)}`);
  return { ms: res.ms, report: readReport(dir), stderr: res.stderr };
}

export async function bench() {
  const r = result('remote', "Remote cache: `gpt4k init`'s demo on a fresh checkout, warm remote vs cold local");
  const { startWebDav } = await webDav();
  const server = await startWebDav({ token: 'bench-token' });
  try {
    const remote = { GPT4K_REMOTE_CACHE: server.url, GPT4K_REMOTE_CACHE_TOKEN: 'bench-token' };
    const none = { GPT4K_REMOTE_CACHE: 'off' };

    const cold = [];
    for (let i = 0; i < RUNS; i++) cold.push((await timedBuild(await demo(`cold${i}`), [], none)).ms);
    const fill = await timedBuild(await demo('fill'), [], remote);
    const warm = [];
    let warmReport;
    for (let i = 0; i < RUNS; i++) {
      const b = await timedBuild(await demo(`warm${i}`), [], remote);
      warm.push(b.ms);
      warmReport = b.report;
    }
    const frozen = await timedBuild(await demo('frozen'), ['--frozen'], remote);
    const requests = await server.requests();

    const coldMs = median(cold);
    const warmMs = median(warm);
    const s = warmReport.summary;
    r.row(`cold local build, no remote (median of ${RUNS})`, fmtMs(coldMs), `runs: ${cold.map((m) => Math.round(m)).join(', ')} ms`);
    r.row('cold build that fills the remote (uploads included)', fmtMs(fill.ms), `${fmtX(fill.ms / coldMs)} the cold build; ${requests.filter((q) => q.startsWith('PUT ')).length} PUTs`);
    r.row(`fresh checkout, warm remote (median of ${RUNS})`, fmtMs(warmMs), `${fmtX(coldMs / warmMs)} faster than cold; ${s.remoteHits} remote hits, ${s.built} built, ${s.cached} cached`);
    r.row('fresh checkout, warm remote, --frozen', fmtMs(frozen.ms), `${frozen.report.summary.remoteHits} remote hits, ${frozen.report.summary.providerCalls} provider calls`);
    r.goal('a fresh checkout against a warm remote builds faster than a cold local build', fmtX(coldMs / warmMs), warmMs < coldMs);
    r.goal('... and runs no step (every step from the remote)', `${s.built} built`, s.built === 0);
    r.note(
      `The demo is what \`gpt4k init\` writes (procedural provider, so the cold build pays for no API call: it is all upscale, normalize and render work). ` +
        `The remote is nginx with WebDAV PUT on 127.0.0.1 (test/support/nginx-webdav.ts), so transfers cost loopback time only; over a network, add the download of the deliverables. ` +
        `Each timed build is a new checkout (\`gpt4k init\` in a new folder: empty .gpt4k/, no out/), run as \`gpt4k build -q\` with CI=1.`,
    );
    r.figures = { coldMs, warmMs, fillMs: fill.ms, frozenMs: frozen.ms, speedup: coldMs / warmMs };
  } finally {
    await server.remove();
  }
  return r;
}
