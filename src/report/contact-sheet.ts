/**
 * out/report.html: the contact sheet a person judges a batch by. It opens from disk (file://)
 * with no server and no network; thumbnails are small JPEGs under out/.thumbs/, remade only
 * when their deliverable changed, so a no-op build stays cheap. A thumbnail is the render's own
 * sRGB preview when the engine has one (options.previewFile), else made from the deliverable.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { readReviewFile, rendersOf, REVIEW_LABEL, reviewStatus, type ReviewFile } from './review-file.js';
import { writeFileAtomic } from '../util/atomic.js';
import { renderSheetAsset, renderSheetFoot, renderSheetHead, sheetOrder, type Preview, type SheetAsset, type SheetOutput } from './html-render.js';
import type { PipelineReport, ReportAsset, ReportOutput } from './types.js';
import { JSON_REPORT_NAME, stableReportDigest } from './write-report.js';

export const CONTACT_SHEET_NAME = 'report.html';
export const THUMBS_DIR = '.thumbs';
const THUMB_INDEX = 'index.json';
/** The digest of what the sheet on disk was made from (sheetKeyOf). */
const SHEET_KEY = 'sheet.key';
/** Bump when the page is made differently, so a sheet made by an older gpt4k is remade. */
const SHEET_VERSION = 2;
/** Long edge in pixels: sharp enough for a 2x screen at ~180 CSS px. */
const THUMB_MAX = 360;
const THUMB_QUALITY = 78;
/** Bump when thumbnails are made differently, so old ones are remade. */
const THUMB_RECIPE = `jpeg-${THUMB_MAX}-q${THUMB_QUALITY}-v1`;
const THUMB_CONCURRENCY = 2;
/** Cards made (thumbnails, HTML) and written together: the page is never whole in memory. */
const SHEET_SLICE = 64;

/** sharp (libvips) loads only when a thumbnail must be made: an unchanged sheet never needs it. */
const loadSharp = async () => (await import('sharp')).default;

export interface ContactSheetOptions {
  /** Project root, absolute. Output paths in the report are relative to it. */
  root: string;
  /** The deliverables folder (out/), absolute. The sheet is written here. */
  outputDir: string;
  /** Shown in the page title, e.g. "assets.pipeline.yaml". */
  manifestName?: string;
  /**
   * The sRGB JPEG preview the render made of a deliverable (src/color/render.ts), by the
   * output's project-relative path as the report gives it: a file to copy as the thumbnail
   * instead of decoding the deliverable (a 17 MP CMYK TIFF takes about a second). Undefined, or
   * a file that is gone, falls back to decoding.
   */
  previewFile?: (outputPath: string) => string | undefined;
  /**
   * The deliverable's size and mtime as the engine just checked or wrote it, by the output's
   * project-relative path: saves a stat per output. Undefined means: stat it.
   */
  deliverableStat?: (outputPath: string) => { size: number; mtimeMs: number } | undefined;
  /** The report's stable digest as writeJsonReport returned it: spares serializing the report again for the sheet's key. */
  reportDigest?: string;
}

interface ThumbIndexEntry {
  /** The deliverable, project-relative. */
  source: string;
  size: number;
  mtimeMs: number;
  width: number;
  height: number;
}

interface ThumbIndex {
  recipe: string;
  /** Keyed by the thumbnail's path under .thumbs/ (forward slashes). */
  entries: Record<string, ThumbIndexEntry>;
}

/**
 * Writes out/report.html and refreshes out/.thumbs/. Returns the sheet's path and how many
 * thumbnails it shows (placeholders for PDFs and missing files not counted).
 *
 * @example
 *   await writeContactSheet(report, { root: '/proj', outputDir: '/proj/out', manifestName: 'assets.pipeline.yaml' });
 */
