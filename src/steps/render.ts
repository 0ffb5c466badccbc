import { profileRefFor, type ResolvedManifest, type ResolvedTarget } from '../manifest/types.js';
import { loadProfile } from '../color/profiles.js';
import { renderTarget } from '../color/render.js';
import type { RawImage } from '../util/image.js';
import { GptError } from '../util/errors.js';

export async function runRender(input: RawImage, target: ResolvedTarget, manifest: ResolvedManifest) {
  const ref = profileRefFor(manifest, target.color.profile);
  if (!ref) {
    throw new GptError('E_UNKNOWN_PROFILE', `target "${target.id}" uses profile "${target.color.profile}", which is not defined`, {
      hint: 'add it under profiles:, or use a built-in: srgb, cmyk',
    });
  }
  const profile = await loadProfile(target.color.profile, ref);
  return renderTarget(input, target, profile);
}
