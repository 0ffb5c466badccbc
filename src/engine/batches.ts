import path from 'node:path';
import { loadBatchState, type BatchRecord } from '../cache/batch-state.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { RemoteBatch } from '../providers/batch-types.js';
import { loadBatchBackend } from '../providers/batch-registry.js';
import { ExitCode, GptError, toGptError } from '../util/errors.js';

/** One batch as `gpt4k batches` shows it. */
export interface BatchSummary {
  id: string;
  provider: string;
  endpoint: string;
  /** The provider's status, or gpt4k's own phase before the batch exists (preparing, uploaded). */
  status: string;
  open: boolean;
  createdAt: string;
  requests: number;
  completed: number;
  failed: number;
  assets: string[];
  /** Why the status could not be refreshed (the stored one is shown). */
  refreshError?: string;
}

const connectionOf = (record: BatchRecord) => ({
  ...(record.baseURL ? { baseURL: record.baseURL } : {}),
  ...(record.apiKeyEnv ? { apiKeyEnv: record.apiKeyEnv } : {}),
});

function summaryOf(record: BatchRecord, remote?: RemoteBatch, refreshError?: string): BatchSummary {
  const entries = Object.values(record.requests);
  const counts = remote?.counts ?? record.counts;
  return {
    id: record.batchId ?? record.localId,
    provider: record.provider,
    endpoint: record.endpoint,
    status: remote?.status ?? record.status ?? record.phase,
    open: record.phase !== 'done',
    createdAt: record.createdAt,
    requests: entries.length,
    completed: counts?.completed ?? entries.filter((e) => e.settled === 'stored').length,
    failed: counts?.failed ?? entries.filter((e) => e.settled === 'failed').length,
    assets: [...new Set(entries.map((e) => e.asset))],
    ...(refreshError ? { refreshError } : {}),
  };
}

/**
 * The project's open and recent batches, newest first; open ones with their status asked of
 * the provider now. Nothing is written: the next build records what it finds.
 */
export async function listBatches(manifest: ResolvedManifest): Promise<BatchSummary[]> {
  const state = await loadBatchState(path.join(manifest.root, '.gpt4k'));
  const out: BatchSummary[] = [];
  for (const record of [...state.batches].reverse()) {
    if (record.phase === 'done' || !record.batchId) {
      out.push(summaryOf(record));
      continue;
    }
    try {
      const backend = await loadBatchBackend(record.provider);
      out.push(summaryOf(record, await backend?.retrieve(connectionOf(record), record.batchId)));
    } catch (err) {
      out.push(summaryOf(record, undefined, toGptError(err).message));
    }
  }
  return out;
}

/**
 * Cancels an open batch at the provider. Its answered requests are still collected by the
 * next build; the others are built again (only they are resubmitted).
 */
export async function cancelBatch(manifest: ResolvedManifest, id: string): Promise<BatchSummary> {
  const state = await loadBatchState(path.join(manifest.root, '.gpt4k'));
  const record = state.batches.find((b) => b.batchId === id || b.localId === id);
  if (!record) {
    const known = state.batches.filter((b) => b.phase !== 'done').map((b) => b.batchId ?? b.localId);
    throw new GptError('E_UNKNOWN_BATCH', `no batch ${id} in ${path.join('.gpt4k', 'batches.json')}`, {
      hint: known.length > 0 ? `open batches: ${known.join(', ')}` : 'this project has no open batch (gpt4k batches lists them)',
      exitCode: ExitCode.usage,
    });
  }
  if (record.phase === 'done' || !record.batchId) {
    throw new GptError('E_BATCH_NOT_OPEN', `batch ${id} is ${record.phase === 'done' ? 'finished' : 'not created yet'}: nothing to cancel`, { exitCode: ExitCode.usage });
  }
  const backend = await loadBatchBackend(record.provider);
  if (!backend) throw new GptError('E_NO_BATCH', `provider ${record.provider} has no batch mode`);
  return summaryOf(record, await backend.cancel(connectionOf(record), record.batchId));
}
