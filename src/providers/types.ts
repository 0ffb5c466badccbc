import type { DeclaredModel, GenerateParams, PositionedGenerateField } from '../manifest/types.js';
import type { Diagnostic, GptError, SourcePosition } from '../util/errors.js';

/** One image asked of a provider. */
export interface GenerateRequest {
  assetId: string;
  /** Final prompt text (style prefix included). */
  prompt: string;
  params: GenerateParams;
  width: number;
  height: number;
  /** The style's reference image (image-to-image), encoded PNG. */
  reference?: ReferenceImage;
  /**
   * Every reference image, in the order the edit sends them (a style's reference list); when
   * set it replaces `reference`. Read both through `referenceImages`.
   */
  references?: ReferenceImage[];
}

/** One input image of an edit: an asset's image or a file in the project. */
export interface ReferenceImage {
  /** The asset id, or the file's name: names the upload. */
  assetId: string;
  image: Buffer;
  /** Default image/png. */
  contentType?: 'image/png' | 'image/jpeg' | 'image/webp';
}

/** The request's reference images in order: `references`, else the one `reference`, else none. */
export function referenceImages(request: GenerateRequest): ReferenceImage[] {
  return request.references ?? (request.reference ? [request.reference] : []);
}

export interface GenerateContext {
  signal: AbortSignal;
  /** Reports a retry so the reporters and the report can show it. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  /** Waits for a slot of the images-per-minute limit before each request actually sent. */
  acquireRate?: () => Promise<void>;
  /** Pricing overrides from the manifest. */
  pricing?: Record<string, unknown>;
}

export interface GenerateResult {
  /** The encoded image exactly as decoded from the provider (PNG, JPEG or WebP bytes). */
  image: Buffer;
  revisedPrompt?: string;
  usage?: Record<string, unknown>;
  costUsd: number;
  /** Requests actually sent to the provider (retries included). */
  requests: number;
  retries: number;
  /** Provider-side provenance (model, parameters as sent, request ids). */
  meta: Record<string, unknown>;
}

/** An image generation backend. A new backend is one file plus a registry line. */
export interface ImageProvider {
  readonly name: string;
  /** Remote or paid: counted in summary.providerCalls and refused by --frozen. */
  readonly remote: boolean;
  /**
   * Options that change how a request travels (key variable, base URL, timeouts, retries) but
   * not the image: left out of cache keys, so tuning them never forces a paid regeneration.
   */
  readonly transportOptions?: readonly string[];
  /** What identifies the backend's behaviour for cache keys (e.g. its algorithm version). */
  fingerprint(params: GenerateParams): Record<string, string>;
  /**
   * Manifest-time checks of the parameters; positions come from `at`, or for a problem with one
   * value (the quality) from where that value was written (`fieldAt`).
   */
  validate?(params: GenerateParams, at: SourcePosition | undefined, fieldAt?: FieldPositions): Diagnostic[];
  /**
   * For `size: auto-from-targets`: the size this model makes whose aspect (width / height)
   * best matches, largest non-experimental first. Without it, the graph picks a size itself.
   */
  sizeForAspect?(params: GenerateParams, aspect: number): string;
  /**
   * What a request with these parameters would lack before it is sent (no API key in the
   * environment), so `plan` can say so; undefined when nothing is missing.
   */
  credentialProblem?(params: GenerateParams): GptError | undefined;
  /** Estimated USD for one image with these parameters. */
  estimateCostUsd(params: GenerateParams, pricing?: Record<string, unknown>): number;
  generate(request: GenerateRequest, context: GenerateContext): Promise<GenerateResult>;
}

/** Where each positioned `generate:` value was written. */
export type FieldPositions = Partial<Record<PositionedGenerateField, SourcePosition>>;

/** The position a problem with `field` is reported at: where the value was written, else `at`. */
export function positionOf(field: PositionedGenerateField, at: SourcePosition | undefined, fieldAt: FieldPositions | undefined): SourcePosition | undefined {
  return fieldAt?.[field] ?? at;
}

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
