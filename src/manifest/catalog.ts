import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseCsv, type CsvError } from 'csv-parse/sync';
import Mustache from 'mustache';
import type { PromptSpan } from './types.js';
import type { AssetEntry } from './assets.js';
import type { FieldText } from './prompt-origin.js';
import type { Diagnostics } from './context.js';
import type { DataPath, Located, SourceFile } from './positions.js';
import { splitKeywords } from './metadata.js';
import type { RawCatalogInclude, RawMetadata } from './raw.js';
import { quote } from './schema.js';
import { didYouMean } from './suggest.js';

/**
 * Catalog batches: a CSV or JSON Lines file of product data plus Mustache templates for the
 * id and the prompt, one asset per row. Each row's asset depends on that row alone, so editing
 * one row rebuilds one asset.
 *
 * Template errors point into the manifest at the tag (`{{colr}}` at file:line:col); row errors
 * point at the row in the data file (file:line, and say the row number).
 */

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** One data row: its 1-based number among the data rows, and the line it starts on. */
interface Row {
  number: number;
  line: number;
  values: Record<string, unknown>;
}

interface Table {
  columns: string[];
  rows: Row[];
  lines: string[];
}

/** mustache.parse's token: [type, value, start, end, children?, ...]. */
type Token = [string, string, number, number, Token[]?, number?];

/** A template field of the include entry: `id`, `prompt`, or a string inside a structured prompt. */
interface Template {
  field: DataPath;
  text: string;
  tokens: Token[];
  /** Columns that must have a value in every row (tags outside optional sections). */
  required: Set<string>;
}

export async function catalogEntries(
  spec: RawCatalogInclude,
  index: number,
  file: string,
  manifest: SourceFile,
  diagnostics: Diagnostics,
): Promise<AssetEntry[]> {
  const includePath: DataPath = ['include', index];
  const name = spec.file;
  for (const field of ['id', 'prompt'] as const) {
    if (spec[field] === undefined) {
      diagnostics.error(
        'E_MISSING_FIELD',
        `include ${quote(name)} is a catalog (${path.extname(file)}) and needs a ${field} template`,
        manifest.valueAt(includePath),
        field === 'id' ? 'add id: "sku-{{sku}}" (a column in {{ }})' : 'add prompt: "Packshot of {{name}}, ..."',
      );
    }
  }
  if (spec.id === undefined || spec.prompt === undefined) return [];

  const table = await readTable(file, name, spec.delimiter, manifest.valueAt([...includePath, 'file']), diagnostics);
  if (!table) return [];

  const templates = collectTemplates(spec, includePath);
  const known = new Set(table.columns);
  let broken = false;
  const parsed = new Map<string, Template>();
  for (const { field, text } of templates) {
    const template = parseTemplate(text, field, manifest, name, known, diagnostics);
    if (!template) broken = true;
    else parsed.set(JSON.stringify(field), template);
  }
  if (broken) return [];

  const idTemplate = parsed.get(JSON.stringify([...includePath, 'id'])) as Template;
  const entries: AssetEntry[] = [];
  for (const row of table.rows) {
    const rowAt = located(file, row.line, table.lines);
    const label = `row ${row.number} of ${name}`;
    const missing = [...new Set([...parsed.values()].flatMap((t) => [...t.required]))].filter((c) => isEmpty(row.values[c]));
    if (missing.length > 0) {
      diagnostics.error(
        'E_BAD_ROW',
        `${label}: no value for ${missing.map((c) => `column ${quote(c)}`).join(', ')}, used by the templates of include ${quote(name)}`,
        rowAt,
        'fill it in, or wrap the text that uses it in {{#column}}...{{/column}} to make it optional',
      );
      continue;
    }
    const id = renderTemplate(idTemplate, row.values, rowAt, undefined).text;
    if (!ID_PATTERN.test(id)) {
      diagnostics.error(
        'E_BAD_ID',
        `${label}: id ${quote(id)} (from ${quote(idTemplate.text)}) is not a valid id: ids use letters, digits, "-" and "_", start with a letter or digit, and are at most 64 characters`,
        rowAt,
        'fix the row, or change the id template',
      );
      continue;
    }
    const fieldTexts = new Map<string, FieldText>();
    const render = (field: DataPath): string => {
      const template = parsed.get(JSON.stringify(field)) as Template;
      const rendered = renderTemplate(template, row.values, rowAt, (i) => manifest.charAt(field, i));
      fieldTexts.set(JSON.stringify(field.slice(includePath.length + 1)), rendered);
      return rendered.text;
    };
    const prompt =
      typeof spec.prompt === 'string'
        ? render([...includePath, 'prompt'])
        : {
            subject: render([...includePath, 'prompt', 'subject']),
            ...optionalField('composition', spec.prompt.composition, () => render([...includePath, 'prompt', 'composition'])),
            ...optionalField('style', spec.prompt.style, () => render([...includePath, 'prompt', 'style'])),
            ...optionalField('lighting', spec.prompt.lighting, () => render([...includePath, 'prompt', 'lighting'])),
            ...(spec.prompt.details ? { details: spec.prompt.details.map((_, i) => render([...includePath, 'prompt', 'details', i])) } : {}),
          };
    const inherited: NonNullable<AssetEntry['inherited']> = {};
    if (spec.style !== undefined) inherited.style = spec.style;
    if (spec.targets !== undefined) inherited.targets = spec.targets;
    entries.push({
      id,
      raw: {
        prompt,
        ...(spec.generate ? { generate: spec.generate } : {}),
        ...(spec.upscale ? { upscale: spec.upscale } : {}),
        ...(spec.normalize ? { normalize: spec.normalize } : {}),
        ...(spec.metadata ? { metadata: renderMetadata(spec.metadata, includePath, (field) => renderTemplate(parsed.get(JSON.stringify(field)) as Template, row.values, rowAt, undefined).text) } : {}),
      },
      source: manifest,
      path: includePath,
      idAt: rowAt,
      inherited,
      label,
      fieldTexts,
    });
  }
  return entries;
}

