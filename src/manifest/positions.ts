import type { SourcePosition } from '../util/errors.js';

/** A path into parsed data, as ajv's instancePath splits it: keys and sequence indexes. */
export type DataPath = ReadonlyArray<string | number>;

/**
 * One parsed manifest or include file: its data as plain JS, plus what it takes to turn a
 * data path back into `file:line:col` (the position tree and the line starts).
 */
export interface SourceFile {
  file: string;
  text: string;
  data: unknown;
  /** Position of the value at `path`; for a path the file lacks, of its nearest ancestor. */
  valueAt(path: DataPath): Located;
  /** Position of the key naming `path`'s last segment (for unknown and bad keys). */
  keyAt(path: DataPath): Located;
  /** The source text of the value at `path` (`0x100` where the data says 256). */
  textAt(path: DataPath): string | undefined;
  /**
   * Position of character `index` of the string value at `path` (a template tag inside a
   * prompt), seeing through quotes, escapes and line folding; the value's start if unknown.
   */
  charAt(path: DataPath, index: number): Located;
  /** Position of a byte offset into the file's text. */
  offsetAt(offset: number): Located;
}

export interface Located {
  at: SourcePosition;
  sourceLine: string;
}

/**
 * What positions need of a parsed file, without the YAML document: each node's range, a map's
 * pairs by key text (the first of a key wins), a sequence's items, a string scalar's value.
 * Plain data, so a parse can be kept in .gpt4k/ (parse-cache.ts) and a no-op build skip the
 * YAML parser (parse.ts makes the tree): lookups behave the same whether the tree was just made
 * or read back.
 */
export interface PositionTree {
  /** [start, value end] of the node (yaml's `range`), null when it has none. */
  r: [number, number] | null;
  /** A map: [key text, key node, value node] per pair, in order, first of each key only. */
  m?: Array<[string, PositionTree | null, PositionTree | null]>;
  /** A sequence: its items. */
  q?: Array<PositionTree | null>;
  /** A string scalar's value (charAt walks it against the source text). */
  v?: string;
}

/** A parse ready to become a SourceFile (the parse cache stores exactly this). */
export interface ParsedText {
  data: unknown;
  tree: PositionTree | null;
  /** Offsets where lines start, as yaml's LineCounter recorded them while parsing. */
  lineStarts: number[];
  /** False when the data would not survive JSON (aliases, non-finite numbers, -0). */
  plain: boolean;
}

/**
 * A SourceFile over a parse, fresh from parse.ts or read back from the parse cache. Needs no
 * YAML parser: a no-op build that finds its parse kept never loads one.
 */
export function sourceFileOf(file: string, text: string, parsed: ParsedText): SourceFile {
  return sourceFile(file, text, parsed, locator(file, text, parsed.lineStarts));
}

function sourceFile(file: string, text: string, parsed: ParsedText, locate: (offset: number) => Located): SourceFile {
  const { tree } = parsed;
  const nodeStart = (node: PositionTree | null | undefined, fallback: number): number => node?.r?.[0] ?? fallback;
  const source: SourceFile = {
    file,
    text,
    data: parsed.data,
    valueAt: (path) => {
      const found = walk(tree, path);
      return locate(nodeStart(found.value, nodeStart(found.key, nodeStart(found.parent, 0))));
    },
    keyAt: (path) => {
      const found = walk(tree, path);
      return locate(nodeStart(found.key, nodeStart(found.value, nodeStart(found.parent, 0))));
    },
    textAt: (path) => {
      const range = walk(tree, path).value?.r;
      return range ? text.slice(range[0], range[1]) : undefined;
    },
    charAt: (path, index) => {
      const value = walk(tree, path).value;
      if (value?.v === undefined || !value.r) return source.valueAt(path);
      return locate(value.r[0] + scalarOffset(text.slice(value.r[0], value.r[1]), value.v, index));
    },
    offsetAt: (offset) => locate(offset),
  };
  return source;
}

