import fs from 'node:fs/promises';
import { execa } from 'execa';
import { ExitCode, GptError } from '../util/errors.js';

/**
 * One run of the Real-ESRGAN ncnn binary, and what its failure means. The binary reports most
 * failures on stderr and often still exits 0, so the outcome is read from stderr and from
 * whether the output file exists, not from the exit code alone.
 */
export type RunOutcome =
  | { kind: 'ok'; ms: number }
  /** Vulkan could not allocate the tile's buffers: a smaller tile may fit. */
  | { kind: 'out-of-memory'; detail: string }
  /** No Vulkan loader, driver or device: no tile size will help. */
  | { kind: 'no-vulkan'; detail: string };

export interface RunSpec {
  binary: string;
  input: string;
  output: string;
  modelsDir: string;
  model: string;
  modelScale: number;
  /** 0: the binary picks a tile size from the device's memory. */
  tile: number;
  hasModelScaleFlag: boolean;
  env: Record<string, string | undefined>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Folder the binary runs in (upscayl-bin looks for relative model paths beside itself first). */
  cwd: string;
  /** Called with each percentage the binary prints on stderr, as 0..1. */
  onProgress?: (fraction: number) => void;
}

const PERCENT = /(\d+(?:\.\d+)?)%/g;

/** The last percentage in a chunk of the binary's stderr ("12.50%" lines), as 0..1. */
export function progressIn(chunk: string): number | undefined {
  let last: number | undefined;
  for (const m of chunk.matchAll(PERCENT)) last = Number(m[1]);
  return last === undefined || !Number.isFinite(last) ? undefined : Math.min(1, Math.max(0, last / 100));
}

const OUT_OF_MEMORY =
  /vkAllocateMemory failed|vkAllocateMemory error|out of (device |host )?memory|VK_ERROR_OUT_OF_(DEVICE|HOST)_MEMORY|vkQueueSubmit failed|vkMapMemory failed|std::bad_alloc/i;
const NO_VULKAN =
  /vkCreateInstance failed|invalid gpu device|vkEnumeratePhysicalDevices failed|no vulkan device|libvulkan\.so[.\d]*: cannot open|vulkan-1\.dll|libvulkan\.dylib|libMoltenVK|ErrorIncompatibleDriver|VK_ERROR_INCOMPATIBLE_DRIVER|VK_ERROR_INITIALIZATION_FAILED/i;

export const NO_VULKAN_HINT =
  'install a Vulkan loader and driver: on Debian/Ubuntu `apt-get install libvulkan1 mesa-vulkan-drivers` ' +
  '(Mesa: real GPUs plus the lavapipe CPU driver), or your GPU vendor\'s driver (NVIDIA, AMD; NVIDIA\'s Vulkan driver also ' +
  'needs libglvnd: `apt-get install libglvnd0 libglx0 libegl1`); check with ' +
  '`vulkaninfo --summary`. Or set `upscale.fallback: lanczos` to upscale with Lanczos when Vulkan is missing';

export function buildArgs(spec: Pick<RunSpec, 'input' | 'output' | 'modelsDir' | 'model' | 'modelScale' | 'tile' | 'hasModelScaleFlag'>): string[] {
  const args = ['-i', spec.input, '-o', spec.output, '-m', spec.modelsDir, '-n', spec.model];
  // Always run the model at its own scale: `-s 2` with an x4 model tiles a mosaic in the
  // upstream binary. Other scales are reached with Lanczos afterwards.
  args.push('-s', String(spec.modelScale));
  if (spec.hasModelScaleFlag) args.push('-z', String(spec.modelScale));
  args.push('-t', String(spec.tile), '-f', 'png');
  return args;
}

/** The last lines of a process's stderr, minus the progress percentages. */
export function stderrTail(stderr: string, lines = 12): string {
  return stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^\s*\d+(\.\d+)?%\s*$/.test(l))
    .slice(-lines)
    .join('\n');
}

