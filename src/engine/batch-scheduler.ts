import { createHash } from 'node:crypto';
import {
  loadBatchInput,
  loadBatchState,
  newLocalId,
  removeBatchInput,
  saveBatchInput,
  openRequestFor,
  saveBatchState,
  type BatchRecord as StoredBatch,
  type BatchRequestEntry as StoredRequest,
  type BatchStateFile as StoredBatches,
} from '../cache/batch-state.js';
import type { Store } from '../cache/store.js';
import type { GenerateParams, ResolvedAsset } from '../manifest/types.js';
import { parseSize } from '../graph/keys.js';
import { batched, FINAL_BATCH_STATUSES, INPUT_LOST, unansweredError, type BatchBackend, type BatchConnection, type RemoteBatch } from '../providers/batch-types.js';
import { loadBatchBackend } from '../providers/batch-registry.js';
import { sleep } from '../providers/retry.js';
import { referenceFields, referenceImages, type GenerateRequest, type GenerateResult, type ReferenceImage } from '../providers/types.js';
import { GptError, toGptError } from '../util/errors.js';

/**
 * Sends generations through a provider's batch API instead of one request each, and hands
 * each node its image when the batch is done, as if it had been made directly.
 *
 * Requests that arrive together (within COLLECT_MS of each other) go into one batch per
 * endpoint. Every step of a batch's life is written to .gpt4k/batches.json before it is
 * awaited (cache/batch-state.ts), and a request whose key an open batch already holds waits
 * for that batch: a killed build, or one run a day later, never submits a node twice.
 * When a batch ends, every result is put in the store at once (the nodes of other builds
 * too), so nothing paid for is lost.
 */

/** batches.json as the engine reads it: each request with its generate parameters. */
type BatchRecord = StoredBatch<GenerateParams>;
type BatchRequestEntry = StoredRequest<GenerateParams>;
type BatchStateFile = StoredBatches<GenerateParams>;

/** How long requests are collected into one batch after the last one arrived. */
const COLLECT_MS = 150;
const DEFAULT_POLL_MS = 10_000;
const MAX_POLL_MS = 120_000;

/** The node is in a batch that has not answered yet (`build --no-wait`). */
export class BatchPending extends Error {
  constructor(readonly batchId: string) {
    super(`waiting for batch ${batchId}: build again later to collect the image`);
  }
}

export interface BatchJob {
  nodeId: string;
  asset: string;
  key: string;
  fingerprint: unknown;
  /** Extra action-record metadata (variant). */
  meta: Record<string, unknown>;
  request: GenerateRequest;
}

export interface BatchSchedulerOptions {
  cacheDir: string;
  store: Store;
  pricing: Record<string, unknown>;
  /** false: submit (or poll once) and leave the nodes pending. */
  wait: boolean;
  signal: AbortSignal;
  /** Progress lines (`batch b_1: 3/6 done, 0 failed, est. 2 min`). */
  onInfo: (message: string) => void;
  /** Said once per provider that was asked to batch but has no batch mode (its requests go direct). */
  onWarning: (message: string) => void;
}

interface Deferred {
  resolve: (result: GenerateResult) => void;
  reject: (error: unknown) => void;
  promise: Promise<GenerateResult>;
}

function deferred(): Deferred {
  let resolve!: Deferred['resolve'];
  let reject!: Deferred['reject'];
  const promise = new Promise<GenerateResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A node that stopped listening (cancelled) must not turn this into an unhandled rejection.
  promise.catch(() => undefined);
  return { resolve, reject, promise };
}

interface Group {
  backend: BatchBackend;
  conn: BatchConnection;
  endpoint: string;
  jobs: Array<{ job: BatchJob; waiter: Deferred }>;
}

const connectionOf = (record: BatchRecord): BatchConnection => ({
  ...(record.baseURL ? { baseURL: record.baseURL } : {}),
  ...(record.apiKeyEnv ? { apiKeyEnv: record.apiKeyEnv } : {}),
});

/** A 4xx other than 408/409/429: the provider refused; nothing was created. */
const refused = (err: unknown) => {
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 && ![408, 409, 429].includes(status);
};

