import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import type { Diagnostic } from '../util/errors.js';
import type { DataPath, Located, SourceFile } from './positions.js';
import type { SchemaValidator } from './schema-validator.generated.js';
import { didYouMean } from './suggest.js';

/**
 * The JSON Schema in schemas/ is the single source of truth for the manifest's shape. It sits
 * two folders up from both src/manifest/ and dist/manifest/, so one relative URL serves both.
 * The validators are compiled from it ahead of time (scripts/compile-schema.mjs, `npm run
 * schema`) into schema-validator.generated.ts, so no process pays for ajv's compilation.
 */
export const SCHEMA_URL = new URL('../../schemas/pipeline.schema.json', import.meta.url);

type SchemaObject = Record<string, unknown>;

/** The compiled validators (290 KB of code): loaded when some data needs checking. */
let validators: Promise<Record<'manifest' | 'batch', SchemaValidator>> | undefined;
const loadValidators = () => (validators ??= import('./schema-validator.generated.js').then((m) => ({ manifest: m.manifest, batch: m.batch })));

let schemaDigest: string | undefined;

/**
 * What a validation result depends on besides the data: the schema (the validators are
 * compiled from it, and a test keeps them in step) and which part of it applies. The parse
 * cache keeps this stamp beside data found valid, so unchanged files are not checked again.
 */
export function schemaStamp(kind: 'manifest' | 'batch'): string {
  schemaDigest ??= createHash('sha256').update(readFileSync(SCHEMA_URL)).digest('hex').slice(0, 32);
  return `${kind}:${schemaDigest}`;
}

let parsedSchema: SchemaObject | undefined;

/** The schema as parsed JSON (for docs, the defaults test and "did you mean" hints); read on first use. */
export function pipelineSchema(): SchemaObject {
  parsedSchema ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaObject;
  return parsedSchema;
}