/** Offsets to `file:line:col` with the line's text. */
export function locator(file: string, text: string, lineStarts: readonly number[]): (offset: number) => Located {
  const lines = text.split(/\r?\n/);
  return (offset) => {
    const { line, col } = linePos(lineStarts, Math.max(0, Math.min(offset, text.length)));
    return { at: { file, line, col }, sourceLine: lines[line - 1] ?? '' };
  };
}

/** yaml's LineCounter.linePos over the line starts it recorded: 1-based line and column. */
function linePos(lineStarts: readonly number[], offset: number): { line: number; col: number } {
  let low = 0;
  let high = lineStarts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (lineStarts[mid]! < offset) low = mid + 1;
    else high = mid;
  }
  if (lineStarts[low] === offset) return { line: low + 1, col: 1 };
  if (low === 0) return { line: 0, col: offset };
  return { line: low, col: offset - lineStarts[low - 1]! + 1 };
}

interface Found {
  /** The deepest node reached (the path's own node when the whole path exists). */
  parent: PositionTree | null | undefined;
  key?: PositionTree | null;
  value?: PositionTree | null;
}

/**
 * Each map's pairs by key text, built on a map's first lookup: positions are asked for every
 * asset (its id, its prompt), and a linear search of a 1,000-asset `assets:` map per asset made
 * loading quadratic.
 */
const pairIndex = new WeakMap<PositionTree, Map<string, [string, PositionTree | null, PositionTree | null]>>();

function findPair(map: PositionTree & { m: NonNullable<PositionTree['m']> }, key: string): [string, PositionTree | null, PositionTree | null] | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map(map.m.map((pair) => [pair[0], pair]));
    pairIndex.set(map, index);
  }
  return index.get(key);
}

function walk(tree: PositionTree | null, path: DataPath): Found {
  let node = tree;
  let found: Found = { parent: node, value: node };
  for (const segment of path) {
    if (node?.m) {
      const pair = findPair(node as PositionTree & { m: NonNullable<PositionTree['m']> }, String(segment));
      if (!pair) return { parent: node };
      found = { parent: node, key: pair[1], value: pair[2] ?? pair[1] };
      node = pair[2];
    } else if (node?.q) {
      const item = node.q[Number(segment)];
      if (item === undefined) return { parent: node };
      found = { parent: node, value: item };
      node = item;
    } else {
      return { parent: found.value ?? found.parent };
    }
  }
  return found;
}

/**
 * Offset within a scalar's source text of character `index` of its value. The value is walked
 * against the source: characters that match advance both, escapes (`\"`, `\u00e9`, `''`) stand
 * for one character, and source characters the value lacks (quotes, folded line breaks,
 * indentation, a block header) are skipped.
 */
export function scalarOffset(raw: string, value: string, index: number): number {
  const first = raw[0];
  let j = 0;
  if (first === '"' || first === "'") j = 1;
  else if (first === '|' || first === '>') j = raw.indexOf('\n') + 1;
  const double = first === '"';
  const single = first === "'";
  let i = 0;
  while (i < index && i < value.length && j < raw.length) {
    if (double && raw[j] === '\\') {
      const kind = raw[j + 1] ?? '';
      const length = kind === 'x' ? 4 : kind === 'u' ? 6 : kind === 'U' ? 10 : 2;
      if (kind === '\n' || kind === '\r') {
        j += 2; // an escaped line break folds to nothing
        continue;
      }
      j += length;
      i++;
    } else if (single && raw[j] === "'" && raw[j + 1] === "'") {
      j += 2;
      i++;
    } else if (raw[j] === value[i]) {
      j++;
      i++;
    } else {
      j++;
    }
  }
  // Land on the character itself, not on skipped indentation or a line break before it.
  while (j < raw.length && i < value.length && raw[j] !== value[i] && /\s/.test(raw[j] ?? '')) j++;
  return Math.min(j, raw.length);
}
