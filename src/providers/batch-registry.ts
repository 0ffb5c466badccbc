import type { BatchBackend } from './batch-types.js';

/**
 * The batch backend of a provider (loaded on first use), or undefined when it has none. Apart
 * from batch-types.ts, which the backends import: no cycle.
 */
export async function loadBatchBackend(provider: string): Promise<BatchBackend | undefined> {
  if (provider === 'openai') return (await import('./openai-batch.js')).openAiBatch;
  if (provider === 'gemini') return (await import('./gemini-batch.js')).geminiBatch;
  return undefined;
}
