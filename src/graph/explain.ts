import type { FingerprintFields as Fingerprint } from './keys.js';

/**
 * Why a node runs, in words: a diff of its previous and current fingerprint objects (as
 * wireit does). Each change becomes one reason a user can check against what they edited:
 * `prompt: "...teal kraft paper" → "...green kraft paper"`, `quality: low → high`,
 * `ICC profile file profiles/swop.icc changed`, `upstream changed: generate runs`.
 */

/** What the fingerprint alone cannot say: where inputs come from and where files live. */
export interface ExplainContext {
  /**
   * Why an input's image changes, by role, phrased from the node's point of view:
   * "generate runs", "source file photos/x.jpg changed", "hero generate runs".
   */
  upstream?: (role: InputRole) => string | undefined;
  /** The project-relative file of a profile declared under `profiles:`. */
  profileFile?: (name: string) => string | undefined;
}

export type InputRole = 'input' | 'reference' | 'whiteBalance';

/** The content hash that stands for an input whose image is not known yet (it will change). */
export const PENDING_INPUT = '(pending)';

/** The reasons a node runs; empty when the fingerprints are identical. */
export function explainChange(previous: Fingerprint | undefined, current: Fingerprint, context: ExplainContext = {}): string[] {
  if (!previous) return ['new'];
  const before = flatten(previous);
  const after = flatten(current);
  const changed = new Map<string, Change>();
  for (const field of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(field);
    const b = after.get(field);
    if (a !== b) changed.set(field, { before: a, after: b });
  }
  if (changed.size === 0) return [];
  const describe = DESCRIBERS[current.kind] ?? describeGeneric;
  const reasons = describe(changed, context, previous, current);
  return [...new Set(reasons)];
}

interface Change {
  before: unknown;
  after: unknown;
}
type Changes = Map<string, Change>;
type Describer = (changes: Changes, context: ExplainContext, previous: Fingerprint, current: Fingerprint) => string[];

function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    // An object that became null (or appeared) still counts as a change of the field itself.
    if (Object.keys(value).length === 0) out.set(prefix, '{}');
  } else {
    out.set(prefix, Array.isArray(value) ? JSON.stringify(value) : value);
  }
  return out;
}

/** A value for a person: strings bare, absent values as "(none)", long ones shortened. */
export function showValue(value: unknown): string {
  if (value === undefined || value === null) return '(none)';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 48 ? `${text.slice(0, 45)}...` : text;
}

const arrow = (change: Change) => `${showValue(change.before)} → ${showValue(change.after)}`;

/** Takes the changes under `prefix` out of `changes` (so each is described once). */
function take(changes: Changes, prefix: string): Changes {
  const out: Changes = new Map();
  for (const [field, change] of changes) {
    if (field === prefix || field.startsWith(`${prefix}.`)) {
      out.set(field.slice(prefix.length + 1) || field, change);
      changes.delete(field);
    }
  }
  return out;
}

function upstreamReason(context: ExplainContext, role: InputRole, label: string): string {
  const cause = context.upstream?.(role);
  return cause ? `${label}: ${cause}` : label;
}

/** "tool version changed (sharp: 0.34.1 → 0.35.5)" */
function toolReason(what: string, tool: Changes): string | undefined {
  if (tool.size === 0) return undefined;
  const details = [...tool].map(([field, change]) => `${field} ${arrow(change)}`).join(', ');
  return `${what} changed (${details})`;
}

function stepVersionReason(kind: string, change: Change | undefined): string | undefined {
  if (!change || change.before === undefined || change.after === undefined) return undefined;
  return `gpt4k's ${kind} step changed (version ${showValue(change.before)} → ${showValue(change.after)})`;
}

function rest(changes: Changes): string[] {
  return [...changes].map(([field, change]) => `${field}: ${arrow(change)}`);
}

