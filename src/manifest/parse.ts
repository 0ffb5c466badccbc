import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { Diagnostic } from '../util/errors.js';
import { locator, sourceFileOf, type Located, type ParsedText, type PositionTree, type SourceFile } from './positions.js';

/**
 * The YAML parser's side of positions.ts: parses a file into data, a position tree and line
 * starts. Loaded only when a file's parse is not kept in .gpt4k/parsed/ (parse-cache.ts).
 */

/** Larger manifests and include files are refused before parsing (50 MB of YAML takes seconds and memory). */
export const MAX_SOURCE_CHARS = 16 * 1024 * 1024;

/**
 * Parses YAML (JSON too: it is YAML 1.2) keeping positions. Syntax errors come back as
 * diagnostics at the parser's position and `source` is then absent; duplicate keys come back
 * as errors beside a usable `source`.
 */
export function parseSource(file: string, text: string): { source?: SourceFile; parsed?: ParsedText; errors: Diagnostic[]; warnings: Diagnostic[] } {
  if (text.length > MAX_SOURCE_CHARS) {
    const mb = Math.round(text.length / (1024 * 1024));
    return { errors: [{ code: 'E_TOO_LARGE', message: `${mb} MB is too large for a manifest or include file (the limit is ${MAX_SOURCE_CHARS / (1024 * 1024)} MB)`, at: { file, line: 1, col: 1 }, hint: 'split the assets into smaller include files, or use a CSV catalog', severity: 'error' }], warnings: [] };
  }
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are reported below with the first key's position too.
  // merge: `<<: *anchor` is how people share target settings in YAML configs.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const locate = locator(file, text, lineCounter.lineStarts);
  const toDiagnostic = (e: { code: string; message: string; pos: [number, number] }, severity: 'error' | 'warning'): Diagnostic => ({
    code: e.code === 'DUPLICATE_KEY' ? 'E_DUPLICATE_KEY' : e.code === 'TAG_RESOLVE_FAILED' ? 'E_YAML_TAG' : severity === 'error' ? 'E_YAML' : 'W_YAML',
    message: firstLine(e.message),
    ...locate(e.pos[0]),
    severity,
  });
  // An unknown tag (!!js/function, !!python/object) would silently become a string: refuse it.
  const errors = [...doc.errors, ...doc.warnings.filter((e) => e.code === 'TAG_RESOLVE_FAILED')].map((e) => toDiagnostic(e, 'error'));
  const warnings = doc.warnings.filter((e) => e.code !== 'TAG_RESOLVE_FAILED').map((e) => toDiagnostic(e, 'warning'));
  if (errors.length > 0) return { errors, warnings };
  // A duplicate key leaves a usable document (the last one wins), so checking goes on.
  errors.push(...duplicateKeys(doc, locate));

  const state = { plain: true };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? null;
  } catch (err) {
    // The yaml library's guard against alias bombs ("billion laughs"): a user error, not a crash.
    let at = 0;
    visit(doc, { Alias: (_key, node) => ((at = node.range?.[0] ?? 0), visit.BREAK) });
    return { errors: [{ code: 'E_YAML_ALIASES', message: `too many alias expansions: ${firstLine((err as Error).message)}`, ...locate(at), hint: 'YAML aliases (*name) may expand to at most 100 copies; write the values out', severity: 'error' }], warnings };
  }
  const parsed: ParsedText = { data, tree: positionTree(doc.contents, state), lineStarts: lineCounter.lineStarts, plain: state.plain && plainData(data) };
  return { source: sourceFileOf(file, text, parsed), parsed, errors, warnings };
}

function positionTree(node: unknown, state: { plain: boolean }): PositionTree | null {
  if (node === null || node === undefined) return null;
  const range = (node as Node).range;
  const tree: PositionTree = { r: range ? [range[0], range[1]] : null };
  if (isAlias(node)) state.plain = false;
  if (isMap(node)) {
    const seen = new Set<string>();
    tree.m = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = keyText(pair.key);
      if (key === undefined || seen.has(key)) continue;
      seen.add(key);
      tree.m.push([key, positionTree(pair.key, state), positionTree(pair.value, state)]);
    }
  } else if (isSeq(node)) {
    tree.q = node.items.map((item) => positionTree(item, state));
  } else if (isScalar(node) && typeof node.value === 'string') {
    tree.v = node.value;
  }
  return tree;
}

/** Data that JSON gives back unchanged: no Infinity, NaN or -0 (aliases are checked on the tree). */
function plainData(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (value === null || typeof value !== 'object') return typeof value !== 'bigint' && typeof value !== 'undefined';
  if (Array.isArray(value)) return value.every(plainData);
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value).every(plainData);
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

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}
