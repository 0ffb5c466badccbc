/**
 * A temp project driven through the real CLI (bin/gpt4k.js, built by `npm test` first): write
 * files, run commands to completion, or start a long-running one (watch) and wait on its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PipelineReport } from '../../src/report/types.js';
import { CLI } from './paths.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Project {
  dir: string;
  write(rel: string, data: string | Buffer): Promise<void>;
  read(rel: string): Promise<string>;
  bytes(rel: string): Promise<Buffer>;
  exists(rel: string): boolean;
  report(): Promise<PipelineReport>;
  run(args: string[], env?: Record<string, string | undefined>): Promise<RunResult>;
  start(args: string[], env?: Record<string, string | undefined>): LiveCli;
  remove(): Promise<void>;
}

export interface LiveCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until the output (stdout + stderr) satisfies `test`, or fails after `timeoutMs`. */
  waitFor(test: RegExp | ((out: string) => boolean), timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

/** The child's environment: no terminal tricks, no key or endpoint unless the test gives one. */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.OPENAI_API_KEY;
  delete env.OPENAI_BASE_URL;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export async function makeProject(files: Record<string, string | Buffer>, prefix = 'gpt4k-cli-'): Promise<Project> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const project = projectAt(dir);
  for (const [rel, data] of Object.entries(files)) await project.write(rel, data);
  return project;
}

export function projectAt(dir: string): Project {
  return {
    dir,
    async write(rel, data) {
      await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await writeFile(path.join(dir, rel), data);
    },
    read: (rel) => readFile(path.join(dir, rel), 'utf8'),
    bytes: (rel) => readFile(path.join(dir, rel)),
    exists: (rel) => existsSync(path.join(dir, rel)),
    async report() {
      return JSON.parse(await readFile(path.join(dir, 'out', 'pipeline_report.json'), 'utf8')) as PipelineReport;
    },
    run(args, env = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    start(args, env = {}) {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      return {
        child,
        stdout: () => stdout,
        stderr: () => stderr,
        exited,
        waitFor: (test, timeoutMs = 15_000) => waitUntil(() => stdout + stderr, test, timeoutMs, exited),
      };
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Polls `read()` until `test` passes; fails with the output so far on timeout or exit. */
export async function waitUntil(
  read: () => string,
  test: RegExp | ((out: string) => boolean),
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<string> {
  const ok = (out: string) => (typeof test === 'function' ? test(out) : test.test(out));
  const deadline = Date.now() + timeoutMs;
  let done = false;
  void exited?.then(() => (done = true));
  for (;;) {
    const out = read();
    if (ok(out)) return out;
    if (done) {
      // One last look: the output may have arrived with the exit.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (ok(read())) return read();
      throw new Error(`the process exited before ${String(test)}; output:\n${read()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(test)}; output:\n${out}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Polls a condition (not output) until true or the deadline. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Copies some of a project's files and folders into a new temp dir (a CI checkout plus a restored cache). */
export async function copyProject(from: Project, entries: string[], prefix = 'gpt4k-moved-'): Promise<Project> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  for (const rel of entries) {
    if (existsSync(path.join(from.dir, rel))) await cp(path.join(from.dir, rel), path.join(dir, rel), { recursive: true });
  }
  return projectAt(dir);
}

/** Occurrences of `pattern` in `text`. */
export const count = (text: string, pattern: RegExp): number => (text.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`)) ?? []).length;