/** The part of a reference (style reference, white balance) that changed. */
function referenceReasons(changes: Changes, field: 'reference' | 'whiteBalance', context: ExplainContext, previous: Fingerprint, current: Fingerprint): string[] {
  const part = take(changes, field);
  if (part.size === 0) return [];
  const name = field === 'reference' ? 'style reference' : 'white-balance reference';
  const assetOf = (fp: Fingerprint) => (fp[field] as { asset?: string } | null | undefined)?.asset;
  const was = assetOf(previous);
  const now = assetOf(current);
  if (was !== now) {
    if (!was) return [`${name} added: "${now}"`];
    if (!now) return [`${name} removed (was "${was}")`];
    return [`${name}: "${was}" → "${now}"`];
  }
  return [upstreamReason(context, field === 'reference' ? 'reference' : 'whiteBalance', `${name} "${now}" changed`)];
}

type ListedReference = { asset?: string; file?: string; image?: string };

/** A generate fingerprint's references in order, whichever shape it has (one asset, or a list). */
function listedReferences(fp: Fingerprint): ListedReference[] {
  const list = fp['references'] as ListedReference[] | undefined;
  if (Array.isArray(list)) return list;
  const one = fp['reference'] as ListedReference | null | undefined;
  return one ? [one] : [];
}

/** What changed in a style's reference list, entry by entry: added, removed, changed, reordered. */
function referenceListReasons(changes: Changes, context: ExplainContext, previous: Fingerprint, current: Fingerprint): string[] {
  if (take(changes, 'reference').size === 0 && take(changes, 'references').size === 0) return [];
  const label = (entry: ListedReference) => (entry.file !== undefined ? `file ${entry.file}` : `"${entry.asset ?? '?'}"`);
  const before = listedReferences(previous);
  const after = listedReferences(current);
  const beforeByLabel = new Map(before.map((entry) => [label(entry), entry]));
  const afterLabels = new Set(after.map(label));
  const reasons: string[] = [];
  for (const entry of after) {
    const was = beforeByLabel.get(label(entry));
    if (!was) reasons.push(`style reference added: ${label(entry)}`);
    else if (was.image !== entry.image) {
      const text = `style reference ${label(entry)} changed`;
      reasons.push(entry.file === undefined && after.length === 1 ? upstreamReason(context, 'reference', text) : text);
    }
  }
  for (const entry of before) if (!afterLabels.has(label(entry))) reasons.push(`style reference removed: ${label(entry)}`);
  if (reasons.length === 0) reasons.push(`style references reordered: ${before.map(label).join(', ')} → ${after.map(label).join(', ')}`);
  return reasons;
}

const describeGenerate: Describer = (changes, context, previous, current) => {
  const reasons: string[] = [];
  const prompt = changes.get('prompt');
  changes.delete('prompt');
  if (prompt) reasons.push(`prompt: ${diffWords(String(prompt.before ?? ''), String(prompt.after ?? ''))}`);
  for (const field of ['provider', 'model', 'size', 'quality', 'seed']) {
    const change = changes.get(field);
    changes.delete(field);
    if (change) reasons.push(`${field}: ${arrow(change)}`);
  }
  for (const [field, change] of take(changes, 'options')) reasons.push(`option ${field}: ${arrow(change)}`);
  const listed = previous['references'] !== undefined || current['references'] !== undefined;
  reasons.push(...(listed ? referenceListReasons(changes, context, previous, current) : referenceReasons(changes, 'reference', context, previous, current)));
  const version = stepVersionReason('generate', changes.get('version'));
  changes.delete('version');
  const tool = take(changes, 'tool');
  // A new provider brings its own tool fingerprint: the provider line already says it.
  if (!reasons.some((r) => r.startsWith('provider:'))) {
    const toolChange = toolReason(`${showValue(current.provider)} provider version`, tool);
    if (toolChange) reasons.push(toolChange);
  }
  if (version) reasons.push(version);
  return [...reasons, ...rest(changes)];
};

