// 4. Hashing: MB/s of src/cache/hash.ts hashFile (xxHash64, streamed) on a 1 GB file beside
// `sha256sum` and the disk's read speed (`cat FILE > /dev/null`), same file, warm page cache.

import { openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ROOT, median, result, run, tempDir, which } from './lib.mjs';

const SIZE = 1024 * 1024 * 1024;
const RUNS = 3;

const HASHFILE = (file) => `
const { hashFile } = await import(${JSON.stringify(path.join(ROOT, 'dist/cache/hash.js'))});
await hashFile(${JSON.stringify(file)}); // load the wasm, warm up
const times = [];
for (let i = 0; i < ${RUNS}; i++) {
  const t = performance.now();
  await hashFile(${JSON.stringify(file)});
  times.push(performance.now() - t);
}
console.log(JSON.stringify(times));
`;

export async function bench() {
  const r = result('hash', 'Hashing a 1 GB file: hashFile (xxHash64) beside sha256sum and cat');
  const dir = tempDir('hash');
  const file = path.join(dir, 'big.bin');
  // Random bytes (a 64 MiB block repeated): incompressible, and hashers do not care about repeats.
  const block = randomBytes(64 * 1024 * 1024);
  const fd = openSync(file, 'w');
  for (let written = 0; written < SIZE; written += block.length) writeSync(fd, block);
  closeSync(fd);
  await run('sh', ['-c', `cat '${file}' > /dev/null`]); // warm the page cache

  const mbps = (ms) => SIZE / 2 ** 20 / (ms / 1000);
  const shell = async (cmd) => {
    const times = [];
    for (let i = 0; i < RUNS; i++) times.push((await run('sh', ['-c', cmd])).ms);
    return median(times);
  };

  const catMs = await shell(`cat '${file}' > /dev/null`);
  const hashTimes = JSON.parse((await run(process.execPath, ['--input-type=module', '-e', HASHFILE(file)])).stdout.trim());
  const hashMs = median(hashTimes);
  const shaMs = await shell(`sha256sum '${file}' > /dev/null`);
  r.row('gpt4k hashFile (xxHash64 wasm, 1 MiB chunks)', `${Math.round(mbps(hashMs))} MB/s`, `${Math.round(hashMs)} ms for 1 GiB (in-process, after one warm-up)`);
  r.row('peer: sha256sum', `${Math.round(mbps(shaMs))} MB/s`, `${Math.round(shaMs)} ms (process wall clock)`);
  r.row('peer: cat FILE > /dev/null (read speed)', `${Math.round(mbps(catMs))} MB/s`, `${Math.round(catMs)} ms`);
  const xxh = which('xxhsum') ?? which('xxh64sum');
  if (xxh) {
    const xMs = await shell(`'${xxh}' '${file}' > /dev/null`);
    r.row(`peer: ${path.basename(xxh)} (native xxHash64)`, `${Math.round(mbps(xMs))} MB/s`, `${Math.round(xMs)} ms`);
  }
  r.row('hashFile / sha256sum', `${(shaMs / hashMs).toFixed(2)}x faster`, `hashFile at ${Math.round((100 * catMs) / hashMs)}% of the read speed`);
  r.note(
    `One 1 GiB file of random bytes in ${path.dirname(dir)}; all three read it from a warm page cache (it was written, then read once by cat, ` +
      'and 1 GiB fits in memory many times), so "read speed" is the kernel copying cached pages, not the disk. ' +
      `Median of ${RUNS}. MB/s = MiB/s. hashFile is timed inside one node process after a warm-up call (no node start-up); ` +
      'sha256sum and cat are timed as processes (their start-up is ~1 ms).',
  );
  r.figures = { hashMBps: mbps(hashMs), sha256MBps: mbps(shaMs), catMBps: mbps(catMs) };
  return r;
}
