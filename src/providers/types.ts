import type { GenerateCheckContext } from '../manifest/backends.js';
import type { GenerateParams, PositionedGenerateField } from '../manifest/types.js';
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

/**
 * A request's reference fields for these images: one is `reference`, as every provider reads it;
 * several are `references`, with the first also as `reference` for providers that take one image.
 */
export function referenceFields(images: ReferenceImage[]): Pick<GenerateRequest, 'reference' | 'references'> {
  if (images.length === 0) return {};
  return images.length === 1 ? { reference: images[0]! } : { reference: images[0]!, references: images };
}

/**
 * Where the project is. Providers resolve the files the manifest names (a ComfyUI workflow)
 * against `projectRoot`, which never enters a cache key, so moving the project rebuilds nothing.
 */
export interface ProjectContext {
  /** The manifest's folder (absolute). */
  projectRoot: string;
}

/** Where a `generate:` being checked comes from: the project, the asset's position, each value's. */
export type ValidateContext = GenerateCheckContext;

export interface GenerateContext extends ProjectContext {
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
  /** What identifies the backend's behaviour for cache keys (e.g. its algorithm version, a workflow file's hash). */
  fingerprint(params: GenerateParams, project: ProjectContext): Record<string, string>;
  /**
   * Manifest-time checks of the parameters; positions come from `where.at`, or for a problem
   * with one value (the quality) from where that value was written (`where.fieldAt`).
   */
  validate?(params: GenerateParams, where: ValidateContext): Diagnostic[];
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
  /**
   * Why an edit with `count` input images (a style's references) is more than the model takes
   * (E_TOO_MANY_REFERENCES, at validate time), or undefined.
   */
  referenceLimitProblem?(params: GenerateParams, count: number): { message: string; hint: string } | undefined;
  /**
   * Token-priced providers: the USD of one image that reported this `usage`, at today's prices
   * (plan estimates from the project's earlier images with it); undefined for a usage it cannot price.
   */
  costFromUsage?(params: GenerateParams, usage: Record<string, unknown>, pricing?: Record<string, unknown>): number | undefined;
  /** Whether the manifest's `pricing:` sets this image's price (then estimates use it, not history). */
  hasPriceOverride?(params: GenerateParams, pricing?: Record<string, unknown>): boolean;
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

export type { DeclarationProblem, ModelCatalog, ModelInfo } from '../manifest/model-catalogs.js';
