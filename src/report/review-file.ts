/** assets.review.json: the art director's approvals, read by the contact sheet and written by gpt4k review. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { ExitCode, GptError } from '../util/errors.js';

/**
 * assets.review.json: what the art director decided per asset, beside assets.lock.json and,
 * like it, a file a team commits. An approval is of particular deliverables: it records the
 * render keys it saw (one per target), so a later change to the prompt, the pick, the profile
 * or anything else upstream makes it stale instead of silently carrying over.
 *
 * The text is diff-friendly: assets sorted by id, fields in a fixed order, rewritten only when
 * something changed.
 */
export const REVIEW_FILE = 'assets.review.json';

export type ReviewDecision = 'approved' | 'changes-requested';

export interface ReviewEntry {
  decision: ReviewDecision;
  comment: string;
  /** ISO time of the decision. */
  at: string;
  /** Render key per target at the time of the decision. */
  renders: Record<string, string>;
}

export interface ReviewFile {
  version: 1;
  assets: Record<string, ReviewEntry>;
}

/** What the page, the report and `build --require-approved` say about one asset. */
export type ReviewStatus = 'approved' | 'changes-requested' | 'stale' | 'pending';

export const reviewFilePath = (root: string): string => path.join(root, REVIEW_FILE);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The project's review file; an empty one when there is none yet. A broken one is an error. */
export async function readReviewFile(root: string): Promise<ReviewFile> {
  let text: string;
  try {
    text = await readFile(reviewFilePath(root), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, assets: {} };
    throw err;
  }
  const bad = (why: string) =>
    new GptError('E_REVIEW_FILE', `${REVIEW_FILE} ${why}`, { hint: 'fix the file (a merge conflict?), or delete it to start the review over', exitCode: ExitCode.usage });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad(`is not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(data) || data.version !== 1 || !isRecord(data.assets)) throw bad('is not a version 1 review file ({ "version": 1, "assets": {...} })');
  const assets: Record<string, ReviewEntry> = {};
  for (const [id, entry] of Object.entries(data.assets)) {
    if (!isRecord(entry) || (entry.decision !== 'approved' && entry.decision !== 'changes-requested') || !isRecord(entry.renders)) {
      throw bad(`has a malformed entry for "${id}"`);
    }
    const renders = Object.fromEntries(Object.entries(entry.renders).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
    assets[id] = { decision: entry.decision, comment: typeof entry.comment === 'string' ? entry.comment : '', at: typeof entry.at === 'string' ? entry.at : '', renders };
  }
  return { version: 1, assets };
}

export function formatReviewFile(file: ReviewFile): string {
  const assets: Record<string, ReviewEntry> = {};
  for (const id of Object.keys(file.assets).sort()) {
    const e = file.assets[id] as ReviewEntry;
    const renders = Object.fromEntries(Object.keys(e.renders).sort().map((t) => [t, e.renders[t] as string]));
    assets[id] = { decision: e.decision, comment: e.comment, at: e.at, renders };
  }
  return `${JSON.stringify({ version: 1, assets }, null, 2)}\n`;
}

/** Records a decision on an asset (replacing the previous one) and writes the file. */
export async function recordDecision(root: string, assetId: string, entry: ReviewEntry): Promise<ReviewFile> {
  const file = await readReviewFile(root);
  file.assets[assetId] = entry;
  await writeFileAtomic(reviewFilePath(root), formatReviewFile(file));
  return file;
}

/**
 * An asset's status given the render keys of its deliverables now: a decision counts only for
 * the deliverables it was made on.
 */
export function reviewStatus(entry: ReviewEntry | undefined, renders: Record<string, string>): ReviewStatus {
  if (!entry) return 'pending';
  const targets = Object.keys(renders);
  const same = targets.length === Object.keys(entry.renders).length && targets.every((t) => entry.renders[t] === renders[t]);
  if (!same) return 'stale';
  return entry.decision;
}

/** The render key per target of a report asset (what an approval is of). */
export function rendersOf(asset: { steps: Array<{ kind: string; target?: string; key: string | null }> }): Record<string, string> {
  const renders: Record<string, string> = {};
  for (const step of asset.steps) if (step.kind === 'render' && step.target && step.key) renders[step.target] = step.key;
  return renders;
}

export const REVIEW_LABEL: Record<ReviewStatus, string> = {
  approved: 'Approved',
  'changes-requested': 'Changes requested',
  stale: 'Changed since review',
  pending: 'Not reviewed',
};
