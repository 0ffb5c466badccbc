/**
 * Helpers of the provider tests: the real CLI in a temp project (run asynchronously, so a
 * stand-in server in the test process keeps answering), a tiny manifest and its generate key.
 * `ensureBuilt` compiles dist/ when it is older than the sources a test relies on (npm test
 * builds first; a lone `vitest run` may not).
 */

import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeProject, projectAt } from './cli-project.js';
import { REPO_ROOT } from './paths.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI in `cwd`, in CI mode, through the one runner of cli-project.ts. */
export async function runCli(args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const run = await projectAt(cwd).run(args, { CI: '1', ...env });
  return { code: run.code ?? 1, stdout: run.stdout, stderr: run.stderr };
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/** Compiles dist/ (tsc -p tsconfig.build.json) unless every `sources` file has an up-to-date output. */
export async function ensureBuilt(sources: string[]): Promise<void> {
  const stale = sources.some((src) => {
    const out = path.join(REPO_ROOT, 'dist', src.replace(/^src\//, '').replace(/\.ts$/, '.js'));
    return mtime(out) < mtime(path.join(REPO_ROOT, src));
  });
  if (!stale) return;
  await new Promise<void>((resolve) => {
    // Type errors elsewhere in the tree still emit; the check below is what matters.
    execFile(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT }, () => resolve());
  });
  for (const src of sources) {
    const out = path.join(REPO_ROOT, 'dist', src.replace(/^src\//, '').replace(/\.ts$/, '.js'));
    if (mtime(out) === 0) throw new Error(`tsc -p tsconfig.build.json did not produce ${out}`);
  }
}

/** A temp project with the given files (path -> text). */
export async function tempProject(files: Record<string, string>): Promise<string> {
  return (await makeProject(files, 'gpt4k-provider-')).dir;
}

/** A tiny manifest: one asset, generate 64x64, no upscale, one 64x64 PNG screen target. */
export function tinyManifest(generate: string): string {
  return [
    'version: 1',
    'output: out',
    'defaults:',
    `  generate: ${generate}`,
    '  upscale: { engine: lanczos, scale: 1 }',
    'targets:',
    '  thumb: { width: 64, height: 64, format: png }',
    'assets:',
    '  hero:',
    '    prompt: "A teal coffee bag on white"',
    '    targets: [thumb]',
    '',
  ].join('\n');
}

/** The generate step's cache key for `tinyManifest(generate)` in `dir`, as the plan computes it. */
export async function generateKey(dir: string, generate: string): Promise<string> {
  const { loadManifest, plan } = await import('../../src/index.js');
  await writeFile(path.join(dir, 'assets.pipeline.yaml'), tinyManifest(generate));
  const loaded = await loadManifest(path.join(dir, 'assets.pipeline.yaml'));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
  const planned = await plan(loaded.value);
  const node = planned.nodes.find((n) => n.id === 'hero/generate');
  if (!node?.key) throw new Error('no generate key');
  return node.key;
}
