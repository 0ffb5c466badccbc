import type { StoredAction, Store } from '../../cache/store.js';
import type { BuildGraph, GraphNode } from '../../graph/graph.js';
import type { NodeDecision } from '../../graph/plan.js';
import type { ResolvedAsset, ResolvedManifest } from '../../manifest/types.js';
import type { ReportOutput } from '../../report/types.js';
import type { GptError } from '../../util/errors.js';
import type { RawImage } from '../../util/image.js';
import type { Result } from '../../util/result.js';
import type { BuildEvent } from '../events.js';
import type { BatchScheduler } from '../batch-scheduler.js';
import type { NodeOutcome } from '../outcomes.js';
import type { Pool, RateLimiter } from '../pool.js';
import type { CandidateImages } from '../variants.js';

/**
 * One execution per node kind (engine/execution/<kind>.ts), all with this interface: the
 * executor (engine/executor.ts) decides when a node runs and what its outcome is; an execution
 * only does the work of its kind. Expected failures are returned as values.
 */
export interface Execution {
  /**
   * Makes the node's output, reading its inputs through `services`. A stored kind puts it in
   * the store under an action record; a kind recomputed on demand (decision.persisted false)
   * hands back its pixels for the consumer that asked. Either says `services.started` once it
   * has its inputs and begins its own work.
   */
  execute(job: ExecutionJob, services: ExecutionServices): Promise<ExecutionResult>;
  /** What a result found in the cache still needs (render: its deliverable in out/). */
  reuse?(job: ExecutionJob, record: StoredAction, services: ExecutionServices): Promise<Result<Reused, ExecutionFailure>>;
}

export interface ExecutionJob {
  node: GraphNode;
  asset: ResolvedAsset;
  decision: NodeDecision;
  /** Why it runs, as `plan` says it. */
  reasons: string[];
  /** When the executor picked the node up (the step's `ms` counts from here). */
  started: number;
}

export interface Executed {
  /** Content hash of the stored output; for on-demand kinds the decision's output name. */
  outputHash: string;
  meta?: Record<string, unknown>;
  costUsd?: number;
  requests?: number;
  retries?: number;
  /** Renders: the deliverable written to out/. */
  output?: ReportOutput;
  /** On-demand kinds: the pixels made. */
  pixels?: RawImage;
}

export interface Reused {
  output?: ReportOutput;
  restored?: boolean;
}

/**
 * Why a node did not succeed: failed (said to the user as an error), skipped (a reason),
 * pending (in a provider batch that has not answered: a later build collects it), or an input
 * that did not build (`failedNode`: the executor words it).
 */
export type ExecutionFailure =
  | { status: 'failed'; error: GptError; requests?: number; retries?: number }
  | { status: 'skipped'; reason: string; requests?: number; retries?: number }
  | { status: 'pending'; reason: string; requests?: number; retries?: number }
  | { status: 'upstream'; failedNode: string; requests?: number; retries?: number };

export type ExecutionResult = Result<Executed, ExecutionFailure>;

/** An input's pixels, or the node upstream whose failure means there are none. */
export type PixelResult = Result<RawImage, { failedNode: string }>;

/** The step runners (src/steps), loaded on first use: they pull in sharp and LittleCMS. */
export type StepsModule = typeof import('../../steps/index.js');

export interface Pools {
  generate: Pool;
  process: Pool;
  gpu: Pool;
}

/** What the executor lends every execution for one build. */
export interface ExecutionServices {
  /** The asset's generation waits on a provider batch: let the next assets start meanwhile. */
  waitingOnBatch: (asset: string) => void;
  graph: BuildGraph;
  manifest: ResolvedManifest;
  store: Store;
  pools: Pools;
  rate: RateLimiter | undefined;
  /** Aborted when the build stops (Ctrl-C, --fail-fast): nothing new starts. */
  signal: AbortSignal;
  /** Aborts requests already sent (BuildOptions.hardStop only). */
  requestSignal: AbortSignal;
  /** A folder for the build's temporary files. */
  tmpDir: string;
  frozen: boolean;
  skipGenerate: ((asset: string, key: string) => string | undefined) | undefined;
  /** Providers halted by an error that would fail every further request (a 401), with it. */
  haltedProviders: Map<string, GptError>;
  /** Generate nodes that ran: every candidate's image, for the lock file. */
  madeCandidates: Map<string, CandidateImages>;
  /** Provider batches (generate.batch, --batch): batched calls go here instead of the generate pool. */
  batches: BatchScheduler;
  emit(event: BuildEvent): void;
  /** Says the node started its work (once it holds its pool slot). */
  started(node: GraphNode, reasons: string[]): void;
  warn(node: GraphNode, message: string): void;
  steps(): Promise<StepsModule>;
  /** The step runners for a job holding a slot of `pool`: image jobs share the cores. */
  stepsWithCores(pool: keyof Pools): Promise<StepsModule>;
  /** What became of a node already settled (a render reads its upstream hashes for its provenance). */
  outcome(id: string): NodeOutcome | undefined;
  /** An input's pixels (decoded from the store, or computed on demand). */
  pixels(id: string): Promise<PixelResult>;
  /** An input's small stored output, parsed as JSON (the balance step's statistics). */
  data(id: string): Promise<Result<unknown, { failedNode: string }>>;
  /** Keeps a stored node's fresh pixels in memory for its consumers (while few are held). */
  keepPixels(id: string, image: RawImage): void;
  /** Waits until the asset may hold full-size pixels (bounds memory across a batch). */
  admit(asset: string): Promise<void>;
  /** The encoded bytes of an asset's image (image-to-image requests), or the failed node. */
  encodedImage(id: string): Promise<Result<{ assetId: string; image: Buffer }, { failedNode: string }>>;
  /** Writes a render's deliverable into out/ (atomically), and records it. */
  writeDeliverable(node: GraphNode, hash: string): Promise<void>;
  /** Restores a deleted or edited deliverable from the store; true when it had to. */
  ensureDeliverable(node: GraphNode, hash: string): Promise<boolean>;
  deliverableInfo(node: GraphNode, meta: Record<string, unknown>): ReportOutput;
}

/** A stored action record for a node's output. */
export function actionRecord(job: ExecutionJob, output: { hash: string; size: number; ext: string }, meta: Record<string, unknown>, extra: { costUsd?: number } = {}) {
  return {
    version: 1 as const,
    key: job.decision.key,
    nodeId: job.node.id,
    kind: job.node.kind,
    output,
    fingerprint: job.decision.fingerprint,
    meta,
    ms: Date.now() - job.started,
    ...extra,
    createdAt: new Date().toISOString(),
  };
}

/** An input that did not build: the consumer does not run. */
export const upstream = (input: { failedNode: string }): ExecutionFailure => ({ status: 'upstream', failedNode: input.failedNode });
