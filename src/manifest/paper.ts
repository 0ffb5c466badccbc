/** Paper sizes and the millimetre -> pixel arithmetic of print targets. */

export const MM_PER_INCH = 25.4;

/** ISO 216 A sizes, portrait, in millimetres (width x height). */
export const PAPER_SIZES_MM = {
  A0: [841, 1189],
  A1: [594, 841],
  A2: [420, 594],
  A3: [297, 420],
  A4: [210, 297],
  A5: [148, 210],
} as const satisfies Record<string, readonly [number, number]>;

export type PaperName = keyof typeof PAPER_SIZES_MM;
export type Orientation = 'portrait' | 'landscape';

export function isPaperName(name: string): name is PaperName {
  return Object.hasOwn(PAPER_SIZES_MM, name);
}

export function mmToPx(mm: number, dpi: number): number {
  return Math.round((mm / MM_PER_INCH) * dpi);
}

export interface PrintSize {
  widthMm: number;
  heightMm: number;
  orientation: Orientation;
  /** Trim size in pixels. */
  trimWidth: number;
  trimHeight: number;
  /** Output size in pixels: trim plus bleed on every side. */
  width: number;
  height: number;
}

/**
 * The pixel size of a print target. A sizes are portrait unless `orientation` says landscape.
 * Custom sizes keep the sides as given unless an explicit orientation contradicts them.
 * Bleed is added in millimetres before rounding, so 2 x bleed is never rounded twice.
 */
export function printSize(spec: {
  paper: PaperName | 'custom';
  widthMm?: number;
  heightMm?: number;
  orientation?: Orientation;
  dpi: number;
  bleedMm: number;
}): PrintSize {
  const [w, h] = spec.paper === 'custom' ? [spec.widthMm ?? 0, spec.heightMm ?? 0] : PAPER_SIZES_MM[spec.paper];
  const orientation: Orientation = spec.orientation ?? (spec.paper !== 'custom' || w <= h ? 'portrait' : 'landscape');
  const landscape = orientation === 'landscape';
  const widthMm = landscape ? Math.max(w, h) : Math.min(w, h);
  const heightMm = landscape ? Math.min(w, h) : Math.max(w, h);
  return {
    widthMm,
    heightMm,
    orientation,
    trimWidth: mmToPx(widthMm, spec.dpi),
    trimHeight: mmToPx(heightMm, spec.dpi),
    width: mmToPx(widthMm + 2 * spec.bleedMm, spec.dpi),
    height: mmToPx(heightMm + 2 * spec.bleedMm, spec.dpi),
  };
}