function optionalField<K extends string>(key: K, value: string | undefined, render: () => string): { [P in K]?: string } {
  return value === undefined ? {} : ({ [key]: render() } as { [P in K]?: string });
}

/**
 * A row's `metadata:`: each field rendered from its template. A field that renders empty is
 * left out, so defaults.metadata still applies to it; a keyword cell may hold several ("a; b").
 */
function renderMetadata(spec: RawMetadata, at: DataPath, render: (field: DataPath) => string): RawMetadata {
  const metadata: RawMetadata = {};
  for (const key of METADATA_TEXTS) {
    const text = spec[key] === undefined ? '' : render([...at, 'metadata', key]).trim();
    if (text !== '') metadata[key] = text;
  }
  const keywords = (spec.keywords ?? []).flatMap((_, i) => splitKeywords(render([...at, 'metadata', 'keywords', i])));
  if (keywords.length > 0) metadata.keywords = keywords;
  return metadata;
}

const METADATA_TEXTS = ['copyright', 'credit', 'usageTerms'] as const;

function collectTemplates(spec: RawCatalogInclude, at: DataPath): Array<{ field: DataPath; text: string }> {
  const out = [{ field: [...at, 'id'], text: spec.id as string }];
  const prompt = spec.prompt;
  if (typeof prompt === 'string') out.push({ field: [...at, 'prompt'], text: prompt });
  else if (prompt) {
    for (const key of ['subject', 'composition', 'style', 'lighting'] as const) {
      const text = prompt[key];
      if (text !== undefined) out.push({ field: [...at, 'prompt', key], text });
    }
    (prompt.details ?? []).forEach((text, i) => out.push({ field: [...at, 'prompt', 'details', i], text }));
  }
  const metadata = spec.metadata;
  for (const key of METADATA_TEXTS) {
    const text = metadata?.[key];
    if (text !== undefined) out.push({ field: [...at, 'metadata', key], text });
  }
  (metadata?.keywords ?? []).forEach((text, i) => out.push({ field: [...at, 'metadata', 'keywords', i], text }));
  return out;
}

