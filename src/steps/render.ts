import { profileRefFor, type ResolvedManifest, type ResolvedTarget } from '../manifest/types.js';
import { loadProfile, type LoadedProfile } from '../color/profiles.js';
import { preflightError, runPreflight } from '../color/preflight.js';
import { renderTarget, type RenderedTarget, type RenderOptions } from '../color/render.js';
import type { Provenance } from '../color/xmp.js';
import type { RawImage } from '../util/image.js';
import { GptError } from '../util/errors.js';

/** The profile a target names, loaded and checked. */
export async function targetProfile(target: ResolvedTarget, manifest: Pick<ResolvedManifest, 'profiles'>): Promise<LoadedProfile> {
  const ref = profileRefFor(manifest, target.color.profile);
  if (!ref) {
    throw new GptError('E_UNKNOWN_PROFILE', `target "${target.id}" uses profile "${target.color.profile}", which is not defined`, {
      hint: 'add it under profiles:, or use a built-in: srgb, cmyk',
    });
  }
  return loadProfile(target.color.profile, ref);
}

/** A print deliverable: TIFF or PDF, or any target sized in dpi. */
export function isPrintDeliverable(target: ResolvedTarget): boolean {
  return target.format === 'tiff' || target.format === 'pdf' || target.dpi !== undefined;
}

/** A rendered deliverable as the engine stores it: the file, its info, and the sRGB preview. */
export type RenderedStep = Omit<RenderedTarget, 'pixels' | 'ink'> & { warnings: string[] };

/**
 * Renders one deliverable, with its provenance in its metadata (src/color/xmp.ts), and preflights it. The preflight result rides in `info` (the engine
 * stores info as the action's metadata; the report's outputs[].preflight comes from it).
 *
 * A failed check with `preflight: error` (the default) fails the render: nothing is stored and
 * nothing reaches out/, because a file that fails preflight must not go to the print house; the
 * error names each failed check and its numbers. With `preflight: warn` the file is delivered
 * and the result, ok: false, is in the report along with a warning.
 */
export async function runRender(input: RawImage, target: ResolvedTarget, manifest: ResolvedManifest, provenance?: Provenance, options: RenderOptions = {}): Promise<RenderedStep> {
  const profile = await targetProfile(target, manifest);
  // The full-size converted pixels stay here: the engine keeps only the file and the preview.
  const { pixels, ink, ...rendered } = await renderTarget(input, target, profile, provenance, options);
  if (target.preflight === 'off' || !isPrintDeliverable(target)) return { ...rendered, warnings: [] };
  const result = runPreflight(
    {
      width: pixels.width,
      height: pixels.height,
      space: pixels.space,
      alpha: pixels.alpha,
      embedded: profile.bytes,
      // Counted by the render on the CMYK pixels exactly as they were encoded.
      ...(pixels.space === 'CMYK' ? (ink ? { ink } : pixels.data ? { cmyk: pixels.data } : {}) : {}),
      // The render step's input is the normalized image, at its post-upscale size.
      detail: { width: input.width, height: input.height },
    },
    target,
    profile,
  );
  if (!result.ok && target.preflight === 'error') throw preflightError(result, target);
  const warnings = result.checks.filter((c) => !c.ok).map((c) => `preflight ${c.name}: ${c.message}`);
  return { ...rendered, info: { ...rendered.info, preflight: result }, warnings };
}
