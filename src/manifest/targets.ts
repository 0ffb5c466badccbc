import { BUILTIN_PROFILES, DEFAULT_PRESS_PROFILE, type ColorSpec, type OutputFormat, type ProfileRef, type ResolvedTarget } from './types.js';
import type { Diagnostics } from './context.js';
import { DEFAULTS } from './defaults.js';
import { printSize } from './paper.js';
import type { Located, SourceFile } from './positions.js';
import { presetSize, type PresetName } from './presets.js';
import { isPresetTarget, isPrintTarget, type RawColor, type RawPresetTarget, type RawPrintTarget, type RawScreenTarget, type RawTarget } from './raw.js';
import { quote } from './schema.js';
import { didYouMean } from './suggest.js';

export function resolveTargets(
  raw: Record<string, RawTarget>,
  profiles: Map<string, ProfileRef>,
  source: SourceFile,
  diagnostics: Diagnostics,
): Map<string, ResolvedTarget> {
  const targets = new Map<string, ResolvedTarget>();
  for (const [id, target] of Object.entries(raw)) {
    const path = ['targets', id];
    const resolved = isPrintTarget(target)
      ? resolvePrint(id, target, source, diagnostics)
      : isPresetTarget(target)
        ? resolvePreset(id, target)
        : resolveScreen(id, target);
    resolved.color = resolveColor(target.color, resolved.format, [...path, 'color'], profiles, source, diagnostics);
    resolved.at = source.keyAt(path).at;
    checkPixelSize(resolved, source.keyAt(path), diagnostics);
    targets.set(id, resolved);
  }
  return targets;
}

/** Largest side and area a target may have: beyond them libvips runs out of memory or TIFF/JPEG cannot hold it. */
export const MAX_TARGET_SIDE = 65_000;
export const MAX_TARGET_PIXELS = 600_000_000;

/** An absurd size (a typo'd width, a bleed in metres) fails here with its position, not as an out-of-memory crash in a render. */
function checkPixelSize(target: ResolvedTarget, at: Located, diagnostics: Diagnostics): void {
  if (target.width <= MAX_TARGET_SIDE && target.height <= MAX_TARGET_SIDE && target.width * target.height <= MAX_TARGET_PIXELS) return;
  diagnostics.error(
    'E_TARGET_TOO_LARGE',
    `target ${quote(target.id)} would be ${target.width}x${target.height} pixels (bleed included), over the limit of ${MAX_TARGET_SIDE} px a side and ${MAX_TARGET_PIXELS / 1_000_000} megapixels`,
    at,
    'check the width and height, the paper, dpi and bleed_mm (in millimetres)',
  );
}

function resolvePrint(id: string, t: RawPrintTarget, source: SourceFile, diagnostics: Diagnostics): ResolvedTarget {
  const path = ['targets', id];
  if (t.paper === 'custom') {
    for (const field of ['width_mm', 'height_mm'] as const) {
      if (t[field] === undefined) {
        diagnostics.error('E_MISSING_FIELD', `target ${quote(id)} has paper "custom" but no ${field}`, source.valueAt(path), `add ${field} (millimetres)`);
      }
    }
  } else {
    for (const field of ['width_mm', 'height_mm'] as const) {
      if (t[field] !== undefined) {
        diagnostics.error(
          'E_CONFLICT',
          `target ${quote(id)}: ${field} ${t[field]} only applies to paper "custom", not ${quote(t.paper)}`,
          source.keyAt([...path, field]),
          'remove it, or set paper: custom',
        );
      }
    }
  }
  const dpi = t.dpi ?? DEFAULTS.print.dpi;
  const bleedMm = t.bleed_mm ?? DEFAULTS.print.bleed_mm;
  const size = printSize({ paper: t.paper, widthMm: t.width_mm ?? 1, heightMm: t.height_mm ?? 1, orientation: t.orientation, dpi, bleedMm });
  const format = t.format ?? DEFAULTS.print.format;
  const target: ResolvedTarget = {
    id,
    width: size.width,
    height: size.height,
    trimWidth: size.trimWidth,
    trimHeight: size.trimHeight,
    dpi,
    bleedMm,
    paper: t.paper,
    orientation: size.orientation,
    widthMm: size.widthMm,
    heightMm: size.heightMm,
    fit: t.fit ?? DEFAULTS.fit,
    format,
    color: placeholderColor,
    preflight: t.preflight ?? DEFAULTS.print.preflight,
  };
  if (format === 'jpeg') target.quality = t.quality ?? DEFAULTS.jpegQuality;
  if (t.minDpi !== undefined) target.minDpi = t.minDpi;
  if (t.inkLimit !== undefined) target.inkLimit = t.inkLimit;
  return target;
}

function resolveScreen(id: string, t: RawScreenTarget): ResolvedTarget {
  const format = t.format ?? DEFAULTS.screen.format;
  const target: ResolvedTarget = {
    id,
    width: t.width,
    height: t.height,
    trimWidth: t.width,
    trimHeight: t.height,
    bleedMm: 0,
    fit: t.fit ?? DEFAULTS.fit,
    format,
    color: placeholderColor,
    // Preflight checks are print checks (ink limit, effective dpi).
    preflight: 'off',
  };
  if (format === 'jpeg') target.quality = t.quality ?? DEFAULTS.jpegQuality;
  return target;
}

/** A preset is a screen target of the preset's size (the schema has checked the name). */
function resolvePreset(id: string, t: RawPresetTarget): ResolvedTarget {
  const size = presetSize(t.preset as PresetName, t.orientation);
  const target = resolveScreen(id, { ...t, width: size.width, height: size.height });
  target.preset = t.preset;
  target.orientation = size.orientation;
  return target;
}

const placeholderColor: ColorSpec = { profile: 'srgb', intent: 'perceptual', bpc: false };

function resolveColor(
  color: RawColor | undefined,
  format: OutputFormat,
  path: string[],
  profiles: Map<string, ProfileRef>,
  source: SourceFile,
  diagnostics: Diagnostics,
): ColorSpec {
  const profile = color?.profile ?? (format === 'tiff' || format === 'pdf' ? DEFAULT_PRESS_PROFILE : 'srgb');
  if (!profiles.has(profile)) {
    diagnostics.error(
      'E_UNKNOWN_PROFILE',
      `unknown profile ${quote(profile)} in "${path.join('.')}.profile"`,
      source.valueAt([...path, 'profile']),
      didYouMean(profile, [...profiles.keys()]) ?? `declare it under profiles:, or use a built-in (${BUILTIN_PROFILES.join(', ')})`,
    );
  }
  const intent = color?.intent ?? DEFAULTS.intent;
  return { profile, intent, bpc: color?.bpc ?? intent === 'relative' };
}