/**
 * Parses one template and checks its tags against the file's columns. An unknown column is
 * reported at the tag inside the manifest, with the columns that exist.
 */
function parseTemplate(text: string, field: DataPath, manifest: SourceFile, name: string, columns: Set<string>, diagnostics: Diagnostics): Template | undefined {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(text) as unknown as Token[];
  } catch (err) {
    const message = (err as Error).message;
    // An unclosed section is reported at the template's end; its opening tag is more useful.
    const unclosed = /^Unclosed section "(.*)"/.exec(message)?.[1];
    const opening = unclosed === undefined ? -1 : text.search(new RegExp(`\\{\\{\\s*[#^]\\s*${unclosed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\}\\}`));
    const offset = opening >= 0 ? opening : Number(/ at (\d+)$/.exec(message)?.[1] ?? 0);
    diagnostics.error('E_TEMPLATE', `bad template ${quote(text)} in include ${quote(name)}: ${message}`, manifest.charAt(field, offset), 'tags are {{column}}; an optional part is {{#column}}...{{/column}}');
    return undefined;
  }
  const required = new Set<string>();
  let ok = true;
  const walk = (list: Token[], optional: boolean): void => {
    for (const token of list) {
      const [type, value, start] = token;
      if (type === 'text' || type === '!' || type === '=') continue;
      if (type === '>') {
        diagnostics.error('E_TEMPLATE', `partials ({{> ${value}}}) are not supported in catalog templates`, manifest.charAt(field, start));
        ok = false;
        continue;
      }
      const column = value.split('.')[0] ?? value;
      if (!columns.has(column)) {
        diagnostics.error(
          'E_UNKNOWN_COLUMN',
          `unknown column ${quote(value)} in template ${quote(text)} of include ${quote(name)}`,
          manifest.charAt(field, start),
          didYouMean(column, columns) ?? `the columns are: ${[...columns].join(', ')}`,
        );
        ok = false;
        continue;
      }
      if (type === '#' || type === '^') walk(token[4] ?? [], true);
      else if (!optional) required.add(column);
    }
  };
  walk(tokens, false);
  return ok ? { field, text, tokens, required } : undefined;
}

/**
 * Renders a template for one row, and records which parts of the text came from the template
 * (positions inside the manifest) and which from the row (the row's line). Values are inserted
 * as they are (no HTML escaping: this is a prompt, not a web page).
 */
function renderTemplate(template: Template, values: Record<string, unknown>, rowAt: Located, templateAt: ((index: number) => Located) | undefined): FieldText {
  let text = '';
  const spans: PromptSpan[] = [];
  const push = (piece: string, span: Omit<PromptSpan, 'start' | 'end'>) => {
    if (piece === '') return;
    spans.push({ ...span, start: text.length, end: text.length + piece.length });
    text += piece;
  };
  const rowSpan = { at: rowAt.at, sourceLine: rowAt.sourceLine, exact: false };
  const walk = (list: Token[]): void => {
    for (const token of list) {
      const [type, value, start] = token;
      if (type === 'text') {
        const at = templateAt?.(start);
        push(value, at ? { at: at.at, sourceLine: at.sourceLine, exact: exactRun(templateAt!, start, value.length) } : rowSpan);
      } else if (type === 'name' || type === '&') {
        push(stringOf(lookup(values, value)), rowSpan);
      } else if (type === '#') {
        if (!isEmpty(lookup(values, value))) walk(token[4] ?? []);
      } else if (type === '^') {
        if (isEmpty(lookup(values, value))) walk(token[4] ?? []);
      }
    }
  };
  walk(template.tokens);
  // Mustache is the reference; where its whitespace rules differ (standalone section lines),
  // keep its text and point the whole value at the template.
  const reference = Mustache.render(template.text, values, {}, { escape: (s: string) => s });
  if (reference !== text) {
    const at = templateAt?.(0);
    return { text: reference, spans: at ? [{ start: 0, end: reference.length, at: at.at, sourceLine: at.sourceLine, exact: false }] : [] };
  }
  return { text, spans };
}