export class BatchScheduler {
  private state: Promise<BatchStateFile> | undefined;
  private readonly groups = new Map<string, Group>();
  private collectTimer: NodeJS.Timeout | undefined;
  /** localId + custom_id -> the node waiting for that answer. */
  private readonly waiters = new Map<string, Deferred>();
  private readonly pollers = new Map<string, Promise<void>>();
  /** Batches this build stopped following, and what their remaining nodes are told. */
  private readonly closed = new Map<string, unknown>();
  private saving: Promise<void> = Promise.resolve();
  private readonly warned = new Set<string>();

  constructor(private readonly options: BatchSchedulerOptions) {}

  private loaded(): Promise<BatchStateFile> {
    return (this.state ??= loadBatchState<GenerateParams>(this.options.cacheDir));
  }

  /** Writes the state as it is now, after any write already under way. */
  private save(): Promise<void> {
    this.saving = this.saving.catch(() => undefined).then(async () => saveBatchState(this.options.cacheDir, await this.loaded()));
    return this.saving;
  }

  /** Whether this request goes through a batch: asked for, or already in an open one. */
  async takes(params: GenerateParams, key: string): Promise<boolean> {
    if (batched(params)) return true;
    if (params.batch && !this.warned.has(params.provider)) {
      this.warned.add(params.provider);
      this.options.onWarning(`generate.batch: provider ${params.provider} has no batch mode in gpt4k; its images are requested directly (full price)`);
    }
    return openRequestFor(await this.loaded(), key) !== undefined;
  }

  async generate(job: BatchJob): Promise<GenerateResult> {
    const state = await this.loaded();
    const open = openRequestFor(state, job.key);
    if (open) {
      const waiter = this.waiterFor(open.record, open.customId);
      void this.follow(open.record);
      return waiter.promise;
    }
    const backend = await loadBatchBackend(job.request.params.provider);
    if (!backend) throw new GptError('E_NO_BATCH', `provider ${job.request.params.provider} has no batch mode`, { hint: 'remove generate.batch for it' });
    const conn = backend.connection(job.request.params);
    const endpoint = backend.endpointFor(job.request);
    const groupKey = JSON.stringify([backend.provider, endpoint, conn]);
    let group = this.groups.get(groupKey);
    if (!group) this.groups.set(groupKey, (group = { backend, conn, endpoint, jobs: [] }));
    const waiter = deferred();
    group.jobs.push({ job, waiter });
    clearTimeout(this.collectTimer);
    this.collectTimer = setTimeout(() => this.submitCollected(), COLLECT_MS);
    return waiter.promise;
  }

  private waiterFor(record: BatchRecord, customId: string): Deferred {
    const id = `${record.localId} ${customId}`;
    let waiter = this.waiters.get(id);
    if (!waiter) this.waiters.set(id, (waiter = deferred()));
    if (this.closed.has(record.localId)) waiter.reject(this.closed.get(record.localId));
    return waiter;
  }

  private submitCollected(): void {
    const groups = [...this.groups.values()];
    this.groups.clear();
    for (const group of groups) {
      if (this.options.signal.aborted) {
        for (const { waiter } of group.jobs) waiter.reject(this.options.signal.reason);
        continue;
      }
      void this.submit(group);
    }
  }

  /** Records, uploads and creates one batch, each step saved before the next is awaited. */
  private async submit(group: Group): Promise<void> {
    const state = await this.loaded();
    const { backend, conn } = group;
    const first = group.jobs[0]?.job.request.params;
    const pollMs = typeof first?.options['batchPollMs'] === 'number' ? first.options['batchPollMs'] : undefined;
    const record: BatchRecord = {
      localId: newLocalId(), provider: backend.provider, endpoint: group.endpoint, ...conn, phase: 'preparing',
      createdAt: new Date().toISOString(), ...(pollMs !== undefined ? { pollMs } : {}), requests: {},
    };
    const customIds = group.jobs.map(({ job }, i) => `${i + 1}-${job.key.slice(0, 16)}`);
    group.jobs.forEach(({ job, waiter }, i) => {
      const customId = customIds[i] as string;
      record.requests[customId] = {
        key: job.key, nodeId: job.nodeId, asset: job.asset, fingerprint: job.fingerprint, params: job.request.params, meta: job.meta,
        ...(job.request.reference ? { reference: job.request.reference.assetId } : {}),
      };
      this.waiters.set(`${record.localId} ${customId}`, waiter);
    });
    state.batches.push(record);
    try {
      await this.save();
      const lines: Record<string, unknown>[] = [];
      for (const [i, { job }] of group.jobs.entries()) {
        const fileIds: string[] = [];
        if (backend.uploadReference) {
          for (const ref of referenceImages(job.request)) fileIds.push(await this.referenceFileId(backend, conn, ref.image, `${ref.assetId}.png`));
        }
        lines.push(backend.requestLine(customIds[i] as string, job.request, fileIds));
      }
      // Inline requests are kept beside batches.json: a resumed build creates the batch from them.
      if (backend.uploadInput) record.inputFileId = await backend.uploadInput(conn, lines);
      else await saveBatchInput(this.options.cacheDir, record.localId, lines);
      record.phase = 'uploaded';
      await this.save();
    } catch (err) {
      // Nothing reached the batch API: forget the record, and the nodes fail with the reason.
      state.batches = state.batches.filter((b) => b !== record);
      await this.save().catch(() => undefined);
      await removeBatchInput(this.options.cacheDir, record.localId).catch(() => undefined);
      for (const { waiter } of group.jobs) waiter.reject(err);
      return;
    }
    await this.follow(record);
  }

