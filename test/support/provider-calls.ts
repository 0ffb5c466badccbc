/** What the provider tests share: a context for a direct provider call, and the error a call ends with. */

import { expect } from 'vitest';
import type { GenerateContext } from '../../src/providers/types.js';
import { GptError } from '../../src/util/errors.js';

/**
 * A context for calling a provider directly, recording its retries (and with a price table);
 * files the options name resolve against `projectRoot`.
 */
export function callContext(retries: Array<{ delayMs: number; reason: string }> = [], pricing?: Record<string, unknown>, projectRoot = process.cwd()): GenerateContext {
  return { signal: new AbortController().signal, projectRoot, onRetry: (info) => retries.push(info), ...(pricing ? { pricing } : {}) };
}

/** The GptError a call rejects with; fails the test when it resolves or throws anything else. */
export async function failure(promise: Promise<unknown>): Promise<GptError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GptError);
    return err as GptError;
  }
  throw new Error('expected the call to fail');
}