const describeUpscale: Describer = (changes, context, previous, current) => {
  const reasons: string[] = [];
  const input = changes.get('input');
  changes.delete('input');
  const off = (fp: Fingerprint) => fp.engine === 'none';
  if (off(previous) !== off(current)) {
    reasons.push(off(current) ? `upscale turned off (was ${showValue(previous.engine)} ×${showValue(previous.scale)})` : `upscale turned on: ${showValue(current.engine)} ×${showValue(current.scale)}`);
  } else {
    for (const field of ['engine', 'scale', 'model', 'sharpen', 'tile', 'fallback']) {
      const change = changes.get(field);
      if (change) reasons.push(`${field === 'engine' ? 'upscale engine' : field === 'model' ? 'upscale model' : field}: ${arrow(change)}`);
    }
    const version = stepVersionReason('upscale', changes.get('version'));
    const tool = toolReason(`${showValue(current.engine)} version`, take(changes, 'tool'));
    if (tool && !changes.has('engine')) reasons.push(tool);
    if (version) reasons.push(version);
  }
  if (input) reasons.push(upstreamReason(context, 'input', 'upstream changed'));
  return reasons;
};

const describeNormalize: Describer = (changes, context, previous, current) => {
  const reasons = referenceReasons(changes, 'whiteBalance', context, previous, current);
  const version = stepVersionReason('normalize', changes.get('version'));
  if (version) reasons.push(version);
  if (changes.has('input')) reasons.push(upstreamReason(context, 'input', 'upstream changed'));
  return reasons;
};

/** Target fields the manifest sets; the others (pixel and mm sizes) follow from them. */
const TARGET_LABELS: Record<string, string> = {
  paper: 'paper',
  orientation: 'orientation',
  dpi: 'dpi',
  bleedMm: 'bleed (mm)',
  fit: 'fit',
  format: 'format',
  quality: 'jpeg quality',
  preflight: 'preflight',
  minDpi: 'preflight minDpi',
  inkLimit: 'preflight inkLimit',
  'color.profile': 'color profile',
  'color.intent': 'rendering intent',
  'color.bpc': 'black point compensation',
};
/** Target fields that change the pixel size. */
const SIZING_FIELDS = new Set(['paper', 'orientation', 'dpi', 'bleedMm']);
const DERIVED_TARGET_FIELDS = new Set(['width', 'height', 'trimWidth', 'trimHeight', 'widthMm', 'heightMm', 'id']);

const size = (w: unknown, h: unknown) => (w === undefined || h === undefined ? '(none)' : `${w}x${h}`);

const describeRender: Describer = (changes, context, previous, current) => {
  const reasons: string[] = [];
  const target = take(changes, 'target');
  const primary: string[] = [];
  let sizing = -1;
  for (const [field, label] of Object.entries(TARGET_LABELS)) {
    const change = target.get(field);
    if (!change) continue;
    if (sizing < 0 && SIZING_FIELDS.has(field)) sizing = primary.length;
    primary.push(`${label}: ${arrow(change)}`);
  }
  const pt = previous.target as Record<string, unknown> | undefined;
  const ct = current.target as Record<string, unknown> | undefined;
  const pixels = target.has('width') || target.has('height') ? `${size(pt?.width, pt?.height)} → ${size(ct?.width, ct?.height)} px` : undefined;
  const mm = target.has('widthMm') || target.has('heightMm') ? `${size(pt?.widthMm, pt?.heightMm)} → ${size(ct?.widthMm, ct?.heightMm)} mm` : undefined;
  // The pixel size follows from paper, dpi and bleed: say it once, beside what the user changed.
  if (pixels && sizing >= 0) primary[sizing] += ` (${pixels})`;
  reasons.push(...primary);
  if (pixels && sizing < 0) reasons.push(`size: ${pixels}`);
  else if (!pixels && mm && !target.has('paper')) reasons.push(`trim size: ${mm}`);
  for (const [field, change] of target) {
    if (!TARGET_LABELS[field] && !DERIVED_TARGET_FIELDS.has(field)) reasons.push(`${field}: ${arrow(change)}`);
  }

  const profile = take(changes, 'profile');
  if (profile.size > 0 && !target.has('color.profile')) {
    const pp = previous.profile as { name?: string; file?: string; builtin?: boolean } | undefined;
    const cp = current.profile as { name?: string; file?: string; builtin?: boolean } | undefined;
    const name = cp?.name ?? '';
    if (pp?.file && cp?.file) {
      const file = context.profileFile?.(name);
      reasons.push(file ? `ICC profile file ${file} changed` : `ICC profile "${name}" file changed`);
    } else {
      const describe = (p: typeof pp) => (p?.builtin ? `built-in ${p.name}` : (context.profileFile?.(p?.name ?? '') ?? `file "${p?.name}"`));
      reasons.push(`ICC profile: ${describe(pp)} → ${describe(cp)}`);
    }
  }
  const tool = toolReason('imaging library version', take(changes, 'tool'));
  if (tool) reasons.push(tool);
  const provenance = take(changes, 'provenance');
  const metadata = take(provenance, 'metadata');
  if (metadata.size > 0) reasons.push(...rest(metadata).map((change) => `metadata ${change}`));
  // The prompt, provider and model change the generation too: "upstream changed" says it.
  const fields = [...provenance.keys()].filter((field) => !GENERATION_FACTS.has(field));
  if (fields.length > 0) reasons.push(fields.includes('provenance') ? 'provenance metadata added' : `provenance metadata: ${fields.join(', ')} changed`);
  const version = stepVersionReason('render', changes.get('version'));
  if (version) reasons.push(version);
  if (changes.has('input')) reasons.push(upstreamReason(context, 'input', 'upstream changed'));
  return reasons;
};

