import os from 'node:os';

/**
 * Defaults the loader applies. schemas/pipeline.schema.json documents the same values in its
 * `default` keywords; test/manifest.test.ts checks the two agree.
 */
export const DEFAULTS = {
  output: 'out',
  generate: { provider: 'procedural', model: 'gpt-image-2', size: '1536x1024', quality: 'high' },
  upscale: { engine: 'lanczos', scale: 4 },
  limits: { generate: 5, gpu: 1 },
  print: { dpi: 300, bleed_mm: 0, format: 'tiff', preflight: 'error' },
  screen: { format: 'png' },
  fit: 'cover',
  intent: 'perceptual',
  jpegQuality: 90,
} as const;

/** Upscale engine that skips upscaling; not a registered upscaler. */
export const NO_UPSCALE = 'none';

export function defaultProcessLimit(): number {
  return os.availableParallelism();
}
