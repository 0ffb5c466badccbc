import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { PipelineReport } from './types.js';

export const JSON_REPORT_NAME = 'pipeline_report.json';

/**
 * Writes `out/pipeline_report.json` (pretty-printed, atomically) and returns its absolute path.
 *
 * @example
 *   const file = await writeJsonReport(report, '/proj/out'); // '/proj/out/pipeline_report.json'
 */
export async function writeJsonReport(report: PipelineReport, outputDir: string, text = formatJsonReport(report)): Promise<string> {
  const file = path.join(outputDir, JSON_REPORT_NAME);
  await writeFileAtomic(file, text);
  return file;
}

/** The text of `out/pipeline_report.json` (given to the contact sheet too, so it is made once). */
export function formatJsonReport(report: PipelineReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
