/**
 * Structured prompts. `prompt:` is either a string or a structure compiled into one string in
 * a fixed order, so every asset of a batch reads the same way and a reviewer knows where to
 * look:
 *
 *     subject, composition, style, details[0], details[1], ..., lighting
 *
 * The subject leads (image models weigh early words most), then the composition directive
 * (framing, view), then the style anchor, then material details and the lighting last. Parts
 * are trimmed, a trailing comma, semicolon or period is dropped, empty parts are skipped, and
 * the rest are joined with ", ". The style prefix (styles.NAME.prefix) goes before all of it.
 */

export interface StructuredPrompt {
  subject: string;
  composition?: string;
  style?: string;
  details?: string[];
  lighting?: string;
}

export type PromptSpec = string | StructuredPrompt;

/** One part of a compiled prompt: where it sits in the text, and which field it came from. */
export interface PromptPart {
  /** Field path inside `prompt:` ([] for a string prompt, ['details', 1] for a detail). */
  field: Array<string | number>;
  start: number;
  end: number;
  /** Offset of `text` within the field's value (the trimmed-away leading whitespace). */
  valueOffset: number;
}

export interface CompiledPrompt {
  text: string;
  parts: PromptPart[];
}

/** The fields of a structured prompt, in the order they are compiled. */
export const STRUCTURED_ORDER = ['subject', 'composition', 'style', 'details', 'lighting'] as const;

export function isStructuredPrompt(spec: unknown): spec is StructuredPrompt {
  return typeof spec === 'object' && spec !== null && !Array.isArray(spec);
}

export function compilePrompt(spec: PromptSpec | undefined): CompiledPrompt {
  if (spec === undefined) return { text: '', parts: [] };
  if (typeof spec === 'string') {
    const text = spec.trim();
    return { text, parts: text === '' ? [] : [{ field: [], start: 0, end: text.length, valueOffset: spec.indexOf(text) }] };
  }
  const pieces: Array<{ field: Array<string | number>; value: string }> = [];
  for (const key of STRUCTURED_ORDER) {
    if (key === 'details') (spec.details ?? []).forEach((value, i) => pieces.push({ field: ['details', i], value }));
    else if (spec[key] !== undefined) pieces.push({ field: [key], value: spec[key] as string });
  }
  let text = '';
  const parts: PromptPart[] = [];
  for (const { field, value } of pieces) {
    const part = value.trim().replace(/[,;.]+$/, '').trimEnd();
    if (part === '') continue;
    if (text !== '') text += ', ';
    parts.push({ field, start: text.length, end: text.length + part.length, valueOffset: value.indexOf(part) });
    text += part;
  }
  return { text, parts };
}
