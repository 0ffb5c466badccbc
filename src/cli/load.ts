import path from 'node:path';
import { stat } from 'node:fs/promises';
import { DEFAULT_MANIFEST, discoverManifest } from '../manifest/discover.js';
import { loadManifest } from '../engine/backends.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { Diagnostic } from '../util/errors.js';
import { ExitCode, GptError, formatDiagnostic, manifestError } from '../util/errors.js';
import { colorDiagnostic, colorsFor } from './color.js';
import type { GlobalOptions, Io } from './commands/context.js';

/**
 * The manifest a command works on: --manifest (relative to the working folder), else the
 * nearest assets.pipeline.yaml at or above it (E_NO_MANIFEST, the most common first error,
 * names where it looked and the two ways out).
 */
export async function manifestPath(options: GlobalOptions, io: Io): Promise<string> {
  if (options.manifest) {
    const file = path.resolve(io.cwd, options.manifest);
    if (await stat(file).then((info) => info.isFile(), () => false)) return file;
    throw new GptError('E_NO_MANIFEST', `manifest ${path.relative(io.cwd, file) || file} does not exist`, {
      hint: 'check the --manifest path (it is relative to the current folder, or to -C DIR)',
      exitCode: ExitCode.usage,
    });
  }
  const found = await discoverManifest(io.cwd);
  if (found.found) return found.file;
  const top = found.searched[found.searched.length - 1] ?? io.cwd;
  const where = found.searched.length === 1 ? io.cwd : `${io.cwd} or any folder above it up to ${top} (the ${found.stoppedAt})`;
  throw new GptError('E_NO_MANIFEST', `no ${DEFAULT_MANIFEST} in ${where}`, {
    hint: 'run `gpt4k init` to create one, point at yours with --manifest FILE, or run in another folder with -C DIR',
    exitCode: ExitCode.usage,
  });
}

/** Loads the manifest, printing its warnings, and says which one when it is not the working folder's. */
export async function loadOrThrow(options: GlobalOptions, io: Io): Promise<ResolvedManifest> {
  const file = await manifestPath(options, io);
  const result = await loadManifest(file, { cwd: io.cwd, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
  if (!result.ok) throw manifestError(result.error);
  const talk = !options.quiet && !options.json;
  if (talk && !options.manifest && path.dirname(file) !== path.resolve(io.cwd)) io.err.write(`gpt4k: using ${path.relative(io.cwd, file)}\n`);
  if (talk) for (const warning of result.value.warnings) printDiagnostic({ ...warning, severity: 'warning' }, io);
  return result.value;
}

export function printDiagnostic(d: Diagnostic, io: Io): void {
  io.err.write(`${colorDiagnostic(formatDiagnostic(d), colorsFor(io.env, io.errIsTTY ?? io.isTTY))}\n`);
}

/** Prompt lint (src/prompt/lint.ts): printed as warnings, or with --strict an invalid manifest (exit 2). */
export async function lintOrThrow(manifest: ResolvedManifest, options: GlobalOptions, strict: boolean, io: Io): Promise<Diagnostic[]> {
  const { lintPromptsCached } = await import('../prompt/lint-cache.js');
  const lints = await lintPromptsCached(manifest);
  if (strict && lints.length > 0) throw manifestError(lints.map((d) => ({ ...d, severity: 'error' as const })));
  if (!options.quiet && !options.json) for (const d of lints) printDiagnostic(d, io);
  return lints;
}
