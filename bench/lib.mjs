// Shared helpers for the benchmarks: processes, timing, peak RSS, temp projects, the machine.
// Benchmarks are not tests: nothing here runs under `npm test`.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'bin', 'gpt4k.js');
/** The press profile gpt4k ships as its built-in fogra39 (icc/): a clone needs nothing beside it. */
export const FOGRA39 = path.join(ROOT, 'icc', 'FOGRA39L_coated.icc');
export const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const fmtMs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtMb = (kb) => `${Math.round(kb / 1024)} MB`;
export const ratio = (a, b) => (b > 0 ? a / b : NaN);
export const fmtX = (x) => `${x.toFixed(2)}x`;

/** A fresh temp folder (removed by `cleanup()` at the end of the run unless BENCH_KEEP=1). */
const temps = [];
export function tempDir(name) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `gpt4k-bench-${name}-`));
  temps.push(dir);
  return dir;
}
export function cleanup() {
  if (process.env.BENCH_KEEP === '1') return;
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function writeManifest(dir, manifest, name = 'assets.pipeline.yaml') {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), YAML.stringify(manifest, { lineWidth: 0 }));
}

/**
 * Runs a command to completion. Wall clock from spawn to exit (hrtime). With `rss: true` it runs
 * under GNU time and reports the peak RSS in KiB of the process (ru_maxrss: the largest single
 * process of the tree, which for gpt4k, sharp scripts and convert is the one that does the work)
 * and its CPU time (user + system, every thread), `cpuMs`.
 */
export function run(cmd, args, { cwd = ROOT, env = {}, rss = false, input, allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    let file = cmd;
    let argv = args;
    let rssFile;
    if (rss && GNU_TIME) {
      rssFile = path.join(os.tmpdir(), `gpt4k-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
      file = GNU_TIME;
      argv = ['-f', '%M %U %S', '-o', rssFile, cmd, ...args];
    }
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const LIMIT = 8 << 20; // keep the tail of what a chatty command prints
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-LIMIT)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-LIMIT)));
    child.on('error', reject);
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      let maxRssKb;
      let cpuMs;
      if (rssFile) {
        try {
          const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
          const [rssKb, user, sys] = (lines[lines.length - 1] ?? '').split(' ').map(Number);
          maxRssKb = rssKb;
          // user + system CPU of the process and its threads (GNU time's %U %S, 10 ms steps)
          if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user + sys) * 1000;
        } catch {
          // no figure
        }
        rmSync(rssFile, { force: true });
      }
      const result = { code, ms, stdout, stderr, maxRssKb, cpuMs };
      if (code !== 0 && !allowFail) {
        const err = new Error(`${cmd} ${args.join(' ')} exited ${code}\n${stderr.slice(-2000)}${stdout.slice(-1000)}`);
        err.result = result;
        reject(err);
      } else resolve(result);
    });
  });
}

/** `gpt4k ARGS` in `cwd`, as a user runs it (node bin/gpt4k.js). */
export function gpt4k(cwd, args, options = {}) {
  return run(process.execPath, [CLI, ...args], { cwd, ...options });
}

export function readReport(dir) {
  return JSON.parse(readFileSync(path.join(dir, 'out', 'pipeline_report.json'), 'utf8'));
}

export function which(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function machine() {
  const cpus = os.cpus();
  let cpuModel = cpus[0]?.model ?? 'unknown';
  let disk = '';
  try {
    disk = execFileSync('df', ['-h', '--output=source,fstype,size', os.tmpdir()], { encoding: 'utf8' }).trim().split('\n')[1] ?? '';
  } catch {
    // no df
  }
  return {
    cores: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    tmp: `${os.tmpdir()} (${disk.replace(/\s+/g, ' ')})`,
    date: new Date().toISOString(),
  };
}

/** A result a benchmark hands back to run.mjs. */
export function result(id, title) {
  return {
    id,
    title,
    date: new Date().toISOString(),
    /** [label, value, peer-or-note] rows, printed as a table. */
    rows: [],
    /** { goal, actual, met } */
    goals: [],
    notes: [],
    row(label, value, note = '') {
      this.rows.push([label, value, note]);
      console.log(`  ${label.padEnd(44)} ${String(value).padEnd(14)} ${note}`);
    },
    goal(goal, actual, met) {
      this.goals.push({ goal, actual, met });
      console.log(`  goal: ${goal}: ${actual} -> ${met ? 'MET' : 'MISSED'}`);
    },
    note(text) {
      this.notes.push(text);
    },
  };
}
