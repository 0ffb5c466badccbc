import type { CompiledPrompt } from './prompt-compile.js';
import type { DataPath, SourceFile } from './positions.js';
import type { PromptSpan } from './types.js';

/** A prompt field's text and where its characters were written. */
export interface FieldText {
  text: string;
  spans: PromptSpan[];
}

/**
 * Where each character of a compiled prompt was written: the fields of the prompt in the
 * manifest (or an include file), or, for a catalog row, the template and the row's line.
 */
export function promptSpans(
  compiled: CompiledPrompt,
  source: SourceFile,
  promptPath: DataPath,
  rendered: Map<string, FieldText> | undefined,
): PromptSpan[] {
  return compiled.parts.flatMap((part) => {
    const field = rendered?.get(JSON.stringify(part.field)) ?? literalField(source, [...promptPath, ...part.field]);
    const shift = part.start - part.valueOffset;
    return field.spans.flatMap((s) => {
      const start = Math.max(part.start, s.start + shift);
      const end = Math.min(part.end, s.end + shift);
      if (start >= end) return [];
      // A run clipped at its start (trimmed whitespace) starts further along its line.
      const clipped = start - (s.start + shift);
      return [{ ...s, start, end, at: s.exact && clipped > 0 ? { ...s.at, col: s.at.col + clipped } : s.at }];
    });
  });
}

/** A prompt field as it stands in a YAML or JSON file. */
function literalField(source: SourceFile, at: DataPath): FieldText {
  const value = dig(source.data, at);
  const text = typeof value === 'string' ? value : '';
  const start = source.charAt(at, 0);
  const end = source.charAt(at, text.length);
  const exact = start.at.line === end.at.line && end.at.col - start.at.col === text.length;
  return { text, spans: [{ start: 0, end: text.length, at: start.at, sourceLine: start.sourceLine, exact }] };
}

function dig(data: unknown, at: DataPath): unknown {
  let value = data;
  for (const key of at) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}
