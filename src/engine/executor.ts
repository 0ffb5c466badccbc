import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { ProjectCache } from '../cache/project-cache.js';
import type { BuildGraph, GraphNode } from '../graph/graph.js';
import { decideNode, projectPath, reasonsFor, type NodeDecision, type PlanEnv, type PlanResult } from '../graph/plan.js';
import { GptError, toGptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import { fail, ok, type Result } from '../util/result.js';
import { BatchScheduler } from './batch-scheduler.js';
import type { Deliverables } from './deliverables.js';
import { refOf, type BuildEvent } from './events.js';
import { executionOf } from './execution/index.js';
import type { Execution, ExecutionJob, ExecutionResult, ExecutionServices, PixelResult, Pools, StepsModule } from './execution/types.js';
import type { CachedOutcome, NodeOutcome } from './outcomes.js';
import { noPixels, PixelCache, type OnDemandState } from './pixels.js';
import { Pool, RateLimiter } from './pool.js';
import { SettleWindow, windowSize } from './settle-window.js';
import type { CandidateImages } from './variants.js';

/** The step runners pull in sharp and LittleCMS: loaded on first use, so a no-op build never pays for them. */
let stepsModule: Promise<StepsModule> | undefined;
const loadSteps = () => (stepsModule ??= import('../steps/index.js'));

export interface ExecutorOptions {
  /** Stop at the first failure instead of building the other assets. */
  failFast?: boolean;
  /** Stops the build: nothing new starts; paid requests in flight finish and are stored. */
  signal?: AbortSignal;
  /** Also aborts provider requests already sent (the images are lost). */
  hardStop?: AbortSignal;
  frozen?: boolean;
  skipGenerate?: (asset: string, key: string) => string | undefined;
  /** Batched generations: false submits (or polls once) and leaves them pending (`--no-wait`). */
  batchWait?: boolean;
}

export interface ExecutorInput {
  graph: BuildGraph;
  cache: ProjectCache;
  env: PlanEnv;
  planned: PlanResult;
  /** The nodes of this build, in graph order. */
  order: string[];
  deliverables: Deliverables;
  tmpDir: string;
  options: ExecutorOptions;
  emit: (event: BuildEvent) => void;
}


/**
 * Walks the plan: every node starts as soon as its own inputs are ready (no stage barriers),
 * and what it does is its kind's execution (engine/execution/). The executor knows no kind:
 * it owns the order, the reuse of cached results, the failure policy (a failure skips its
 * dependents and nothing else, unless --fail-fast; cancellation), and the outcomes.
 */
export class Executor {
  readonly outcomes = new Map<string, NodeOutcome>();
  /** Generate nodes that ran: every candidate's image, for the lock file. */
  readonly madeCandidates = new Map<string, CandidateImages>();
  private readonly settled = new Map<string, Promise<NodeOutcome>>();
  /** Nodes recomputed on demand (cheap intermediates), by id. */
  private readonly onDemand = new Map<string, OnDemandState>();
  /** Stored nodes running, by key: a second node with the same key waits for the first. */
  private readonly inFlight = new Map<string, Promise<NodeOutcome>>();
  /** Small stored outputs read as JSON, by node id. */
  private readonly data = new Map<string, Promise<Result<unknown, { failedNode: string }>>>();
  private readonly abort = new AbortController();
  private readonly pixels: PixelCache;
  private readonly services: ExecutionServices;
  private readonly onOuterAbort = () => this.abort.abort(this.input.options.signal?.reason);
  private readonly window = new SettleWindow();

  constructor(private readonly input: ExecutorInput) {
    const { graph, options } = input;
    // Retry waits, rate-limit sleeps and requests listen for the abort too: no warning at 11.
    setMaxListeners(0, this.abort.signal);
    options.signal?.addEventListener('abort', this.onOuterAbort, { once: true });
    if (options.signal?.aborted) this.abort.abort(options.signal.reason);
    const limits = graph.manifest.limits;
    const inOrder = new Set(input.order);
    this.pixels = new PixelCache(graph, input.order, (id) => inOrder.has(id), limits.process, this.onDemand, (node) => this.makePixels(node), this.abort.signal);
    this.services = this.servicesFor({
      generate: new Pool('generate', limits.generate),
      process: new Pool('process', limits.process),
      gpu: new Pool('gpu', limits.gpu),
    });
  }

  /** Whether the build was stopped (cancelled, or --fail-fast after a failure). */
  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  async run(): Promise<void> {
    const pending: string[] = [];
    for (const id of this.input.order) {
      const outcome = this.settleAsPlanned(this.nodeOf(id));
      if (outcome) this.settled.set(id, Promise.resolve(outcome));
      else pending.push(id);
    }
    try {
      await this.settleInWindow(pending);
    } finally {
      this.input.options.signal?.removeEventListener('abort', this.onOuterAbort);
    }
  }

  /** The pending nodes settled asset by asset, a window of assets at a time (engine/settle-window.ts). */
  private settleInWindow(pending: string[]): Promise<void> {
    const byAsset = new Map<string, string[]>();
    for (const id of pending) {
      const asset = this.nodeOf(id).asset;
      const ids = byAsset.get(asset);
      if (ids) ids.push(id);
      else byAsset.set(asset, [id]);
    }
    const { limits } = this.input.graph.manifest;
    return this.window.run([...byAsset], windowSize(limits), (id) => this.settle(id));
  }

  warn(node: GraphNode, message: string): void {
    const outcome = this.outcomes.get(node.id);
    if (outcome) outcome.warnings = [...(outcome.warnings ?? []), message];
    this.input.emit({ type: 'warning', message: `${node.id}: ${message}`, asset: node.asset });
  }

  private nodeOf(id: string): GraphNode {
    return this.input.graph.nodes.get(id) as GraphNode;
  }

  private servicesFor(pools: Pools): ExecutionServices {
    const { graph, cache, options, emit, deliverables } = this.input;
    const limits = graph.manifest.limits;
    return {
      graph,
      manifest: graph.manifest,
      store: cache.store,
      pools,
      rate: limits.imagesPerMinute ? new RateLimiter(limits.imagesPerMinute, Math.min(limits.generate, limits.imagesPerMinute)) : undefined,
      signal: this.abort.signal,
      // Requests in flight are only cut by the caller's own hard stop.
      requestSignal: options.hardStop ?? new AbortController().signal,
      tmpDir: this.input.tmpDir,
      frozen: !!options.frozen,
      skipGenerate: options.skipGenerate,
      haltedProviders: new Map(),
      madeCandidates: this.madeCandidates,
      batches: new BatchScheduler({
        cacheDir: cache.cacheDir, store: cache.store, pricing: graph.manifest.pricing, wait: options.batchWait !== false, signal: this.abort.signal,
        onInfo: (message) => emit({ type: 'info', message }),
        onWarning: (message) => emit({ type: 'warning', message }),
      }),
      emit,
      waitingOnBatch: (asset) => this.window.leave(asset),
      started: (node, reasons) => emit({ type: 'node-start', node: refOf(node), reasons }),
      warn: (node, message) => this.warn(node, message),
      steps: loadSteps,
      stepsWithCores: async (pool) => {
        const steps = await loadSteps();
        if (pool === 'process') steps.shareCores(pools.process.running);
        return steps;
      },
      outcome: (id) => this.outcomes.get(id),
      pixels: (id) => this.pixels.get(id),
      data: (id) => this.storedData(id),
      keepPixels: (id, image) => this.pixels.keep(id, image),
      admit: (asset) => this.pixels.admit(asset),
      encodedImage: (id) => this.encodedImage(id),
      writeDeliverable: (node, hash) => deliverables.write(node, hash),
      ensureDeliverable: (node, hash) => deliverables.ensure(node, hash),
      deliverableInfo: (node, meta) => deliverables.info(node, meta),
    };
  }

  /** Every outcome goes through here: events, the failure policy, and letting go of inputs. */
  private finish(node: GraphNode, outcome: NodeOutcome): NodeOutcome {
    this.outcomes.set(node.id, outcome);
    const onDemand = this.onDemand.has(node.id);
    if (outcome.status === 'failed') {
      this.reportFailure(node, outcome.error);
    } else if (outcome.status === 'skipped') {
      this.input.emit({ type: 'node-skipped', node: refOf(node), reason: outcome.reason });
    } else if (outcome.status === 'pending') {
      // Its dependents wait with it: said once, for the generation in the batch.
      if (node.kind === 'generate') this.input.emit({ type: 'info', message: `pending  ${node.id}: ${outcome.reason}` });
    } else if (node.kind !== 'prompt' && !onDemand) {
      const restored = outcome.status === 'cached' && outcome.restored;
      const costUsd = outcome.status === 'built' ? outcome.costUsd : undefined;
      this.input.emit({ type: 'node-done', node: refOf(node), status: outcome.status, ms: outcome.ms, ...(costUsd ? { costUsd } : {}), ...(restored ? { restored: true } : {}) });
    }
    // A node computed on demand is done with its inputs when its consumers are; one with no
    // consumer in this build (an asset without targets) is done now.
    if (!onDemand || this.pixels.unused(node.id)) this.pixels.releaseInputs(node);
    return outcome;
  }

  /** The failure policy: every failure is said, and --fail-fast stops the build at the first. */
  private reportFailure(node: GraphNode, error: GptError): void {
    this.input.emit({ type: 'node-failed', node: refOf(node), error });
    if (this.input.options.failFast) this.abort.abort(new GptError('E_FAIL_FAST', `stopped after ${node.id} failed (--fail-fast)`));
  }

  /** A later change of a settled node's outcome (one computed on demand, an unreadable image). */
  private replace(id: string, next: NodeOutcome): void {
    const warnings = this.outcomes.get(id)?.warnings;
    this.outcomes.set(id, warnings ? { ...next, warnings } : next);
  }

  private settle(id: string): Promise<NodeOutcome> {
    let promise = this.settled.get(id);
    if (!promise) {
      promise = this.settleNode(this.nodeOf(id));
      this.settled.set(id, promise);
    }
    return promise;
  }

  /** A node not stored (source, prompt, cheap intermediates): named by its decision. */
  private unstoredOutcome(node: GraphNode, decision: NodeDecision, inputs: NodeOutcome[]): CachedOutcome {
    if (executionOf(node.kind)) {
      // Why it runs is worked out if it runs: most never do, and the reasons read the last
      // build's fingerprints.
      this.onDemand.set(node.id, {
        passThrough: decision.outputHash === (inputs[0]?.status === 'cached' || inputs[0]?.status === 'built' ? inputs[0].outputHash : undefined),
        upstreamBuilt: inputs.some((o) => o.status === 'built'),
        inputsReleased: false,
      });
    }
    return { status: 'cached', key: decision.key, decision, outputHash: decision.outputHash as string, ms: 0 };
  }

  /**
   * Settles at once, without a step or a promise, a node the plan found cached whose inputs
   * all settled as planned: a no-op build of a thousand assets is almost only such nodes.
   * Anything else (a step to run, a deliverable to restore) goes through settleNode.
   */
  private settleAsPlanned(node: GraphNode): NodeOutcome | undefined {
    const known = this.input.planned.decisions.get(node.id);
    if (!known || this.abort.signal.aborted) return undefined;
    const inputs: NodeOutcome[] = [];
    for (const [i, input] of node.inputs.entries()) {
      const outcome = this.outcomes.get(input);
      if (!outcome || outcome.status !== 'cached' || outcome.outputHash !== known.inputHashes[i]) return undefined;
      inputs.push(outcome);
    }
    const { decision } = known;
    if (!decision.persisted) return this.finish(node, this.unstoredOutcome(node, decision, inputs));
    if (!decision.record) return undefined;
    const cached: CachedOutcome = { status: 'cached', key: decision.key, decision, outputHash: decision.record.output.hash, ms: 0, meta: decision.record.meta };
    if (!executionOf(node.kind)?.reuse) return this.finish(node, cached);
    if (decision.deliverableIntact !== true) return undefined;
    return this.finish(node, { ...cached, restored: false, output: this.input.deliverables.info(node, decision.record.meta) });
  }

  /** Why a node cannot run: an input that failed or was skipped (skipped), or one still in a provider batch (pending). */
  private brokenInput(node: GraphNode, inputs: NodeOutcome[]): NodeOutcome | undefined {
    const broken = inputs.findIndex((o) => o.status === 'failed' || o.status === 'skipped');
    if (broken < 0) {
      const waiting = inputs.find((o) => o.status === 'pending');
      return waiting?.status === 'pending' ? { status: 'pending', reason: waiting.reason, ms: 0 } : undefined;
    }
    const inputNode = this.nodeOf(node.inputs[broken] as string);
    const what = inputs[broken]?.status === 'failed' ? 'failed' : 'was skipped';
    const reason = inputNode.asset === node.asset ? `${inputNode.kind} ${what}` : `asset "${inputNode.asset}" (${inputNode.kind}) did not build`;
    return { status: 'skipped', reason, ms: 0 };
  }

  private async decide(node: GraphNode, inputHashes: string[]): Promise<NodeDecision> {
    // The plan already decided nodes whose inputs it knew: reuse that when the inputs came
    // out as planned, so a no-op build reads each action record once.
    const known = this.input.planned.decisions.get(node.id);
    if (known && known.inputHashes.length === inputHashes.length && known.inputHashes.every((h, i) => h === inputHashes[i])) return known.decision;
    return decideNode(this.input.graph, node, inputHashes, this.input.env);
  }

  private async settleNode(node: GraphNode): Promise<NodeOutcome> {
    const inputs = await Promise.all(node.inputs.map((input) => this.settle(input)));
    const broken = this.brokenInput(node, inputs);
    if (broken) return this.finish(node, broken);
    if (this.abort.signal.aborted) return this.finish(node, { status: 'skipped', reason: 'cancelled', ms: 0 });
    const t0 = Date.now();
    const inputHashes = inputs.map((o) => (o.status === 'built' || o.status === 'cached' ? o.outputHash : ''));
    let decision: NodeDecision;
    try {
      decision = await this.decide(node, inputHashes);
    } catch (err) {
      return this.finish(node, { status: 'failed', error: toGptError(err), ms: Date.now() - t0 });
    }
    if (!decision.persisted) return this.finish(node, this.unstoredOutcome(node, decision, inputs));
    // Two nodes with one key (two assets asking for the same image) run it once: the second
    // waits for the first and takes its stored result, so nothing is paid for twice.
    const sameKey = this.inFlight.get(decision.key);
    if (sameKey && !decision.record) {
      await sameKey.catch(() => undefined);
      const again = await decideNode(this.input.graph, node, inputHashes, this.input.env).catch(() => undefined);
      if (again?.record) decision = again;
    }
    const execution = executionOf(node.kind) as Execution;
    const job: ExecutionJob = { node, asset: this.input.graph.assets.get(node.asset)!, decision, reasons: [], started: t0 };
    if (decision.record) return this.finish(node, await this.reuse(job, execution));
    job.reasons = reasonsFor(node, decision, this.input.env, this.input.planned.explained, inputs.some((o) => o.status === 'built'));
    const running = this.runStored(job, execution);
    this.inFlight.set(decision.key, running);
    try {
      return this.finish(node, await running);
    } finally {
      if (this.inFlight.get(decision.key) === running) this.inFlight.delete(decision.key);
    }
  }

  /** A stored node found in the cache, with what its kind still does for it (restore a deliverable). */
  private async reuse(job: ExecutionJob, execution: Execution): Promise<NodeOutcome> {
    const record = job.decision.record!;
    const cached: CachedOutcome = { status: 'cached', key: job.decision.key, decision: job.decision, outputHash: record.output.hash, ms: 0, meta: record.meta };
    if (!execution.reuse) return cached;
    const reused = await execution.reuse(job, record, this.services);
    if (!reused.ok) return { ...this.failureOutcome(job, reused), key: job.decision.key };
    return { ...cached, ...reused.value };
  }

  private async runStored(job: ExecutionJob, execution: Execution): Promise<NodeOutcome> {
    let result: ExecutionResult;
    try {
      result = await execution.execute(job, this.services);
    } catch (err) {
      result = fail({ status: 'failed', error: toGptError(err) });
    }
    if (!result.ok) return this.failureOutcome(job, result);
    const made = result.value;
    return {
      status: 'built', key: job.decision.key, decision: job.decision, outputHash: made.outputHash, ms: Date.now() - job.started, reasons: job.reasons,
      ...(made.meta ? { meta: made.meta } : {}),
      ...(made.costUsd !== undefined ? { costUsd: made.costUsd } : {}),
      ...(made.requests !== undefined ? { requests: made.requests } : {}),
      ...(made.retries !== undefined ? { retries: made.retries } : {}),
      ...(made.output ? { output: made.output } : {}),
    };
  }

  /** A failure while the build is being stopped is a cancellation (--fail-fast's own stop excepted). */
  private failureOutcome(job: ExecutionJob, result: Extract<ExecutionResult, { ok: false }>): NodeOutcome {
    const failure = result.error;
    const usage = { ...(failure.requests ? { requests: failure.requests } : {}), ...(failure.retries ? { retries: failure.retries } : {}) };
    const base = { key: job.decision.key, ms: Date.now() - job.started, ...usage };
    if (failure.status === 'skipped' || failure.status === 'pending') return { status: failure.status, reason: failure.reason, ...base };
    if (failure.status === 'upstream') return { status: 'skipped', reason: `${this.nodeOf(failure.failedNode).kind} failed`, ...base };
    if (this.abort.signal.aborted && failure.error.code !== 'E_FAIL_FAST') return { status: 'skipped', reason: 'cancelled', ...base };
    return { status: 'failed', error: failure.error, ...base };
  }

  /** The pixels of a node's output: decoded from the store or a file, or computed on demand. */
  private async makePixels(node: GraphNode): Promise<PixelResult> {
    const outcome = this.outcomes.get(node.id);
    if (!outcome || (outcome.status !== 'cached' && outcome.status !== 'built')) return noPixels(node.id);
    if (this.onDemand.has(node.id) && outcome.status === 'cached') return this.computeOnDemand(node, outcome);
    const { graph, cache } = this.input;
    const source = node.kind === 'source' ? (graph.assets.get(node.asset)?.source as string) : undefined;
    try {
      const steps = await loadSteps();
      const image = source
        ? await steps.decodeImage(source, `source image ${projectPath(graph.manifest, source)} of "${node.asset}"`)
        : await steps.decodeImage(cache.store.objectPath(outcome.outputHash), `cached image of ${node.id}`);
      return ok(image);
    } catch (err) {
      // An unreadable image is that node's failure, reported once, not its consumer's.
      const current = this.outcomes.get(node.id);
      if (current?.status !== 'failed') {
        const error = toGptError(err);
        this.replace(node.id, { status: 'failed', key: outcome.key, error, ms: outcome.ms });
        this.reportFailure(node, error);
      }
      return noPixels(node.id);
    }
  }

  /** Runs a cheap intermediate (lanczos upscale, normalize) the first time a consumer needs it. */
  private async computeOnDemand(node: GraphNode, outcome: CachedOutcome): Promise<PixelResult> {
    const state = this.onDemand.get(node.id) as OnDemandState;
    if (state.passThrough) return this.pixels.get(node.inputs[0] as string);
    const t0 = Date.now();
    const reasons = reasonsFor(node, outcome.decision, this.input.env, this.input.planned.explained, state.upstreamBuilt);
    const job: ExecutionJob = { node, asset: this.input.graph.assets.get(node.asset)!, decision: outcome.decision, reasons, started: t0 };
    let result: ExecutionResult;
    try {
      result = await (executionOf(node.kind) as Execution).execute(job, this.services);
    } catch (err) {
      result = fail({ status: 'failed', error: toGptError(err) });
    }
    const ms = Date.now() - t0;
    if (!result.ok && result.error.status === 'upstream') {
      const failed = this.nodeOf(result.error.failedNode);
      this.replace(node.id, { status: 'skipped', key: outcome.key, reason: failed.asset === node.asset ? `${failed.kind} failed` : `asset "${failed.asset}" did not build`, ms: 0 });
      return noPixels(failed.id);
    }
    if (!result.ok || !result.value.pixels) {
      const error = !result.ok && result.error.status === 'failed' ? result.error.error : new GptError('E_INTERNAL', `${node.id} made no pixels`);
      if (this.abort.signal.aborted) {
        this.replace(node.id, { status: 'skipped', key: outcome.key, reason: 'cancelled', ms });
      } else {
        this.replace(node.id, { status: 'failed', key: outcome.key, error, ms });
        this.reportFailure(node, error);
      }
      return noPixels(node.id);
    }
    const { meta, pixels } = result.value;
    this.replace(node.id, { status: 'built', key: outcome.key, decision: outcome.decision, outputHash: outcome.outputHash, ms, reasons, ...(meta ? { meta } : {}) });
    this.input.emit({ type: 'node-done', node: refOf(node), status: 'built', ms });
    // Its own pixels are all its consumers need: the (full-size) inputs can go now.
    state.inputsReleased = true;
    this.pixels.releaseInputs(node);
    return ok(pixels as RawImage);
  }

  /** A node's small stored output as JSON (read once per build). */
  private storedData(id: string): Promise<Result<unknown, { failedNode: string }>> {
    let promise = this.data.get(id);
    if (!promise) {
      const outcome = this.outcomes.get(id);
      if (!outcome || (outcome.status !== 'cached' && outcome.status !== 'built')) return Promise.resolve(fail({ failedNode: id }));
      promise = readFile(this.input.cache.store.objectPath(outcome.outputHash), 'utf8').then((text) => ok(JSON.parse(text) as unknown));
      this.data.set(id, promise);
    }
    return promise;
  }

  /** The encoded bytes of an asset's image, for image-to-image requests. */
  private async encodedImage(id: string) {
    const node = this.nodeOf(id);
    const outcome = this.outcomes.get(id);
    if (!outcome || (outcome.status !== 'cached' && outcome.status !== 'built')) return fail({ failedNode: id });
    const file = node.kind === 'source' ? (this.input.graph.assets.get(node.asset)?.source as string) : this.input.cache.store.objectPath(outcome.outputHash);
    return ok({ assetId: node.asset, image: await readFile(file) });
  }
}
