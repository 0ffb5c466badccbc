import type { UpscaleParams } from '../manifest/types.js';
import type { RawImage } from '../util/image.js';

export interface UpscaleContext {
  signal: AbortSignal;
  /** A private scratch folder inside .gpt4k/tmp, removed after the step. */
  tmpDir: string;
  /** Warnings (e.g. "fell back to lanczos") end up in the report. */
  warn: (message: string) => void;
  /** How far the engine is, 0..1, for engines that say (Real-ESRGAN prints percentages). */
  progress?: (fraction: number) => void;
}

export interface UpscaleResult {
  image: RawImage;
  /** What actually ran (engine after fallback, tile size, binary version). */
  meta: Record<string, unknown>;
}

/** An upscaling engine. */
export interface Upscaler {
  readonly name: string;
  /** Slow engines persist their output in the store; cheap ones are recomputed on demand. */
  readonly persist: boolean;
  /** Which scheduler pool runs it. */
  readonly pool: 'process' | 'gpu';
  /** What identifies the tool for cache keys: library or binary version, model file hashes. */
  fingerprint(params: UpscaleParams): Promise<Record<string, string>>;
  upscale(input: RawImage, params: UpscaleParams, context: UpscaleContext): Promise<UpscaleResult>;
}