export async function writeContactSheet(
  report: PipelineReport,
  options: ContactSheetOptions,
): Promise<{ file: string; thumbnails: number; unchanged?: boolean }> {
  const outputDir = path.resolve(options.outputDir);
  const root = path.resolve(options.root);
  const thumbsDir = path.join(outputDir, THUMBS_DIR);
  const file = path.join(outputDir, CONTACT_SHEET_NAME);

  const previous = await readThumbIndex(thumbsDir);
  // The same report and the same deliverables (by size and mtime) as the sheet on disk was made
  // from, but for the build's duration (a no-op build after a no-op build): the page would
  // differ only by that number, so it stays. (A thumbnail deleted by hand is then not remade
  // until its deliverable changes.)
  const delivered = new Map<string, { size: number; mtimeMs: number } | undefined>();
  for (const asset of report.assets) {
    for (const output of asset.outputs) delivered.set(output.path, options.deliverableStat?.(output.path) ?? fileStat(path.resolve(root, output.path)));
  }
  const keyFile = path.join(thumbsDir, SHEET_KEY);
  // The art director's decisions are on the page too; a broken review file is said by `gpt4k review`, not here.
  const reviews = await readReviewFile(root).catch((): ReviewFile => ({ version: 1, assets: {} }));
  const sheetKey = sheetKeyOf(report, options, delivered, reviews);
  if (previous.text !== '' && exists(file) && (await readFile(keyFile, 'utf8').catch(() => '')) === sheetKey) {
    return { file, thumbnails: Object.keys(previous.entries).length, unchanged: true };
  }

  const work: SheetWork = {
    root, outputDir, thumbsDir, previous, delivered, reviews,
    next: { recipe: THUMB_RECIPE, entries: {} },
    hasReviews: Object.keys(reviews.assets).length > 0,
    previewFile: options.previewFile,
  };
  const jsonReport = path.join(outputDir, JSON_REPORT_NAME);
  const model = {
    title: options.manifestName ? `gpt4k contact sheet: ${options.manifestName}` : 'gpt4k contact sheet',
    report,
    jsonReportHref: exists(jsonReport) ? relativeUrl(outputDir, jsonReport) : undefined,
  };
  let thumbnails = 0;
  // The page in the order it is read, a slice of cards at a time: their thumbnails made, their
  // HTML written, then dropped.
  async function* page(): AsyncGenerator<string> {
    yield renderSheetHead(model);
    const ordered = sheetOrder(report.assets);
    for (let start = 0; start < ordered.length; start += SHEET_SLICE) {
      const slice = ordered.slice(start, start + SHEET_SLICE).map((asset) => cardOf(work, asset));
      await runPool(slice.flatMap((s) => s.jobs), THUMB_CONCURRENCY);
      for (const { card } of slice) {
        thumbnails += card.outputs.filter((o) => o.preview.kind === 'image').length;
        yield renderSheetAsset(card);
      }
    }
    yield renderSheetFoot(model);
  }
  await writeFileAtomic(file, page());
  await saveThumbIndex(work);
  await writeFileAtomic(keyFile, sheetKey);
  return { file, thumbnails };
}

/** What one contact sheet's cards are made with. */
interface SheetWork {
  root: string;
  outputDir: string;
  thumbsDir: string;
  /** The thumbnail index as read, and the one being made. */
  previous: Readonly<ThumbIndex & { text: string }>;
  next: ThumbIndex;
  delivered: Map<string, { size: number; mtimeMs: number } | undefined>;
  reviews: ReviewFile;
  hasReviews: boolean;
  previewFile: ContactSheetOptions['previewFile'];
}

/** One asset's card, and the thumbnail jobs that fill in its previews. */
function cardOf(work: SheetWork, asset: ReportAsset): { card: SheetAsset; jobs: Array<() => Promise<void>> } {
  const jobs: Array<() => Promise<void>> = [];
  const outputs: SheetOutput[] = asset.outputs.map((output) => {
    const file = path.resolve(work.root, output.path);
    const entry: SheetOutput = {
      output,
      href: relativeUrl(work.outputDir, file),
      label: toPosix(path.relative(work.outputDir, file)),
      preview: { kind: 'placeholder', label: 'No preview' },
    };
    const thumbKey = `${safeSegment(asset.id)}/${safeSegment(output.target)}.jpg`;
    jobs.push(async () => {
      const known = work.delivered.get(output.path);
      const result = await previewFor(output, file, work.thumbsDir, thumbKey, work.previous, work.next, work.previewFile?.(output.path), known);
      entry.preview = result.preview;
      if (!result.exists) entry.href = null;
    });
    return entry;
  });
  const entry = work.reviews.assets[asset.id];
  if (!entry && !work.hasReviews) return { card: { asset, outputs }, jobs };
  const status = reviewStatus(entry, rendersOf(asset));
  return { card: { asset, outputs, review: { status, label: REVIEW_LABEL[status], comment: entry?.comment ?? '' } }, jobs };
}

