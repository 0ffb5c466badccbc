import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * .gpt4k/batches.json: every provider batch this project submitted, written before each step
 * of its lifecycle is awaited, so that a build killed at any moment knows on its next run
 * what is already paid for and waits for it instead of submitting it again:
 *
 *     preparing ── input file uploaded ──> uploaded ── batch created ──> submitted ──> done
 *
 * - `preparing`: the requests are decided, nothing is known to have reached the provider
 *   (an input file may have been uploaded; a file alone costs nothing). Resubmitted.
 * - `uploaded`: the input file is known (or, for a provider that takes the requests inline,
 *   they are kept in .gpt4k/batch-inputs/LOCALID.json); the batch may or may not have been
 *   created (the build may have died while `batches.create` was in flight). Resolved by looking
 *   for a batch with that input file (or gpt4k's local id) before creating one.
 * - `submitted`: the batch exists; polled until it ends, then its results are stored.
 * - `done`: every request has a result in the store or a recorded failure.
 */
export type BatchPhase = 'preparing' | 'uploaded' | 'submitted' | 'done';

/**
 * One request of a batch. `Params` is the generate parameters as the engine knows them (the
 * cache layer does not read the manifest's types; it stores them as JSON).
 */
export interface BatchRequestEntry<Params = unknown> {
  /** The generate action key the result is stored under. */
  key: string;
  nodeId: string;
  asset: string;
  /** The node's fingerprint, for the action record (a result may arrive in a later build). */
  fingerprint: unknown;
  /** The parameters the request was made with (model, size, quality, options). */
  params: Params;
  /** The style reference's asset, for edits. */
  reference?: string;
  /** Extra action-record metadata (variant index). */
  meta: Record<string, unknown>;
  /** Set once the result is stored or has failed. */
  settled?: 'stored' | 'failed';
  error?: { code: string; message: string };
}

export interface BatchRecord<Params = unknown> {
  /** gpt4k's own id, sent as batch metadata: finds the batch again if its creation was cut off. */
  localId: string;
  provider: string;
  endpoint: string;
  /** Where the batch lives: the base URL (never a key) and the variable holding the key. */
  baseURL?: string;
  apiKeyEnv?: string;
  phase: BatchPhase;
  createdAt: string;
  /** First poll interval (generate.options.batchPollMs); polls back off from it. */
  pollMs?: number;
  inputFileId?: string;
  batchId?: string;
  /** The provider's status as last seen (validating, in_progress, completed, expired, ...). */
  status?: string;
  counts?: { total: number; completed: number; failed: number };
  /** custom_id -> what it stands for. */
  requests: Record<string, BatchRequestEntry<Params>>;
}

export interface BatchStateFile<Params = unknown> {
  version: 1;
  batches: BatchRecord<Params>[];
  /** Style references uploaded for edits batches: content hash -> file id, uploaded once. */
  references: Record<string, string>;
}

/** Finished batches kept for `gpt4k batches` (the newest ones). */
const KEEP_FINISHED = 20;

export const batchStateFile = (cacheDir: string) => path.join(cacheDir, 'batches.json');

export async function loadBatchState<Params = unknown>(cacheDir: string): Promise<BatchStateFile<Params>> {
  try {
    const data = JSON.parse(await readFile(batchStateFile(cacheDir), 'utf8')) as BatchStateFile<Params>;
    if (data.version === 1 && Array.isArray(data.batches)) return { ...data, references: data.references ?? {} };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
  }
  return { version: 1, batches: [], references: {} };
}

/** Written atomically: a reader (or a killed writer) sees the old file or the new one. */
export async function saveBatchState<Params>(cacheDir: string, state: BatchStateFile<Params>): Promise<void> {
  const finished = state.batches.filter((b) => b.phase === 'done');
  const drop = new Set(finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)));
  state.batches = state.batches.filter((b) => !drop.has(b));
  await writeFileAtomic(batchStateFile(cacheDir), `${JSON.stringify(state, null, 1)}\n`);
}

const batchInputFile = (cacheDir: string, localId: string) => path.join(cacheDir, 'batch-inputs', `${localId}.json`);

/** The request lines of a batch whose provider takes them inline, kept until it is created. */
export async function saveBatchInput(cacheDir: string, localId: string, lines: Record<string, unknown>[]): Promise<void> {
  await mkdir(path.dirname(batchInputFile(cacheDir, localId)), { recursive: true });
  await writeFileAtomic(batchInputFile(cacheDir, localId), JSON.stringify(lines));
}

/** The lines `saveBatchInput` kept; undefined when they are gone. */
export async function loadBatchInput(cacheDir: string, localId: string): Promise<Record<string, unknown>[] | undefined> {
  try {
    return JSON.parse(await readFile(batchInputFile(cacheDir, localId), 'utf8')) as Record<string, unknown>[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export const removeBatchInput = (cacheDir: string, localId: string) => rm(batchInputFile(cacheDir, localId), { force: true });

export const newLocalId = () => `gpt4k_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;

/** The open batch (and custom_id) that will deliver this action key, if one does. */
export function openRequestFor<Params>(state: BatchStateFile<Params>, key: string): { record: BatchRecord<Params>; customId: string } | undefined {
  for (const record of state.batches) {
    if (record.phase === 'done' || record.phase === 'preparing') continue;
    for (const [customId, entry] of Object.entries(record.requests)) {
      if (entry.key === key && !entry.settled) return { record, customId };
    }
  }
  return undefined;
}

/** Action key -> the batch id (or local id) that will deliver it: for `plan`'s pending nodes. */
export function pendingKeys(state: BatchStateFile): Map<string, string> {
  const keys = new Map<string, string>();
  for (const record of state.batches) {
    if (record.phase === 'done' || record.phase === 'preparing') continue;
    for (const entry of Object.values(record.requests)) if (!entry.settled) keys.set(entry.key, record.batchId ?? record.localId);
  }
  return keys;
}

/** `pendingKeys` of the project's batches.json (empty when it has none). */
export async function pendingBatchKeys(cacheDir: string): Promise<Map<string, string>> {
  return pendingKeys(await loadBatchState(cacheDir));
}