  /** The style reference uploaded once (by content), reused by every edits batch. */
  private async referenceFileId(backend: BatchBackend, conn: BatchConnection, image: Buffer, name: string): Promise<string> {
    const state = await this.loaded();
    const id = `${backend.provider}:${conn.baseURL ?? ''}:${createHash('sha256').update(image).digest('hex')}`;
    const known = state.references[id];
    if (known) return known;
    const fileId = await (backend.uploadReference as NonNullable<BatchBackend['uploadReference']>)(conn, image, name);
    state.references[id] = fileId;
    await this.save();
    return fileId;
  }

  /** Polls one batch (once, for --no-wait) until it ends, then stores its results. */
  private follow(record: BatchRecord): Promise<void> {
    let poller = this.pollers.get(record.localId);
    if (!poller) {
      poller = this.poll(record).catch((err: unknown) => this.close(record, err));
      this.pollers.set(record.localId, poller);
    }
    return poller;
  }

  /** Every node still waiting on this batch is told `reason`, and so is any that asks later. */
  private close(record: BatchRecord, reason: unknown): void {
    this.closed.set(record.localId, reason);
    for (const [id, waiter] of this.waiters) if (id.startsWith(`${record.localId} `)) waiter.reject(reason);
  }

  private async poll(record: BatchRecord): Promise<void> {
    const backend = await loadBatchBackend(record.provider);
    if (!backend) throw new GptError('E_NO_BATCH', `provider ${record.provider} has no batch mode`);
    const conn = connectionOf(record);
    if (record.phase === 'uploaded') await this.create(record, backend, conn);
    let delay = record.pollMs ?? DEFAULT_POLL_MS;
    const maxDelay = Math.min(MAX_POLL_MS, delay * 12);
    let said = '';
    for (;;) {
      let remote: RemoteBatch | undefined;
      try {
        remote = await backend.retrieve(conn, record.batchId as string);
      } catch (err) {
        if (!toGptError(err).retryable) throw err;
      }
      if (remote) {
        record.status = remote.status;
        record.counts = remote.counts;
        const progress = describeProgress(remote, record);
        if (progress !== said) this.options.onInfo((said = progress));
        if (FINAL_BATCH_STATUSES.has(remote.status)) return this.collect(record, backend, conn, remote);
        await this.save();
      }
      if (!this.options.wait) return this.close(record, new BatchPending(record.batchId as string));
      await sleep(delay, this.options.signal);
      delay = Math.min(maxDelay, Math.round(delay * 1.5));
    }
  }

  /** The batch reading this input file: one an interrupted build created, or a new one. */
  private async create(record: BatchRecord, backend: BatchBackend, conn: BatchConnection): Promise<void> {
    try {
      const input = record.inputFileId !== undefined ? { fileId: record.inputFileId } : { lines: await loadBatchInput(this.options.cacheDir, record.localId) };
      const remote = await backend.findOrCreate(conn, record.endpoint, input, record.localId);
      record.batchId = remote.id;
      record.status = remote.status;
      record.phase = 'submitted';
      await this.save();
    } catch (err) {
      if (refused(err) || toGptError(err).code === INPUT_LOST) await this.settleAll(record, toGptError(err));
      throw err;
    }
  }

