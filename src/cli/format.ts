import { existsSync } from 'node:fs';
import path from 'node:path';
import { CONTACT_SHEET_NAME } from '../report/contact-sheet.js';

export function formatUsd(usd: number): string {
  return `$${usd.toFixed(usd > 0 && usd < 0.01 ? 4 : 2)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

/**
 * Where a build's results are, relative to the working directory: the deliverables folder, the
 * contact sheet (when one was written) and the JSON report, so the closing line says what to open.
 */
export function describeResults(reportFile: string, cwd = process.cwd()): string {
  const folder = path.dirname(reportFile);
  const show = (file: string) => {
    const rel = path.relative(cwd, file);
    return rel === '' ? '.' : rel.startsWith('..') && path.isAbsolute(file) ? file : rel;
  };
  const sheet = path.join(folder, CONTACT_SHEET_NAME);
  const parts = [`deliverables ${show(folder)}${path.sep}`, ...(existsSync(sheet) ? [`contact sheet ${show(sheet)}`] : []), `report ${show(reportFile)}`];
  return parts.join(', ');
}
