import type { Diagnostic } from '../util/errors.js';
import type { Located } from './positions.js';

/** Collects the diagnostics of one load, so every check can report and carry on. */
export class Diagnostics {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];

  error(code: string, message: string, located?: Located, hint?: string): void {
    this.errors.push(make(code, message, located, hint, 'error'));
  }

  warn(code: string, message: string, located?: Located, hint?: string): void {
    this.warnings.push(make(code, message, located, hint, 'warning'));
  }
}

function make(code: string, message: string, located: Located | undefined, hint: string | undefined, severity: 'error' | 'warning'): Diagnostic {
  const d: Diagnostic = { code, message, severity };
  if (located) {
    d.at = located.at;
    d.sourceLine = located.sourceLine;
  }
  if (hint !== undefined) d.hint = hint;
  return d;
}

/** Sorted by file (in the order given: manifest first, then includes), line and column; duplicates dropped. */
export function sortDiagnostics(diagnostics: Diagnostic[], fileOrder: string[]): Diagnostic[] {
  const rank = (d: Diagnostic): number => {
    const i = d.at ? fileOrder.indexOf(d.at.file) : -1;
    return i === -1 ? (d.at ? fileOrder.length : -1) : i;
  };
  // A catalog's rows share the include's settings: one bad setting is one diagnostic, not one per row.
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = `${d.code}|${d.at?.file}:${d.at?.line}:${d.at?.col}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) => rank(a) - rank(b) || (a.at?.line ?? 0) - (b.at?.line ?? 0) || (a.at?.col ?? 0) - (b.at?.col ?? 0),
  );
}
