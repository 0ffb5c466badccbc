import type { GenerateParams } from '../manifest/types.js';
import { GptError } from '../util/errors.js';
import type { GenerateRequest, GenerateResult } from './types.js';

/** Where a provider's batches live: a base URL (never a key) and the variable that holds the key. */
export interface BatchConnection {
  baseURL?: string;
  apiKeyEnv?: string;
}

/**
 * What a batch reads: an uploaded input file (OpenAI: JSONL through the Files API), or the
 * request lines themselves, sent inline with the creation (Gemini: `InlinedRequest[]`).
 */
export type BatchInput = { fileId: string } | { lines: Record<string, unknown>[] | undefined };

/**
 * The inline requests of a batch that was never created are gone (.gpt4k/batch-inputs deleted):
 * its requests are settled as failed, and the next build submits them again.
 */
export const INPUT_LOST = 'E_BATCH_INPUT_LOST';

/** A provider batch as last seen. */
export interface RemoteBatch {
  id: string;
  /**
   * validating | in_progress | finalizing | completed | failed | expired | cancelling | cancelled
   * (OpenAI's words; other backends map theirs onto these, gemini adds `pending`).
   */
  status: string;
  counts: { total: number; completed: number; failed: number };
  createdAt?: number;
  outputFileId?: string;
  errorFileId?: string;
  /** Why the whole batch failed (validation errors), in the provider's words. */
  errors: string[];
}

/** Statuses after which a batch changes no more. */
export const FINAL_BATCH_STATUSES = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** One request's answer: the response body of a 200, or the error the direct path would raise. */
export type BatchLineResult = { ok: true; body: Record<string, unknown> } | { ok: false; error: GptError };

/**
 * A provider's batch mode (half price, answers within a day). The scheduler
 * (engine/batch-scheduler.ts) decides what goes in a batch and keeps the lifecycle in
 * .gpt4k/batches.json; a backend only speaks to the provider.
 */
export interface BatchBackend {
  readonly provider: string;
  /** The price of a batched image as a fraction of the direct one. */
  readonly discount: number;
  connection(params: GenerateParams): BatchConnection;
  /** Requests with different endpoints go in different batches. */
  endpointFor(request: GenerateRequest): string;
  /**
   * One request line. `referenceFileIds`: the uploaded references, in order (edits), when the
   * backend uploads them; a backend without `uploadReference` puts them in the line itself.
   */
  requestLine(customId: string, request: GenerateRequest, referenceFileIds: string[]): Record<string, unknown>;
  /** Uploads a style reference once for every line that uses it; absent: references go inline. */
  uploadReference?(conn: BatchConnection, image: Buffer, name: string): Promise<string>;
  /**
   * Uploads the lines as the batch's input file. Absent: the lines are sent inline when the
   * batch is created (the scheduler keeps them in .gpt4k until then, for a resumed build).
   */
  uploadInput?(conn: BatchConnection, lines: Record<string, unknown>[]): Promise<string>;
  /**
   * The batch reading this input: found if an earlier (killed) build created it (by its input
   * file, or `localId` in its metadata or display name), else created.
   */
  findOrCreate(conn: BatchConnection, endpoint: string, input: BatchInput, localId: string): Promise<RemoteBatch>;
  retrieve(conn: BatchConnection, batchId: string): Promise<RemoteBatch>;
  cancel(conn: BatchConnection, batchId: string): Promise<RemoteBatch>;
  /**
   * The finished batch's answers by custom_id (output and error files, or inline responses).
   * `customIds`: the batch's requests in the order they were sent, for answers that come back
   * in order rather than named.
   */
  results(conn: BatchConnection, batch: RemoteBatch, customIds: readonly string[]): Promise<Map<string, BatchLineResult>>;
  /** A 200 answer as the direct path's result: the checked image, usage, cost at batch price. */
  toResult(body: Record<string, unknown>, params: GenerateParams, request: { endpoint: string; batchId: string; reference?: string }, pricing: Record<string, unknown> | undefined): Promise<GenerateResult>;
}

/**
 * Providers with a batch mode, and the price of a batched image as a fraction of the direct one.
 * - openai: "Save 50% on inputs and outputs" (platform.openai.com/docs/guides/batch).
 * - gemini: "Batch Mode ... at 50% of the standard cost" (ai.google.dev/gemini-api/docs/batch-mode,
 *   and the Batch column of ai.google.dev/gemini-api/docs/pricing for the image models).
 */
export const BATCH_DISCOUNTS: Readonly<Record<string, number>> = { openai: 0.5, gemini: 0.5 };

/** Whether these parameters go through the provider's batch mode. */
export const batched = (params: GenerateParams): boolean => params.batch === true && BATCH_DISCOUNTS[params.provider] !== undefined;

/** A whole batch that ended without answering some of its requests: what to tell the user. */
export function unansweredError(batch: RemoteBatch): GptError {
  const why = batch.errors.length > 0 ? `: ${batch.errors.slice(0, 3).join('; ')}` : '';
  const code = batch.status === 'expired' ? 'E_BATCH_EXPIRED' : batch.status === 'cancelled' ? 'E_BATCH_CANCELLED' : 'E_BATCH_FAILED';
  const what = batch.status === 'expired' ? 'expired (24 h) before answering this request' : batch.status === 'cancelled' ? 'was cancelled before answering this request' : `failed${why}`;
  return new GptError(code, `batch ${batch.id} ${what}`, { hint: 'build again: only the images without a result are submitted again' });
}