function describe(command: string, result: { exitCode?: number | undefined; signal?: string | undefined }, stderr: string): string {
  const status = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode ?? 'unknown'}`;
  const tail = stderrTail(stderr);
  return `  command: ${command}\n  ${status}${tail ? `\n  stderr:\n${tail.replace(/^/gm, '    ')}` : ''}`;
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).size > 0;
  } catch {
    return false;
  }
}

/** Runs the binary once. Failures that a caller can act on are outcomes; the rest throw a GptError. */
export async function runRealesrgan(spec: RunSpec): Promise<RunOutcome> {
  await fs.rm(spec.output, { force: true });
  const started = performance.now();
  const child = execa(spec.binary, buildArgs(spec), {
    env: spec.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: spec.timeoutMs,
    cancelSignal: spec.signal,
    forceKillAfterDelay: 2_000,
    cwd: spec.cwd,
    maxBuffer: 16 * 1024 * 1024,
  });
  const { onProgress } = spec;
  if (onProgress) {
    child.stderr?.on('data', (chunk: Buffer) => {
      const fraction = progressIn(chunk.toString());
      if (fraction !== undefined) onProgress(fraction);
    });
  }
  const result = await child;
  const stderr = `${String(result.stderr ?? '')}\n${String(result.stdout ?? '')}`;
  const details = describe(result.command, result, stderr);
  if (result.isCanceled || spec.signal.aborted) {
    throw new GptError('E_CANCELLED', 'realesrgan cancelled', { exitCode: ExitCode.interrupted });
  }
  if (result.timedOut) {
    throw new GptError('E_REALESRGAN_TIMEOUT', `realesrgan timed out after ${Math.round(spec.timeoutMs / 1000)} s and was killed\n${details}`, {
      hint: 'software Vulkan (lavapipe) is very slow: use a GPU, the realesrgan-x4fast model, a smaller input, or engine: lanczos',
    });
  }
  const spawnError = (result as { code?: string }).code;
  if (spawnError === 'ENOENT' || spawnError === 'EACCES' || spawnError === 'ENOEXEC') {
    throw new GptError('E_REALESRGAN_NOT_FOUND', `realesrgan binary could not be started (${spawnError}): ${spec.binary}`, {
      hint: 'check the file is an executable for this platform and architecture; set GPT4K_REALESRGAN_BIN or `upscale.binary:` to another one',
    });
  }
  if (NO_VULKAN.test(stderr) || /error while loading shared libraries: libvulkan/i.test(stderr)) {
    return { kind: 'no-vulkan', detail: firstMatchingLine(stderr, NO_VULKAN) ?? 'no Vulkan device' };
  }
  if (OUT_OF_MEMORY.test(stderr)) {
    return { kind: 'out-of-memory', detail: firstMatchingLine(stderr, OUT_OF_MEMORY) ?? 'out of GPU memory' };
  }
  if (result.failed || !(await exists(spec.output))) {
    const what = result.failed ? 'failed' : 'exited without writing its output';
    throw new GptError('E_REALESRGAN_FAILED', `realesrgan ${what}\n${details}`, {
      hint: 'the stderr above is the binary\'s own; run the command by hand to reproduce',
    });
  }
  return { kind: 'ok', ms: performance.now() - started };
}

function firstMatchingLine(text: string, re: RegExp): string | undefined {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => re.test(l));
}

/** Tile sizes to try, largest first: the asked one, then halves down to the binary's minimum of 32. */
export function tileLadder(first: number, floor = 32): number[] {
  const ladder = [first];
  let next = first === 0 ? 256 : Math.floor(first / 2);
  while (next >= floor) {
    ladder.push(next);
    next = Math.floor(next / 2);
  }
  const last = ladder[ladder.length - 1] ?? floor;
  if (last > floor && first !== floor) ladder.push(floor);
  return ladder;
}
