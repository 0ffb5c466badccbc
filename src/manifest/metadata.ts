import type { RawMetadata } from './raw.js';
import type { AssetMetadata } from './types.js';

/**
 * `metadata:` (copyright, credit, usage terms, keywords): defaults.metadata, then the asset's
 * own, field by field. A field set to "" (or keywords to []) clears the default; what is left
 * empty is dropped, so an asset without any has no metadata at all (and its render key does
 * not change).
 */
export function resolveMetadata(defaults: RawMetadata | undefined, own: RawMetadata | undefined): AssetMetadata | undefined {
  const merged = { ...defaults, ...definedFields(own) };
  const metadata: AssetMetadata = {};
  for (const field of ['copyright', 'credit', 'usageTerms'] as const) {
    const value = merged[field]?.trim();
    if (value) metadata[field] = value;
  }
  const keywords = (merged.keywords ?? []).map((k) => k.trim()).filter((k) => k !== '');
  if (keywords.length > 0) metadata.keywords = [...new Set(keywords)];
  return Object.keys(metadata).length > 0 ? metadata : undefined;
}

function definedFields(raw: RawMetadata | undefined): RawMetadata {
  return Object.fromEntries(Object.entries(raw ?? {}).filter(([, value]) => value !== undefined));
}

/** A catalog cell may hold several keywords: "red; leather; shoes". */
export function splitKeywords(text: string): string[] {
  return text.split(';').map((k) => k.trim()).filter((k) => k !== '');
}
