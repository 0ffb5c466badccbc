/** "Did you mean ...?" for misspelled keys, target names, providers and engines. */

/** Levenshtein distance, with a transposition counting as one edit ("tagrets" -> "targets"). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The one candidate closest to `value`, if it is close enough to be a plausible typo: case
 * differences are free, and at most a third of the word (at least 2 edits) may differ.
 */
export function closest(value: string, candidates: Iterable<string>): string | undefined {
  const needle = value.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  let tied = false;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (best && distance === best.distance) tied = true;
    if (!best || distance < best.distance) {
      best = { candidate, distance };
      tied = false;
    }
  }
  // A tie ("A7" is as close to A0 as to A5) is no suggestion: the caller lists the choices.
  if (!best || tied) return undefined;
  const allowed = Math.max(2, Math.floor(Math.max(value.length, best.candidate.length) / 3));
  return best.distance <= allowed ? best.candidate : undefined;
}

/** A hint for a Diagnostic: `did you mean "x"?`, else the list of valid choices when short. */
export function didYouMean(value: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const match = closest(value, list);
  if (match !== undefined) return `did you mean "${match}"?`;
  if (list.length > 0 && list.length <= 8) return `expected one of: ${list.map((c) => `"${c}"`).join(', ')}`;
  return undefined;
}
