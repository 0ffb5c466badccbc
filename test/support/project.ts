import type { ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PipelineReport } from '../../src/report/types.js';
import { childEnv, makeProject as makeCliProject, projectAt } from './cli-project.js';

/** A temp project: files written from a map of relative path -> content; returns its folder. */
export async function makeProject(files: Record<string, string | Buffer>, prefix = 'gpt4k-test-'): Promise<string> {
  return (await makeCliProject(files, prefix)).dir;
}

export async function removeProject(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for a CLI started by hand (e.g. under `script`): CI mode, no OpenAI settings. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv({ CI: '1', ...extra });
}

/** Starts the real CLI (bin/gpt4k.js, built dist/) in a project folder, in CI mode (plain lines). */
export function startCli(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): { child: ChildProcess; done: Promise<CliRun>; output: () => string } {
  const live = projectAt(options.cwd).start(args, { CI: '1', ...options.env });
  const done = new Promise<CliRun>((resolve) =>
    live.child.on('close', (code, signal) => resolve({ code, signal, stdout: live.stdout(), stderr: live.stderr() })),
  );
  return { child: live.child, done, output: () => live.stdout() + live.stderr() };
}

export async function runCli(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliRun> {
  return startCli(args, options).done;
}

export async function readReport(dir: string, output = 'out'): Promise<PipelineReport> {
  return JSON.parse(await readFile(path.join(dir, output, 'pipeline_report.json'), 'utf8')) as PipelineReport;
}

/** The status of one step of one asset in a report. */
export function stepStatus(report: PipelineReport, asset: string, kind: string, target?: string): string | undefined {
  return report.assets.find((a) => a.id === asset)?.steps.find((s) => s.kind === kind && (target === undefined || s.target === target))?.status;
}

/** Asset ids whose status is `built`. */
export function builtAssets(report: PipelineReport): string[] {
  return report.assets.filter((a) => a.status === 'built').map((a) => a.id).sort();
}

/** Polls until `predicate` holds or the deadline passes. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
