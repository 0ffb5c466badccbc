/**
 * Screen target presets: `targets: { tv: { preset: uhd } }`. Sizes in pixels, in the preset's
 * own orientation; `orientation:` turns a preset the other way (dooh portrait: 3240x5760).
 * schemas/pipeline.schema.json lists the same names (test/structured-prompt.test.ts checks).
 */
export const TARGET_PRESETS = {
  /** Full HD, 1080p. */
  fhd: { width: 1920, height: 1080 },
  /** QHD, 1440p. */
  qhd: { width: 2560, height: 1440 },
  /** UHD-1 ("4K" TVs and monitors). */
  uhd: { width: 3840, height: 2160 },
  /** Consumer 4K: the same as uhd. Cinema 4K is dci-4k. */
  '4k': { width: 3840, height: 2160 },
  /** DCI 4K (cinema projection). */
  'dci-4k': { width: 4096, height: 2160 },
  /** 5K (27" retina displays). */
  '5k': { width: 5120, height: 2880 },
  /** UHD-2, 8K. */
  '8k': { width: 7680, height: 4320 },
  /**
   * Digital out-of-home (billboards, station screens): at least 3000 px on the short edge.
   * 16:9 at 3240 px short edge; portrait (orientation: portrait) is 3240x5760.
   */
  dooh: { width: 5760, height: 3240 },
  'instagram-square': { width: 1080, height: 1080 },
  'instagram-portrait': { width: 1080, height: 1350 },
  'instagram-story': { width: 1080, height: 1920 },
  /** Open Graph / link previews. */
  'og-image': { width: 1200, height: 630 },
} as const satisfies Record<string, { width: number; height: number }>;

export type PresetName = keyof typeof TARGET_PRESETS;

export function presetSize(name: PresetName, orientation: 'portrait' | 'landscape' | undefined): { width: number; height: number; orientation: 'portrait' | 'landscape' } {
  const { width, height } = TARGET_PRESETS[name];
  const own = width >= height ? 'landscape' : 'portrait';
  const wanted = orientation ?? own;
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (width === height) return { width, height, orientation: wanted };
  return wanted === 'landscape' ? { width: long, height: short, orientation: wanted } : { width: short, height: long, orientation: wanted };
}
