import type { DeclaredModel } from './types.js';

/**
 * The shape of the providers' model tables, as the loader sees them for the manifest's
 * `models:` section (what `like:` may name, what a declaration may say) without importing
 * providers/, a layer above it: the tables reach the loader through ManifestBackends
 * (backends.ts). `gpt4k models` lists through the same catalogs.
 */

/**
 * One model a provider's table knows, or one the manifest declares, as `gpt4k models` shows it.
 * Provider-neutral: sizes are a list, flexible rules, or (Gemini) aspect ratios and classes.
 */
export interface ModelInfo {
  provider: string;
  id: string;
  /** Other ids served as the same model (dated snapshots, stable and preview names). */
  aliases: string[];
  sizes:
    | { kind: 'list'; values: string[] }
    | { kind: 'flexible'; multipleOf: number; maxEdge: number; maxPixels: number; maxAspect: number; experimentalAbovePixels: number }
    | { kind: 'aspects'; aspectRatios: string[]; imageSizes: string[] };
  /** Empty where the provider takes no quality. */
  qualities: string[];
  maxReferenceImages: number | null;
  /** What its cost rests on: `tokens` (billed by usage, estimated per image), `per-image`, or `declared`. */
  price: { basis: 'tokens' | 'per-image' | 'declared'; summary: string };
  /** `current`, `preview`, `deprecated`, `shut down 2026-10-23`, or `declared`. */
  status: string;
  /** When the entry was checked against its source (YYYY-MM-DD); for a declared model, the manifest. */
  checked: string;
  source: string;
  /** A model from the manifest's `models:` section, and the known model it is like. */
  declared?: boolean;
  like?: string;
}

/** A problem with one field of a model declaration (`field` is the path inside the declaration). */
export interface DeclarationProblem {
  field: Array<string | number>;
  code: string;
  message: string;
  hint?: string;
  severity: 'error' | 'warning';
}

/**
 * A provider's model table, as the loader (for `models:`) and `gpt4k models` reach it: loaded
 * without the provider's SDK.
 */
export interface ModelCatalog {
  provider: string;
  /** Whether the table knows `id` (aliases and dated snapshots included). */
  knows(id: string): boolean;
  /** Every id the table knows, for did-you-mean. */
  ids(): string[];
  /** What is wrong with a declaration of this provider's model (`like` is known to this table). */
  checkDeclaration(model: DeclaredModel): DeclarationProblem[];
  /** What the table knows, then the declared models as they will be checked. */
  list(declared: readonly DeclaredModel[]): ModelInfo[];
}
