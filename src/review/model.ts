import path from 'node:path';
import { LocalStore } from '../cache/store.js';
import type { LockFile } from '../cache/lockfile.js';
import type { ResolvedManifest, ResolvedTarget } from '../manifest/types.js';
import type { PipelineReport, ReportOutput } from '../report/types.js';
import { rendersOf, reviewStatus, type ReviewFile } from '../report/review-file.js';
import type { Rect, ReviewAsset, ReviewOutput } from './page.js';
import type { ProofInfo } from './tiles.js';

/** The safe area: type and logos stay this far inside the trim (print) ... */
const SAFE_MM = 5;
/** ... or this share of each side inside the frame (screens). */
const SAFE_SCREEN = 0.05;

/** Trim and safe boxes of a deliverable, in its own pixels (the bleed is what is outside the trim). */
export function geometryOf(output: Pick<ReportOutput, 'width' | 'height' | 'dpi'>, target: ResolvedTarget | undefined): { trim: Rect; safe: Rect; bleedMm: number } {
  const trimWidth = Math.min(output.width, target?.trimWidth ?? output.width);
  const trimHeight = Math.min(output.height, target?.trimHeight ?? output.height);
  const trim = { x: Math.round((output.width - trimWidth) / 2), y: Math.round((output.height - trimHeight) / 2), width: trimWidth, height: trimHeight };
  const inset = (side: 'x' | 'y') =>
    output.dpi && target?.widthMm !== undefined ? Math.round((SAFE_MM / 25.4) * output.dpi) : Math.round((side === 'x' ? trimWidth : trimHeight) * SAFE_SCREEN);
  const ix = inset('x');
  const iy = inset('y');
  const safe = { x: trim.x + ix, y: trim.y + iy, width: Math.max(0, trimWidth - 2 * ix), height: Math.max(0, trimHeight - 2 * iy) };
  return { trim, safe, bleedMm: target?.bleedMm ?? 0 };
}

/** The image a deliverable was rendered from: the candidate in use, or the `source:` file. */
export function sourceImageOf(manifest: ResolvedManifest, lock: LockFile | undefined, assetId: string): string | undefined {
  const asset = manifest.assets.find((a) => a.id === assetId);
  if (asset?.source) return asset.source;
  const hash = lock?.assets[assetId]?.image;
  return hash ? new LocalStore(path.join(manifest.root, '.gpt4k')).objectPath(hash) : undefined;
}

/** A candidate's image file (k from 1), when the lock file lists it. */
export function candidateImageOf(manifest: ResolvedManifest, lock: LockFile | undefined, assetId: string, k: number): string | undefined {
  const entry = lock?.assets[assetId];
  const hash = entry?.candidates?.[k - 1] ?? (k === 1 && !entry?.candidates ? entry?.image : undefined);
  return hash ? new LocalStore(path.join(manifest.root, '.gpt4k')).objectPath(hash) : undefined;
}

/** The resolution preflight measured (detail over print size), when it ran. */
function effectivePpi(output: ReportOutput): number | undefined {
  const value = output.preflight?.checks.find((c) => c.name === 'resolution')?.value;
  return typeof value === 'number' ? value : undefined;
}

export interface ModelInput {
  manifest: ResolvedManifest;
  report: PipelineReport;
  lock: LockFile | undefined;
  reviews: ReviewFile;
  /** Proof per output path, or why there is none. */
  proofs: Map<string, ProofInfo | string>;
  previousPrompts: Map<string, string>;
}

/** The page's assets, in report order. */
export function reviewAssets(input: ModelInput): ReviewAsset[] {
  const { manifest, report, lock, reviews, proofs } = input;
  return report.assets.map((asset): ReviewAsset => {
    const outputs = asset.outputs.map((output): ReviewOutput => {
      const proof = proofs.get(output.path);
      const rel = path.relative(manifest.outputDir, path.resolve(manifest.root, output.path)).split(path.sep);
      const ppi = effectivePpi(output);
      return {
        output,
        href: `/files/${rel.map(encodeURIComponent).join('/')}`,
        ...(typeof proof === 'object' ? { proof } : { proofNote: proof ?? 'Proof not made yet' }),
        ...geometryOf(output, manifest.targets.get(output.target)),
        ...(ppi !== undefined ? { ppi } : {}),
      };
    });
    const entry = reviews.assets[asset.id];
    const locked = lock?.assets[asset.id];
    const previous = input.previousPrompts.get(asset.id);
    return {
      asset,
      outputs,
      ...(previous !== undefined && previous !== asset.prompt ? { previousPrompt: previous } : {}),
      review: { status: reviewStatus(entry, rendersOf(asset)), ...(entry ? { entry } : {}) },
      ...(locked?.candidates && locked.candidates.length > 1 ? { candidates: { count: locked.candidates.length, pick: locked.pick ?? 1 } } : {}),
    };
  });
}
