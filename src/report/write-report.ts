import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { prettyJsonChunks } from '../util/json-chunks.js';
import type { PipelineReport } from './types.js';

export const JSON_REPORT_NAME = 'pipeline_report.json';

/** The summary's duration: the one part of a report that differs between two no-op builds. */
const DURATION = /"durationMs": [0-9.e+-]+/;

/**
 * The text of `out/pipeline_report.json` (pretty-printed, newline-terminated) in parts, an asset
 * at a time. `stable`, when given, is fed the same text less the build's duration: what the
 * contact sheet's key is made from.
 */
export function* jsonReportChunks(report: PipelineReport, stable?: (text: string) => void): Generator<string> {
  for (const part of prettyJsonChunks(report as unknown as Record<string, unknown>)) {
    stable?.(part.key === 'summary' ? part.text.replace(DURATION, '"durationMs": 0') : part.text);
    yield part.text;
  }
  stable?.('\n');
  yield '\n';
}

/** The digest of a report's text less the build's duration (the contact sheet's key), without writing it. */
export function stableReportDigest(report: PipelineReport): string {
  const hash = createHash('sha256');
  for (const _ of jsonReportChunks(report, (text) => hash.update(text)));
  return hash.digest('hex');
}

/**
 * Writes `out/pipeline_report.json` (pretty-printed, atomically, an asset at a time) and returns
 * its absolute path and its stable digest (stableReportDigest).
 *
 * @example
 *   const { file } = await writeJsonReport(report, '/proj/out'); // '/proj/out/pipeline_report.json'
 */
export async function writeJsonReport(report: PipelineReport, outputDir: string): Promise<{ file: string; stableDigest: string }> {
  const file = path.join(outputDir, JSON_REPORT_NAME);
  const hash = createHash('sha256');
  await writeFileAtomic(file, jsonReportChunks(report, (text) => hash.update(text)));
  return { file, stableDigest: hash.digest('hex') };
}