/** Provenance facts that only change with the generation (src/graph/provenance.ts). */
const GENERATION_FACTS = new Set(['promptHash', 'provider', 'model']);

const describeSource: Describer = (changes, _context, previous, current) => {
  if (changes.has('file')) return [`source file: ${showValue(previous.file)} → ${showValue(current.file)}`];
  return [`source file ${showValue(current.file)} changed`];
};

/** The white-balance statistics of a reference: they change with its pixels (or the method). */
const describeBalance: Describer = (changes, context) => {
  const reasons: string[] = [];
  const version = stepVersionReason('balance', changes.get('version'));
  if (version) reasons.push(version);
  if (changes.has('input')) reasons.push(upstreamReason(context, 'input', 'upstream changed'));
  return reasons;
};

const describeGeneric: Describer = (changes) => rest(changes);

const DESCRIBERS: Record<string, Describer> = {
  generate: describeGenerate,
  upscale: describeUpscale,
  normalize: describeNormalize,
  render: describeRender,
  balance: describeBalance,
  source: describeSource,
  prompt: (changes) => {
    const text = changes.get('text');
    return text ? [`prompt: ${diffWords(String(text.before ?? ''), String(text.after ?? ''))}`] : [];
  },
};

/**
 * A short word-level diff of two texts: `"...teal kraft paper" → "...green kraft paper"`.
 * Keeps the words that differ with a little context either side; whole texts when short.
 */
export function diffWords(before: string, after: string, options: { context?: number; maxChars?: number } = {}): string {
  const maxChars = options.maxChars ?? 60;
  const quote = (s: string) => JSON.stringify(s);
  if (before.length <= 32 && after.length <= 32) return `${quote(before)} → ${quote(after)}`;
  const a = before.split(/\s+/).filter(Boolean);
  const b = after.split(/\s+/).filter(Boolean);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  if (start === a.length && start === b.length) return `whitespace changed: ${quote(shorten(before, maxChars))} → ${quote(shorten(after, maxChars))}`;
  // A replaced word needs no left context ("...teal kraft" → "...green kraft"); an inserted or
  // deleted one does, or the two sides would read alike.
  const replaced = endA > start && endB > start;
  const left = Math.max(0, start - (options.context ?? (replaced ? 0 : 1)));
  const rightA = Math.min(a.length, endA + (options.context ?? 2));
  const rightB = Math.min(b.length, endB + (options.context ?? 2));
  const piece = (words: string[], end: number) => {
    let text = words.slice(left, end).join(' ');
    const cut = text.length > maxChars;
    if (cut) text = text.slice(0, maxChars - 3);
    return `${left > 0 ? '...' : ''}${text}${cut || end < words.length ? '...' : ''}`;
  };
  return `${quote(piece(a, rightA))} → ${quote(piece(b, rightB))}`;
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