/** Writes .thumbs/index.json when it changed, and removes thumbnails no card uses any more. */
async function saveThumbIndex({ thumbsDir, previous, next }: SheetWork): Promise<void> {
  // Sorted: thumbnails finish in any order, and an unchanged index should read the same.
  const sortedEntries = Object.fromEntries(Object.entries(next.entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const indexText = `${JSON.stringify({ recipe: next.recipe, entries: sortedEntries }, null, 2)}\n`;
  if (indexText === previous.text) return;
  await writeFileAtomic(path.join(thumbsDir, THUMB_INDEX), indexText);
  // The same thumbnails as last time (the same keys with one remade: a watch rebuild of one
  // asset) leave nothing to remove, so the folder (a sub-folder per asset: 1,000 reads for 1,000
  // assets) is not walked. A write cut short left only a temp file, which writeFileAtomic or the
  // abandoned-build sweep removes.
  if (!sameThumbnails(previous, next)) await removeStaleThumbnails(thumbsDir, new Set(Object.keys(next.entries)));
}

/** What the page is made from, but the build's duration: the report, the title, the recipes. */
function sheetKeyOf(report: PipelineReport, options: ContactSheetOptions, delivered: Map<string, { size: number; mtimeMs: number } | undefined>, reviews: ReviewFile): string {
  // The report less its duration: the summary's durationMs is the report's only one.
  const hash = createHash('sha256').update(JSON.stringify([SHEET_VERSION, THUMB_RECIPE, options.manifestName ?? null, reviews]));
  for (const [file, info] of delivered) hash.update(JSON.stringify([file, info?.size ?? null, info?.mtimeMs ?? null]));
  return hash.update(options.reportDigest ?? stableReportDigest(report)).digest('hex');
}

/** The preview for one output, reusing its thumbnail when the deliverable has not changed. */
async function previewFor(
  output: ReportOutput,
  file: string,
  thumbsDir: string,
  thumbKey: string,
  previous: Readonly<ThumbIndex>,
  next: ThumbIndex,
  previewFile: string | undefined,
  /** The deliverable's stat, taken once for the sheet's key; undefined when it is missing. */
  info: { size: number; mtimeMs: number } | undefined,
): Promise<{ preview: Preview; exists: boolean }> {
  if (!info) {
    return { preview: { kind: 'placeholder', label: 'Missing', detail: 'rebuild to restore it' }, exists: false };
  }
  const pdf = isPdf(output, file);
  if (pdf && !previewFile) {
    return { preview: { kind: 'placeholder', label: 'PDF', detail: 'open to view' }, exists: true };
  }

  const thumbFile = path.join(thumbsDir, ...thumbKey.split('/'));
  const src = `${THUMBS_DIR}/${thumbKey.split('/').map(encodeURIComponent).join('/')}`;
  const source = toPosix(output.path);
  const old = previous.recipe === THUMB_RECIPE ? previous.entries[thumbKey] : undefined;
  if (
    old &&
    old.source === source &&
    old.size === info.size &&
    old.mtimeMs === info.mtimeMs &&
    exists(thumbFile)
  ) {
    next.entries[thumbKey] = old;
    return { preview: { kind: 'image', src, width: old.width, height: old.height }, exists: true };
  }

  // The render's own preview: copied, not remade.
  const copied = previewFile ? await copyPreview(previewFile, thumbFile) : undefined;
  if (copied) {
    next.entries[thumbKey] = { source, size: info.size, mtimeMs: info.mtimeMs, ...copied };
    return { preview: { kind: 'image', src, ...copied }, exists: true };
  }
  if (pdf) {
    return { preview: { kind: 'placeholder', label: 'PDF', detail: 'open to view' }, exists: true };
  }

  try {
    const sharp = await loadSharp();
    const { data, info: out } = await sharp(file, { failOn: 'none' })
      .resize(THUMB_MAX, THUMB_MAX, { fit: 'inside', withoutEnlargement: true })
      // CMYK TIFFs and wide-gamut PNGs: browsers want sRGB; JPEG has no alpha, so flatten on white.
      .toColourspace('srgb')
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: THUMB_QUALITY, mozjpeg: true })
      .toBuffer({ resolveWithObject: true });
    await writeFileAtomic(thumbFile, data);
    next.entries[thumbKey] = { source, size: info.size, mtimeMs: info.mtimeMs, width: out.width, height: out.height };
    return { preview: { kind: 'image', src, width: out.width, height: out.height }, exists: true };
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { preview: { kind: 'placeholder', label: 'No preview', detail: reason }, exists: true };
  }
}