  /** Stores every answer of a finished batch, then hands each waiting node its own. */
  private async collect(record: BatchRecord, backend: BatchBackend, conn: BatchConnection, remote: RemoteBatch): Promise<void> {
    const results = await backend.results(conn, remote, Object.keys(record.requests));
    const outcomes = new Map<string, GenerateResult | GptError>();
    for (const [customId, entry] of Object.entries(record.requests)) {
      if (entry.settled) continue;
      const line = results.get(customId);
      try {
        if (!line) throw unansweredError(remote);
        if (!line.ok) throw line.error;
        const result = await backend.toResult(line.body, entry.params, { endpoint: record.endpoint, batchId: remote.id, ...(entry.reference ? { reference: entry.reference } : {}) }, this.options.pricing);
        await this.commit(record, entry, result);
        entry.settled = 'stored';
        outcomes.set(customId, result);
      } catch (err) {
        const error = toGptError(err);
        entry.settled = 'failed';
        entry.error = { code: error.code, message: error.message };
        outcomes.set(customId, error);
      }
    }
    record.phase = 'done';
    await this.save();
    await removeBatchInput(this.options.cacheDir, record.localId);
    for (const [customId, outcome] of outcomes) {
      const waiter = this.waiters.get(`${record.localId} ${customId}`);
      if (outcome instanceof GptError) waiter?.reject(outcome);
      else waiter?.resolve(outcome);
    }
    this.close(record, new GptError('E_BATCH_DONE', `batch ${remote.id} has ended`));
  }

  /** Every open request of a batch that will never be answered fails with `error`. */
  private async settleAll(record: BatchRecord, error: GptError): Promise<void> {
    for (const entry of Object.values(record.requests)) {
      entry.settled ??= 'failed';
      entry.error ??= { code: error.code, message: error.message };
    }
    record.phase = 'done';
    await this.save();
    await removeBatchInput(this.options.cacheDir, record.localId);
  }

  /** Puts a paid image in the store under its generate key, before anything else happens. */
  private async commit(record: BatchRecord, entry: BatchRequestEntry, result: GenerateResult): Promise<void> {
    const { imageExtension } = await import('../steps/decode.js');
    const object = await this.options.store.putBytes(result.image);
    const p = entry.params;
    await this.options.store.putAction({
      version: 1, key: entry.key, nodeId: entry.nodeId, kind: 'generate',
      output: { hash: object.hash, size: object.size, ext: imageExtension(result.image) },
      fingerprint: entry.fingerprint,
      meta: {
        provider: p.provider, model: p.model, size: p.size, quality: p.quality,
        ...(result.revisedPrompt ? { revisedPrompt: result.revisedPrompt } : {}),
        ...(result.usage ? { usage: result.usage } : {}),
        requests: result.requests, retries: result.retries, ...result.meta, ...entry.meta,
      },
      ms: Date.now() - Date.parse(record.createdAt),
      costUsd: result.costUsd,
      createdAt: new Date().toISOString(),
    });
  }
}

/** `batch batch_1: 180/300 done, 2 failed, est. 40 min` */
export function describeProgress(remote: RemoteBatch, record: BatchRecord): string {
  const { total, completed, failed } = remote.counts;
  const size = total || Object.keys(record.requests).length;
  const elapsed = Date.now() - (remote.createdAt ? remote.createdAt * 1000 : Date.parse(record.createdAt));
  const done = completed + failed;
  const eta = done > 0 && done < size && !FINAL_BATCH_STATUSES.has(remote.status) ? `, est. ${formatMinutes((elapsed * (size - done)) / done)}` : '';
  return `batch ${remote.id} (${remote.status}): ${completed}/${size} done, ${failed} failed${eta}`;
}

function formatMinutes(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  return minutes >= 90 ? `${Math.round(minutes / 60)} h` : `${minutes} min`;
}

/** The batch job of one generate call, as the direct path would have asked the provider. */
export function batchJob(
  nodeId: string,
  asset: ResolvedAsset,
  call: { key: string; fingerprint: unknown; params: GenerateParams; meta: Record<string, unknown> },
  references: ReferenceImage[],
): BatchJob {
  const { width, height } = parseSize(call.params.size);
  return {
    nodeId, asset: asset.id, key: call.key, fingerprint: call.fingerprint, meta: call.meta,
    request: { assetId: asset.id, prompt: asset.prompt, params: call.params, width, height, ...referenceFields(references) },
  };
}