/** True when the template's characters start..start+length sit on one line, one column each. */
function exactRun(at: (index: number) => Located, start: number, length: number): boolean {
  const a = at(start).at;
  const b = at(start + length).at;
  return a.line === b.line && b.col - a.col === length;
}

function lookup(values: Record<string, unknown>, name: string): unknown {
  let value: unknown = values;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === false || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);
}

function stringOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function located(file: string, line: number, lines: string[]): Located {
  return { at: { file, line, col: 1 }, sourceLine: lines[line - 1] ?? '' };
}

/** Reads a CSV (header row first) or JSON Lines file into rows; undefined (with diagnostics) if unreadable. */
async function readTable(file: string, name: string, delimiter: string | undefined, fileAt: Located, diagnostics: Diagnostics): Promise<Table | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    diagnostics.error('E_MISSING_FILE', `catalog file ${quote(name)} cannot be read (${(err as Error).message})`, fileAt);
    return undefined;
  }
  const lines = text.split(/\r?\n/);
  return path.extname(file).toLowerCase() === '.csv' ? readCsv(file, text, lines, delimiter, diagnostics) : readJsonLines(file, lines, diagnostics);
}

function readCsv(file: string, text: string, lines: string[], delimiter: string | undefined, diagnostics: Diagnostics): Table | undefined {
  let columns: string[] = [];
  let records: Array<{ record: Record<string, string>; info: { lines: number }; raw: string }>;
  try {
    records = parseCsv(text, {
      columns: (header: string[]) => {
        columns = header.map((h) => h.trim());
        return columns;
      },
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
      raw: true,
      ...(delimiter !== undefined ? { delimiter } : {}),
    }) as unknown as typeof records;
  } catch (err) {
    const e = err as CsvError & { lines?: number };
    const line = typeof e.lines === 'number' && e.lines > 0 ? e.lines : 1;
    diagnostics.error('E_CSV', `${path.basename(file)}: ${e.message}`, located(file, line, lines), 'every row needs as many fields as the header; quote fields that contain the delimiter');
    return undefined;
  }
  const rows = records.map(({ record, info, raw }, i): Row => {
    // raw holds the skipped empty lines before the record too; only the record's own breaks count.
    const breaks = raw.replace(/^(?:\r?\n)+/, '').replace(/\r?\n$/, '').split('\n').length - 1;
    return { number: i + 1, line: info.lines - breaks, values: record };
  });
  return { columns, rows, lines };
}

function readJsonLines(file: string, lines: string[], diagnostics: Diagnostics): Table | undefined {
  const columns = new Set<string>();
  const rows: Row[] = [];
  let ok = true;
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      diagnostics.error('E_JSONL', `${path.basename(file)} line ${i + 1} is not JSON: ${(err as Error).message}`, located(file, i + 1, lines));
      ok = false;
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      diagnostics.error('E_JSONL', `${path.basename(file)} line ${i + 1} is not a JSON object`, located(file, i + 1, lines), 'one object per line: {"sku": "001", "name": "..."}');
      ok = false;
      return;
    }
    for (const key of Object.keys(value)) columns.add(key);
    rows.push({ number: rows.length + 1, line: i + 1, values: value as Record<string, unknown> });
  });
  return ok ? { columns: [...columns], rows, lines } : undefined;
}