/** Copies a render's preview as the thumbnail; undefined when it is missing or not a small JPEG. */
async function copyPreview(previewFile: string, thumbFile: string): Promise<{ width: number; height: number } | undefined> {
  try {
    const bytes = await readFile(previewFile);
    const meta = await (await loadSharp())(bytes).metadata();
    if (meta.format !== 'jpeg' || !meta.width || !meta.height || Math.max(meta.width, meta.height) > THUMB_MAX) return undefined;
    await writeFileAtomic(thumbFile, bytes);
    return { width: meta.width, height: meta.height };
  } catch {
    return undefined;
  }
}

function isPdf(output: ReportOutput, file: string): boolean {
  return output.format.toLowerCase() === 'pdf' || path.extname(file).toLowerCase() === '.pdf';
}

/** The index as last written, with its text, so an unchanged one is not rewritten. */
async function readThumbIndex(thumbsDir: string): Promise<ThumbIndex & { text: string }> {
  try {
    const text = await readFile(path.join(thumbsDir, THUMB_INDEX), 'utf8');
    const parsed: unknown = JSON.parse(text);
    if (
      parsed &&
      typeof parsed === 'object' &&
      typeof (parsed as ThumbIndex).recipe === 'string' &&
      typeof (parsed as ThumbIndex).entries === 'object' &&
      (parsed as ThumbIndex).entries !== null
    ) {
      return { ...(parsed as ThumbIndex), text };
    }
  } catch {
    // No index yet, or a damaged one: every thumbnail is remade.
  }
  return { recipe: '', entries: {}, text: '' };
}

/** True when `next` names exactly the thumbnails a readable index of the same recipe named before. */
function sameThumbnails(previous: Readonly<ThumbIndex & { text: string }>, next: Readonly<ThumbIndex>): boolean {
  if (previous.text === '' || previous.recipe !== next.recipe) return false;
  const before = Object.keys(previous.entries);
  return before.length === Object.keys(next.entries).length && before.every((key) => Object.hasOwn(next.entries, key));
}

/** Deletes thumbnails of outputs no longer in the report (and leftovers of killed writes). */
async function removeStaleThumbnails(thumbsDir: string, keep: Set<string>): Promise<void> {
  const walk = async (dir: string, rel: string): Promise<boolean> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    let empty = true;
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      const child = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (await walk(child, childRel)) await rmdir(child).catch(() => undefined);
        else empty = false;
      } else if (childRel === THUMB_INDEX || childRel === SHEET_KEY || keep.has(childRel)) {
        empty = false;
      } else {
        await rm(child, { force: true });
      }
    }
    return empty;
  };
  await walk(thumbsDir, '');
}

async function runPool(jobs: Array<() => Promise<void>>, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++];
      if (job) await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}

/** A file or folder name that cannot escape .thumbs/ or collide with another id's sanitized form. */
function safeSegment(id: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(id) && id !== THUMB_INDEX) return id;
  const hash = createHash('sha1').update(id).digest('hex').slice(0, 8);
  return `${id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}~${hash}`;
}

/** A relative URL from `fromDir` to `file`, each segment percent-encoded. */
function relativeUrl(fromDir: string, file: string): string {
  return toPosix(path.relative(fromDir, file))
    .split('/')
    .map((seg) => (seg === '..' || seg === '.' ? seg : encodeURIComponent(seg)))
    .join('/');
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

function fileStat(file: string): { size: number; mtimeMs: number } | undefined {
  const info = statSync(file, { throwIfNoEntry: false });
  return info?.isFile() ? info : undefined;
}

function exists(file: string): boolean {
  return statSync(file, { throwIfNoEntry: false }) !== undefined;
}