/** Validates a parsed manifest (`kind: 'manifest'`) or include file (`'batch'`). */
export async function validateSchema(kind: 'manifest' | 'batch', source: SourceFile): Promise<Diagnostic[]> {
  const validate = (await loadValidators())[kind];
  if (validate(source.data)) return [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    const d = toDiagnostic(error, source, kind);
    if (!d) continue;
    const key = `${d.code}|${d.at?.line}:${d.at?.col}|${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diagnostics.push(d);
  }
  return diagnostics;
}

function toDiagnostic(error: ErrorObject, source: SourceFile, kind: 'manifest' | 'batch'): Diagnostic | undefined {
  const path = decodePointer(error.instancePath);
  const parent = (error.parentSchema ?? {}) as SchemaObject;
  const where = describePath(path);
  const at = (located: Located): Pick<Diagnostic, 'at' | 'sourceLine'> => located;
  const params = error.params as Record<string, unknown>;

  // ajv reports a bad key under propertyNames as an error carrying `propertyName`.
  if (error.propertyName !== undefined) {
    const key = error.propertyName;
    return {
      code: typeof parent.errorCode === 'string' ? parent.errorCode : 'E_BAD_KEY',
      message: `bad id ${quote(key)} in ${where}: ids use letters, digits, "-" and "_", start with a letter or digit, and are at most 64 characters`,
      ...at(source.keyAt([...path, key])),
    };
  }

  switch (error.keyword) {
    case 'if': // the summary of a failed then/else branch; the branch's own errors say more
    case 'propertyNames':
      return undefined;
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      return {
        code: 'E_UNKNOWN_FIELD',
        message: `unknown field ${quote(key)} in ${where}`,
        ...at(source.keyAt([...path, key])),
        hint: mixedTargetHint(key, parent, path, kind) ?? didYouMean(key, allowedKeys(parent, path, kind)),
      };
    }
    case 'required':
      return {
        code: 'E_MISSING_FIELD',
        message: `${where} is missing the required field ${quote(String(params.missingProperty))}`,
        ...at(source.valueAt(path)),
      };
    case 'type': {
      // YAML reads `size: 0x100` as the hex number 256: show what was written as well.
      const written = source.textAt(path);
      const got = describeValue(error.data);
      const scalar = error.data === null || ['number', 'boolean'].includes(typeof error.data);
      const shown = scalar && written !== undefined && written !== '' && written !== String(error.data) ? `${written} (read as ${got})` : got;
      if (path.length === 0 && error.data === null) {
        return { code: 'E_SCHEMA_TYPE', message: 'the file is empty', ...at(source.valueAt(path)), hint: 'a manifest starts with "version: 1"' };
      }
      const expected = kind === 'manifest' && path.length === 2 && path[0] === 'include' ? 'a file path or an object { file, style, targets }' : article(String(params.type));
      if (parent.errorCode === 'E_BAD_SIZE') {
        return {
          code: 'E_BAD_SIZE',
          message: `bad size ${shown} in ${where}: expected WIDTHxHEIGHT in positive integer pixels, or "auto-from-targets"`,
          ...at(source.valueAt(path)),
          hint: written !== undefined ? `quote it, "${written}", and give both sides in pixels, for example "1536x1024"` : 'for example "1536x1024"',
        };
      }
      return {
        code: typeof parent.errorCode === 'string' ? parent.errorCode : 'E_SCHEMA_TYPE',
        message: `${where} must be ${expected}, got ${shown}`,
        ...at(source.valueAt(path)),
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      return {
        code: 'E_SCHEMA_ENUM',
        message: `${describeValue(error.data)} is not a valid value for ${where}`,
        ...at(source.valueAt(path)),
        hint: didYouMean(String(error.data), allowed),
      };
    }
    case 'const':
      return {
        code: 'E_SCHEMA_CONST',
        message: `${where} must be ${JSON.stringify(params.allowedValue)}, got ${describeValue(error.data)}`,
        ...at(source.valueAt(path)),
      };
    case 'pattern':
      return patternDiagnostic(parent, error.data, where, source.valueAt(path));
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return {
        code: 'E_SCHEMA_RANGE',
        message: `${where} must be ${params.comparison} ${params.limit}, got ${describeValue(error.data)}`,
        ...at(source.valueAt(path)),
      };
    case 'minLength':
      return { code: 'E_SCHEMA_EMPTY', message: `${where} must not be empty`, ...at(source.valueAt(path)) };
    default:
      return {
        code: 'E_SCHEMA',
        message: `${where} ${error.message ?? 'is invalid'} (got ${describeValue(error.data)})`,
        ...at(source.valueAt(path)),
      };
  }
}

function patternDiagnostic(parent: SchemaObject, data: unknown, where: string, located: Located): Diagnostic {
  const code = typeof parent.errorCode === 'string' ? parent.errorCode : 'E_SCHEMA_PATTERN';
  const value = describeValue(data);
  if (code === 'E_BAD_SIZE') {
    return {
      code,
      message: `bad size ${value} in ${where}: expected WIDTHxHEIGHT in positive integer pixels, or "auto-from-targets"`,
      ...located,
      hint: 'for example "1536x1024"',
    };
  }
  if (code === 'E_BAD_ID') {
    return {
      code,
      message: `bad id ${value} in ${where}: ids use letters, digits, "-" and "_", start with a letter or digit, and are at most 64 characters`,
      ...located,
    };
  }
  return { code, message: `${value} in ${where} must match ${String(parent.pattern)}`, ...located };
}

/**
 * Keys the object at `path` may have. A target is print, preset or screen depending on its keys, so
 * a misspelt key of any kind is matched against all of them.
 */
function allowedKeys(parent: SchemaObject, path: DataPath, kind: 'manifest' | 'batch'): string[] {
  const own = Object.keys((parent.properties as SchemaObject | undefined) ?? {});
  if (kind === 'manifest' && path.length === 2 && path[0] === 'targets') {
    const defs = pipelineSchema().definitions as Record<string, SchemaObject>;
    const print = Object.keys((defs.printTarget?.properties as SchemaObject | undefined) ?? {});
    const screen = Object.keys((defs.screenTarget?.properties as SchemaObject | undefined) ?? {});
    const preset = Object.keys((defs.presetTarget?.properties as SchemaObject | undefined) ?? {});
    return [...new Set([...own, ...print, ...screen, ...preset])];
  }
  return own;
}

/** A key of another kind of target ("width" beside "preset"): say which kinds there are. */
function mixedTargetHint(key: string, parent: SchemaObject, path: DataPath, kind: 'manifest' | 'batch'): string | undefined {
  const own = Object.keys((parent.properties as SchemaObject | undefined) ?? {});
  if (own.includes(key) || !allowedKeys(parent, path, kind).includes(key)) return undefined;
  return `"${key}" belongs to another kind of target: print targets take paper (and dpi, bleed_mm), preset targets take preset (which sets the size), screen targets take width and height`;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `"assets.hero.targets[0]"`, quoted, or "the top level" for the root. */
export function describePath(path: DataPath): string {
  if (path.length === 0) return 'the top level';
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number' || /^\d+$/.test(segment)) out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return `"${out}"`;
}

export function quote(value: string): string {
  return JSON.stringify(value);
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing (null)';
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function article(type: string): string {
  const names = type.split(',').map((t) => (t === 'integer' ? 'an integer' : t === 'object' ? 'an object' : t === 'array' ? 'a list' : `a ${t}`));
  return names.join(' or ');
}
