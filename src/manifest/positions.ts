import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Diagnostic, SourcePosition } from '../util/errors.js';

/** A path into parsed data, as ajv's instancePath splits it: keys and sequence indexes. */
export type DataPath = ReadonlyArray<string | number>;

/**
 * One parsed manifest or include file: its data as plain JS, plus what it takes to turn a
 * data path back into `file:line:col` (the YAML node tree and the line offsets).
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
 * Parses YAML (JSON too: it is YAML 1.2) keeping positions. Syntax errors come back as
 * diagnostics at the parser's position and `source` is then absent; duplicate keys come back
 * as errors beside a usable `source`.
 */
export function parseSource(file: string, text: string): { source?: SourceFile; errors: Diagnostic[]; warnings: Diagnostic[] } {
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are reported below with the first key's position too.
  // merge: `<<: *anchor` is how people share target settings in YAML configs.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const lines = text.split(/\r?\n/);
  const locate = (offset: number): Located => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { at: { file, line, col }, sourceLine: lines[line - 1] ?? '' };
  };
  const toDiagnostic = (e: { code: string; message: string; pos: [number, number] }, severity: 'error' | 'warning'): Diagnostic => ({
    code: e.code === 'DUPLICATE_KEY' ? 'E_DUPLICATE_KEY' : severity === 'error' ? 'E_YAML' : 'W_YAML',
    message: firstLine(e.message),
    ...locate(e.pos[0]),
    severity,
  });
  const errors = doc.errors.map((e) => toDiagnostic(e, 'error'));
  const warnings = doc.warnings.map((e) => toDiagnostic(e, 'warning'));
  if (errors.length > 0) return { errors, warnings };
  // A duplicate key leaves a usable document (the last one wins), so checking goes on.
  errors.push(...duplicateKeys(doc, locate));

  const nodeStart = (node: unknown, fallback: number): number => {
    const range = (node as Node | null | undefined)?.range;
    return range ? range[0] : fallback;
  };
  const source: SourceFile = {
    file,
    text,
    data: doc.toJS({ maxAliasCount: 100 }) ?? null,
    valueAt: (path) => {
      const found = walk(doc, path);
      return locate(nodeStart(found.value, nodeStart(found.key, nodeStart(found.parent, 0))));
    },
    keyAt: (path) => {
      const found = walk(doc, path);
      return locate(nodeStart(found.key, nodeStart(found.value, nodeStart(found.parent, 0))));
    },
    textAt: (path) => {
      const range = (walk(doc, path).value as Node | undefined)?.range;
      return range ? text.slice(range[0], range[1]) : undefined;
    },
    charAt: (path, index) => {
      const found = walk(doc, path);
      const value = found.value as Node | undefined;
      if (!isScalar(value) || typeof value.value !== 'string' || !value.range) return source.valueAt(path);
      return locate(value.range[0] + scalarOffset(text.slice(value.range[0], value.range[1]), value.value, index));
    },
    offsetAt: (offset) => locate(offset),
  };
  return { source, errors, warnings };
}

interface Found {
  /** The deepest node reached (the path's own node when the whole path exists). */
  parent: unknown;
  key?: unknown;
  value?: unknown;
}

function walk(doc: Document, path: DataPath): Found {
  let node: unknown = doc.contents;
  let found: Found = { parent: node, value: node };
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(segment));
      if (!pair) return { parent: node };
      found = { parent: node, key: pair.key, value: pair.value ?? pair.key };
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
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
 * A key given twice in one map. Under `assets:` that is a duplicate asset id; the message says
 * where the first one is, since YAML would otherwise silently keep the last.
 */
function duplicateKeys(doc: Document, locate: (offset: number) => Located): Diagnostic[] {
  const assets = doc.get('assets', true);
  const found: Diagnostic[] = [];
  visit(doc, {
    Map(_, map) {
      const first = new Map<string, number>();
      for (const pair of map.items) {
        const key = keyText(pair.key);
        const start = (pair.key as Node | null)?.range?.[0];
        if (key === undefined || start === undefined) continue;
        const earlier = first.get(key);
        if (earlier === undefined) {
          first.set(key, start);
          continue;
        }
        const was = locate(earlier).at;
        const what = map === assets ? 'asset id' : 'key';
        found.push({
          code: map === assets ? 'E_DUPLICATE_ID' : 'E_DUPLICATE_KEY',
          message: `duplicate ${what} ${JSON.stringify(key)} (first defined at ${was.file}:${was.line}:${was.col})`,
          ...locate(start),
          severity: 'error',
          hint: 'rename or remove one of them',
        });
      }
    },
  });
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

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}
