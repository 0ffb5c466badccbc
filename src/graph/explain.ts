import type { Fingerprint } from './keys.js';

/**
 * Why a node runs, in words: a diff of its previous and current fingerprint objects.
 * Each changed field becomes one reason ("prompt text changed", "quality: low → high").
 */
export function explainChange(previous: Fingerprint | undefined, current: Fingerprint): string[] {
  if (!previous) return ['new'];
  const reasons: string[] = [];
  const before = flatten(previous);
  const after = flatten(current);
  const fields = new Set([...before.keys(), ...after.keys()]);
  const seen = new Set<string>();
  for (const field of fields) {
    const a = before.get(field);
    const b = after.get(field);
    if (a === b) continue;
    const reason = describeField(current.kind, field, a, b);
    if (!seen.has(reason)) {
      seen.add(reason);
      reasons.push(reason);
    }
  }
  return reasons.length > 0 ? reasons : ['cache entry missing'];
}

function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, JSON.stringify(value) ?? 'undefined');
  }
  return out;
}

const show = (json: string | undefined): string => {
  if (json === undefined || json === 'undefined' || json === 'null') return '(none)';
  const text = json.startsWith('"') ? (JSON.parse(json) as string) : json;
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

function describeField(kind: string, field: string, before: string | undefined, after: string | undefined): string {
  const top = field.split('.')[0] ?? field;
  if (field === 'prompt' || field === 'text') return 'prompt text changed';
  if (top === 'input') return 'upstream image changed';
  if (field === 'reference.image') return 'style reference image changed';
  if (field === 'whiteBalance.image') return 'white-balance reference image changed';
  if (top === 'tool' || field === 'version') return `${kind === 'render' ? 'imaging library' : 'tool'} version changed (${field}: ${show(before)} → ${show(after)})`;
  if (field === 'profile.file') return 'ICC profile file changed';
  if (field === 'hash' && kind === 'source') return 'source file changed';
  const name = field.replace(/^(target|options)\./, '');
  return `${name}: ${show(before)} → ${show(after)}`;
}
