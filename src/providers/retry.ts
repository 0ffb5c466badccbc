/**
 * The one retry policy for remote providers: exponential backoff with full jitter, honouring the
 * server's `retry-after-ms` / `retry-after` headers, capped, and cancellable at once.
 *
 * Provider-agnostic: a provider turns whatever its transport throws into a `ProviderError`
 * (retryable or not, with the server's suggested delay) and hands the attempt to `withRetry`.
 *
 * Defaults (overridable per asset through `generate.options`):
 *
 * | option            | default  | meaning                                               |
 * |-------------------|----------|-------------------------------------------------------|
 * | maxRetries        | 5        | retries after the first request (6 attempts in all)   |
 * | retryBaseDelayMs  | 1000     | first backoff ceiling; doubles with every retry       |
 * | retryMaxDelayMs   | 60000    | no wait is longer, `retry-after` included             |
 * | timeoutMs         | 300000   | per request; high-quality 4K images take minutes, and |
 * |                   |          | a request cut short may still be billed               |
 */

import { ExitCode, GptError } from '../util/errors.js';

export const RETRY_DEFAULTS = {
  maxRetries: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  timeoutMs: 300_000,
} as const;

/** A runtime failure from a remote provider, with what the retry policy and the report need. */
export class ProviderError extends GptError {
  /** HTTP status, when the server answered. */
  readonly status: number | undefined;
  /** The provider's own error code (`rate_limit_exceeded`, `moderation_blocked`, ...). */
  readonly providerCode: string | undefined;
  /** The server's request id, for support tickets. */
  readonly requestId: string | undefined;
  /** How long the server asked us to wait before trying again. */
  readonly retryAfterMs: number | undefined;
  /** Requests actually sent for this image before giving up (set by the provider). */
  requests = 0;
  retries = 0;

  constructor(
    code: string,
    message: string,
    options: {
      hint?: string;
      retryable?: boolean;
      haltsProvider?: boolean;
      status?: number;
      providerCode?: string;
      requestId?: string;
      retryAfterMs?: number;
      exitCode?: ExitCode;
    } = {},
  ) {
    super(code, message, {
      hint: options.hint,
      retryable: options.retryable,
      haltsProvider: options.haltsProvider,
      exitCode: options.exitCode,
    });
    this.name = 'ProviderError';
    this.status = options.status;
    this.providerCode = options.providerCode;
    this.requestId = options.requestId;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Plain fields only: what a report or log line may carry. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      hint: this.hint,
      status: this.status,
      providerCode: this.providerCode,
      requestId: this.requestId,
      retryable: this.retryable,
      haltsProvider: this.haltsProvider,
      requests: this.requests,
      retries: this.retries,
    };
  }
}

export interface RetryDecision {
  retry: boolean;
  /** Short words for reporters: "HTTP 429 rate_limit_exceeded", "timeout". */
  reason: string;
  /** The server's requested wait; replaces the computed backoff (still capped). */
  retryAfterMs?: number;
}

export interface RetryInfo {
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RetryOptions {
  /** Attempts in all, the first included (>= 1). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
  /** Decides whether an error is worth another attempt. Default: `classifyGptError`. */
  classify?: (err: unknown) => RetryDecision;
  /** For tests: a source of [0, 1). */
  random?: () => number;
}

/** The default classifier: a `GptError` says itself whether it is retryable. */
export function classifyGptError(err: unknown): RetryDecision {
  if (err instanceof ProviderError) {
    return { retry: err.retryable, reason: err.message, retryAfterMs: err.retryAfterMs };
  }
  if (err instanceof GptError) return { retry: err.retryable, reason: err.message };
  return { retry: false, reason: err instanceof Error ? err.message : String(err) };
}

/**
 * Runs `fn` until it succeeds, a failure is not retryable, attempts run out or `signal` aborts.
 * Throws the last error `fn` threw, or a `GptError` E_CANCELLED on abort.
 *
 * @example
 * const image = await withRetry((attempt) => send(attempt), { maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 60000, signal });
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const classify = options.classify ?? classifyGptError;
  const random = options.random ?? Math.random;
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts));
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await fn(attempt);
    } catch (err) {
      if (options.signal?.aborted) throw cancelled();
      const decision = classify(err);
      if (!decision.retry || attempt >= maxAttempts) throw err;
      const delayMs = backoffDelayMs(attempt, options, decision.retryAfterMs, random);
      options.onRetry?.({ attempt, delayMs, reason: decision.reason });
      await sleep(delayMs, options.signal);
    }
  }
}

/**
 * The wait before retry number `retry` (1-based): the server's `retryAfterMs` when it gave one,
 * else full jitter, uniform in [0, min(maxDelayMs, baseDelayMs * 2^(retry-1))]; never above maxDelayMs.
 */
export function backoffDelayMs(
  retry: number,
  limits: { baseDelayMs: number; maxDelayMs: number },
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return Math.min(limits.maxDelayMs, Math.ceil(retryAfterMs));
  }
  const ceiling = Math.min(limits.maxDelayMs, limits.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The server's requested wait from `retry-after-ms` (milliseconds) or `retry-after` (seconds,
 * or an HTTP date), as OpenAI and most gateways send them. Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  headers: { get(name: string): string | null } | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const after = headers.get('retry-after');
  if (after === null || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(after);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Retry settings from `generate.options`, with the documented defaults. */
export function retrySettings(options: Record<string, unknown>): {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
} {
  const num = (key: string, fallback: number): number => {
    const v = options[key];
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : fallback;
  };
  return {
    maxAttempts: Math.floor(num('maxRetries', RETRY_DEFAULTS.maxRetries)) + 1,
    baseDelayMs: num('retryBaseDelayMs', RETRY_DEFAULTS.baseDelayMs),
    maxDelayMs: num('retryMaxDelayMs', RETRY_DEFAULTS.maxDelayMs),
    timeoutMs: num('timeoutMs', RETRY_DEFAULTS.timeoutMs),
  };
}

export function cancelled(): GptError {
  return new GptError('E_CANCELLED', 'cancelled', { exitCode: ExitCode.interrupted });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}

/** Waits `ms`, or rejects with E_CANCELLED the moment `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
