import path from 'node:path';
import { setMaxListeners } from 'node:events';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { FileHashes } from '../cache/file-hashes.js';
import { acquireBuildLock } from '../cache/lock.js';
import { loadState, recordNode, saveState, type BuildState } from '../cache/state.js';
import { LocalStore, type StoredAction } from '../cache/store.js';
import { readLockFile, type LockFile } from '../cache/lockfile.js';
import { candidateImagesOf, checkLock, generateCall, lockAfterBuild, type CandidateImages } from './variants.js';
import { copyFileAtomic } from '../util/atomic.js';
import { buildGraph, selectAssets, type BuildGraph, type GraphNode } from '../graph/graph.js';
import { resolvedGenerateParams } from '../graph/keys.js';
import {
  decideNode,
  deliverableIntact,
  deliverablePath,
  planBuild,
  projectPath,
  reasonsFor,
  type NodeDecision,
  type Plan,
  type PlanEnv,
} from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { getProvider } from '../providers/registry.js';
import { getUpscaler } from '../upscalers/registry.js';
import type { PipelineReport, ReportOutput, StepStatus } from '../report/types.js';
import { ExitCode, GptError, manifestError, toGptError } from '../util/errors.js';
import type { RawImage } from '../util/image.js';
import type { BuildEvent, BuildListener, NodeRef } from './events.js';
import { Pool, RateLimiter } from './pool.js';
import { assembleReport, type NodeOutcome } from './outcomes.js';
import { closest } from '../manifest/suggest.js';
import { renderProvenance } from './provenance.js';

/** The step runners pull in sharp and LittleCMS: loaded on first use, so a no-op build never pays for them. */
let stepsModule: Promise<typeof import('../steps/index.js')> | undefined;
const steps = () => (stepsModule ??= import('../steps/index.js'));

export interface BuildOptions {
  /** Build only these assets (and what they depend on). */
  assets?: string[];
  /** CI: refuse (exit 3) if any remote or paid provider call would be needed. */
  frozen?: boolean;
  /** Generate these assets again even though their key is cached. */
  regenerate?: string[];
  /** Refuse to start when the estimate exceeds this (overrides limits.maxCostUsd). */
  maxCostUsd?: number;
  /** Stop at the first failure instead of building the other assets. */
  failFast?: boolean;
  signal?: AbortSignal;
  onEvent?: BuildListener;
  lockTimeoutMs?: number;
  /**
   * Aborts provider requests already sent (the images are lost). `signal` alone stops the build
   * but lets paid requests in flight finish and stores their images.
   */
  hardStop?: AbortSignal;
  /** Skip writing out/report.html (the JSON report is always written). */
  contactSheet?: boolean;
  /**
   * Asked before a generate node sends anything: a reason to skip it (the node is reported
   * skipped with it), or undefined to go on. Watch uses it not to resend a generation that
   * failed with the same key earlier in the session.
   */
  skipGenerate?: (asset: string, key: string) => string | undefined;
}

export interface BuildResult {
  report: PipelineReport;
  reportFile: string;
  exitCode: ExitCode;
  plan: Plan;
}

export interface ProjectCache {
  cacheDir: string;
  store: LocalStore;
  files: FileHashes;
  state: BuildState;
  stateFile: string;
  /** assets.lock.json, when the project has one. */
  lock: LockFile | undefined;
}

export async function openProjectCache(manifest: ResolvedManifest): Promise<ProjectCache> {
  const cacheDir = path.join(manifest.root, '.gpt4k');
  const stateFile = path.join(cacheDir, 'state.json');
  const [files, state, lock] = await Promise.all([
    FileHashes.load(path.join(cacheDir, 'files.json'), manifest.root),
    loadState(stateFile),
    readLockFile(manifest.root),
  ]);
  return { cacheDir, store: new LocalStore(cacheDir), files, state, stateFile, lock };
}

export function graphOf(manifest: ResolvedManifest): BuildGraph {
  const graph = buildGraph(manifest);
  if (!graph.ok) throw manifestError(graph.error);
  return graph.value;
}

export function selectionOf(graph: BuildGraph, assets: string[] | undefined): Set<string> | undefined {
  if (!assets || assets.length === 0) return undefined;
  for (const id of assets) {
    if (!graph.assets.has(id)) {
      const close = closest(id, graph.assets.keys());
      throw new GptError('E_UNKNOWN_ASSET', `no asset named "${id}" in ${path.basename(graph.manifest.file)}`, {
        hint: close ? `did you mean "${close}"?` : `the assets are: ${knownAssets(graph)}`,
        exitCode: ExitCode.usage,
      });
    }
  }
  return selectAssets(graph, assets);
}

function knownAssets(graph: BuildGraph): string {
  const ids = [...graph.assets.keys()];
  return ids.length > 10 ? `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more` : ids.join(', ');
}

/** Refusals that come before any work: --frozen and the budget (exit 3). */
async function checkPolicy(graph: BuildGraph, plan: Plan, options: BuildOptions): Promise<void> {
  const toGenerate = plan.nodes.filter((n) => n.kind === 'generate' && n.action === 'run');
  if (options.frozen) {
    const remote: string[] = [];
    for (const node of toGenerate) {
      const asset = graph.assets.get(node.asset);
      if (asset && (await getProvider(asset.generate.provider)).remote) remote.push(node.asset);
    }
    if (remote.length > 0) {
      throw new GptError('E_FROZEN', `--frozen: ${remote.length} asset(s) would need a provider call: ${remote.join(', ')}`, {
        hint: 'build them without --frozen (locally, with an API key) and share the cache, or restore the CI cache',
        exitCode: ExitCode.policy,
      });
    }
  }
  const budget = options.maxCostUsd ?? graph.manifest.limits.maxCostUsd;
  if (budget !== undefined && plan.summary.estimatedCostUsd > budget) {
    throw new GptError(
      'E_BUDGET',
      `the estimated cost $${plan.summary.estimatedCostUsd.toFixed(2)} for ${toGenerate.length} image(s) exceeds the budget of $${budget.toFixed(2)}`,
      { hint: 'raise limits.maxCostUsd or --max-cost, lower quality, or build fewer assets (gpt4k build ASSET...)', exitCode: ExitCode.policy },
    );
  }
}

/** A provider call not sent because an earlier one in this build halted the provider. */
class ProviderHalted extends Error {
  constructor(
    readonly provider: string,
    readonly halt: GptError,
  ) {
    super(`not sent: ${provider} stopped earlier in this build (${halt.code}: ${halt.message})`);
  }
}

/** A failure upstream, already reported on the node that failed. */
class UpstreamFailed extends Error {
  constructor(readonly nodeId: string) {
    super(`upstream step ${nodeId} failed`);
  }
}

export async function build(manifest: ResolvedManifest, options: BuildOptions = {}): Promise<BuildResult> {
  const started = Date.now();
  const emit = (event: BuildEvent) => options.onEvent?.(event);
  const graph = graphOf(manifest);
  const selected = selectionOf(graph, options.assets);
  const lock = await acquireBuildLock(path.join(manifest.root, '.gpt4k'), {
    timeoutMs: options.lockTimeoutMs,
    signal: options.signal,
    onWait: (holder) => emit({ type: 'lock-wait', pid: holder.pid, startedAt: holder.startedAt }),
  });
  try {
    // Read the cache under the lock: a build that held it before us may have written to it.
    const cache = await openProjectCache(manifest);
    return await runBuild(graph, selected, cache, options, emit, started);
  } finally {
    await lock.release();
  }
}

async function runBuild(
  graph: BuildGraph,
  selected: Set<string> | undefined,
  cache: ProjectCache,
  options: BuildOptions,
  emit: (event: BuildEvent) => void,
  started: number,
): Promise<BuildResult> {
  const manifest = graph.manifest;
  const { store, files, state } = cache;
  await store.ensureDirs();
  const env: PlanEnv = { store, files, state, forced: new Set(options.regenerate ?? []), ...(cache.lock ? { lock: cache.lock } : {}) };
  for (const id of env.forced) selectionOf(graph, [id]);
  const planned = new Map<string, { inputHashes: string[]; decision: NodeDecision }>();
  const plan = await planBuild(graph, env, selected, planned);
  await checkPolicy(graph, plan, options);
  if (options.frozen) checkLock(plan, cache.lock);
  emit({
    type: 'build-start',
    assets: new Set(plan.nodes.map((n) => n.asset)).size,
    // As `gpt4k plan` counts them: a step that hands its input on unchanged is no work.
    nodesToRun: plan.nodes.filter((n) => n.action === 'run' && !n.passThrough).length,
    estimatedCostUsd: plan.summary.estimatedCostUsd,
    runsByAsset: plan.nodes.reduce<Record<string, number>>((acc, n) => {
      if (n.action === 'run' && !n.passThrough) acc[n.asset] = (acc[n.asset] ?? 0) + 1;
      return acc;
    }, {}),
  });

  const abort = new AbortController();
  // Every job waiting for a pool slot listens for the abort: thousands may wait at once.
  setMaxListeners(0, abort.signal);
  // Requests in flight are only cut by the caller's own hard stop (BuildOptions.hardStop).
  const requestSignal = options.hardStop ?? new AbortController().signal;
  const onOuterAbort = () => abort.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) abort.abort(options.signal.reason);
  const signal = abort.signal;

  const limits = manifest.limits;
  const pools = {
    generate: new Pool('generate', limits.generate),
    process: new Pool('process', limits.process),
    gpu: new Pool('gpu', limits.gpu),
  };
  // Admission bounds how many assets hold full-size pixels at once, so memory stays flat as
  // the batch grows: an asset is admitted when its first render needs pixels and leaves when
  // its last render is done.
  const admission = new Pool('admission', limits.process);
  const admitted = new Map<string, Promise<void>>();
  const admit = (asset: string): Promise<void> => {
    let entry = admitted.get(asset);
    if (!entry) {
      entry = admission.acquire(signal);
      admitted.set(asset, entry);
    }
    return entry;
  };
  const dismiss = (asset: string) => {
    const entry = admitted.get(asset);
    if (!entry) return;
    admitted.delete(asset);
    entry.then(() => admission.release(), () => undefined);
  };
  const rate = limits.imagesPerMinute ? new RateLimiter(limits.imagesPerMinute, Math.min(limits.generate, limits.imagesPerMinute)) : undefined;
  const haltedProviders = new Map<string, GptError>();
  /** Generate nodes that ran: every candidate's image, for the lock file. */
  const madeCandidates = new Map<string, CandidateImages>();
  const outcomes = new Map<string, NodeOutcome>();
  const settled = new Map<string, Promise<NodeOutcome>>();
  const pixelMemo = new Map<string, Promise<RawImage>>();
  /** Stored upscales whose pixels are kept in pixelMemo for their consumers (bounded). */
  const keptUpscales = new Set<string>();
  const pendingConsumers = new Map<string, number>();
  const inSelection = (id: string) => !selected || selected.has(id);
  for (const id of graph.order) {
    if (!inSelection(id)) continue;
    pendingConsumers.set(id, (graph.dependents.get(id) ?? []).filter(inSelection).length);
  }
  /** Whether this build changed what state.json holds (a no-op build does not). */
  let stateChanged = false;
  const tmpRoot = path.join(cache.cacheDir, 'tmp', `build-${process.pid}`);
  await mkdir(tmpRoot, { recursive: true });

  const refOf = (node: GraphNode): NodeRef => ({ id: node.id, asset: node.asset, kind: node.kind, ...(node.target ? { target: node.target } : {}) });

  /** Every failure goes through here, wherever it is found, so --fail-fast sees them all. */
  const reportFailure = (node: GraphNode, error: GptError) => {
    emit({ type: 'node-failed', node: refOf(node), error });
    if (options.failFast) abort.abort(new GptError('E_FAIL_FAST', `stopped after ${node.id} failed (--fail-fast)`));
  };

  const finish = (node: GraphNode, outcome: NodeOutcome): NodeOutcome => {
    outcomes.set(node.id, outcome);
    if (outcome.status === 'failed' && outcome.error) {
      reportFailure(node, outcome.error);
    } else if (outcome.status === 'skipped') {
      emit({ type: 'node-skipped', node: refOf(node), reason: outcome.skipReason ?? 'skipped' });
    } else if ((outcome.status === 'built' || outcome.status === 'cached') && node.kind !== 'prompt' && !outcome.lazy) {
      emit({ type: 'node-done', node: refOf(node), status: outcome.status, ms: outcome.ms, ...(outcome.costUsd ? { costUsd: outcome.costUsd } : {}), ...(outcome.restored ? { restored: true } : {}) });
    }
    // A lazily computed node is done with its inputs when its consumers are; one with no
    // consumer in this build (an asset without targets) is done now.
    if (!outcome.lazy || (pendingConsumers.get(node.id) ?? 0) === 0) releaseInputs(node);
    return outcome;
  };

  /** A consumer is done with its inputs: drop their pixels once nobody else needs them. */
  const releaseInputs = (node: GraphNode) => {
    for (const input of node.inputs) {
      const left = (pendingConsumers.get(input) ?? 1) - 1;
      pendingConsumers.set(input, left);
      if (left <= 0) {
        pixelMemo.delete(input);
        keptUpscales.delete(input);
        if (graph.nodes.get(input)?.kind === 'normalize') dismiss(graph.nodes.get(input)?.asset as string);
        const inputNode = graph.nodes.get(input);
        const inputOutcome = outcomes.get(input);
        // A lazily computed node is finished when its last consumer is.
        if (inputNode && inputOutcome?.lazy && !inputOutcome.inputsReleased) releaseInputs(inputNode);
      }
    }
  };

  /** The step runners for a job that holds a slot of `pool`: image jobs share the cores among them. */
  const stepsWithCores = async (pool: keyof typeof pools) => {
    const m = await steps();
    if (pool === 'process') m.shareCores(pools.process.running);
    return m;
  };

  const decodeStored = async (hash: string, label: string) => (await steps()).decodeImage(store.objectPath(hash), label);

  /** The pixels of a node's output: decoded from the store or a file, or computed on demand. */
  const pixelsOf = (id: string): Promise<RawImage> => {
    const memo = pixelMemo.get(id);
    if (memo) return memo;
    const node = graph.nodes.get(id) as GraphNode;
    const outcome = outcomes.get(id);
    if (!outcome || outcome.status === 'failed' || outcome.status === 'skipped' || !outcome.outputHash) {
      return Promise.reject(new UpstreamFailed(id));
    }
    let promise: Promise<RawImage>;
    if (outcome.lazy) {
      promise = computeLazy(node, outcome);
    } else {
      const decoding =
        node.kind === 'source'
          ? steps().then((m) => m.decodeImage(graph.assets.get(node.asset)?.source as string, `source image ${projectPath(manifest, graph.assets.get(node.asset)?.source as string)} of "${node.asset}"`))
          : decodeStored(outcome.outputHash, `cached image of ${id}`);
      // An unreadable image is that node's failure, reported once, not its consumer's.
      promise = decoding.catch((err: unknown) => {
        if (outcome.status !== 'failed') {
          const error = toGptError(err);
          Object.assign(outcome, { status: 'failed', error });
          reportFailure(node, error);
        }
        throw new UpstreamFailed(id);
      });
    }
    pixelMemo.set(id, promise);
    // A rejected memo must not be handed out again as if it were pixels.
    promise.catch(() => pixelMemo.delete(id));
    return promise;
  };

  /** Runs a cheap intermediate (lanczos upscale, normalize) the first time a consumer needs it. */
  const computeLazy = async (node: GraphNode, outcome: NodeOutcome): Promise<RawImage> => {
    const asset = graph.assets.get(node.asset)!;
    let inputs: RawImage[];
    try {
      if (outcome.passThrough) return await pixelsOf(node.inputs[0] as string);
      inputs = await Promise.all(node.inputs.map((input) => pixelsOf(input)));
    } catch (err) {
      if (err instanceof UpstreamFailed) {
        const failed = graph.nodes.get(err.nodeId) as GraphNode;
        Object.assign(outcome, { status: 'skipped', skipReason: failed.asset === node.asset ? `${failed.kind} failed` : `asset "${failed.asset}" did not build` });
      }
      throw err;
    }
    const t0 = Date.now();
    outcome.reasons ??= reasonsFor(node, outcome.decision, env, outcome.upstreamBuilt ?? false);
    emit({ type: 'node-start', node: refOf(node), reasons: outcome.reasons });
    try {
      let image: RawImage;
      if (node.kind === 'upscale') {
        const upscaler = await getUpscaler(asset.upscale.engine);
        const result = await pools[upscaler.pool].run(async () => {
          const { runUpscale } = await stepsWithCores(upscaler.pool);
          return runUpscale(inputs[0] as RawImage, asset.upscale, { signal, tmpDir: tmpRoot, warn: (message) => warn(node, message) });
        }, signal);
        outcome.meta = result.meta;
        image = result.image;
      } else {
        const reference = node.whiteBalanceInput ? inputs[node.inputs.indexOf(node.whiteBalanceInput)] : undefined;
        image = await pools.process.run(async () => {
          const { runNormalize, cleanupBackground } = await stepsWithCores('process');
          const balanced = await runNormalize(inputs[0] as RawImage, reference);
          return asset.normalize ? cleanupBackground(balanced, asset.normalize) : balanced;
        }, signal);
      }
      outcome.status = 'built';
      outcome.ms = Date.now() - t0;
      emit({ type: 'node-done', node: refOf(node), status: 'built', ms: outcome.ms });
      // Its own pixels are all its consumers need: the (full-size) inputs can go now.
      outcome.inputsReleased = true;
      releaseInputs(node);
      return image;
    } catch (err) {
      if (err instanceof UpstreamFailed) throw err;
      const error = toGptError(err);
      Object.assign(outcome, { status: signal.aborted ? 'skipped' : 'failed', error, skipReason: 'cancelled', ms: Date.now() - t0 });
      if (outcome.status === 'failed') reportFailure(node, error);
      throw new UpstreamFailed(node.id);
    }
  };

  const warn = (node: GraphNode, message: string) => {
    const outcome = outcomes.get(node.id);
    if (outcome) outcome.warnings = [...(outcome.warnings ?? []), message];
    emit({ type: 'warning', message: `${node.id}: ${message}`, asset: node.asset });
  };

  const settle = (id: string): Promise<NodeOutcome> => {
    let promise = settled.get(id);
    if (!promise) {
      promise = settleNode(graph.nodes.get(id) as GraphNode);
      settled.set(id, promise);
    }
    return promise;
  };

  /** A node whose output is not stored (source, prompt, cheap intermediates): named by its decision. */
  const unstoredOutcome = (node: GraphNode, decision: NodeDecision, inputs: NodeOutcome[]): NodeOutcome => {
    const passThrough = decision.outputHash === inputs[0]?.outputHash && node.kind !== 'source' && node.kind !== 'prompt';
    const lazy = node.kind === 'upscale' || node.kind === 'normalize';
    // Why it runs is worked out if it runs (computeLazy): most never do, and the reasons read
    // the last build's fingerprints.
    return { key: decision.key, decision, status: 'cached', outputHash: decision.outputHash as string, ms: 0, lazy, passThrough, upstreamBuilt: inputs.some((o) => o.status === 'built') };
  };

  /** A stored node found in the cache. */
  const storedOutcome = (node: GraphNode, decision: NodeDecision, record: StoredAction): NodeOutcome => ({
    key: decision.key, decision, status: 'cached', outputHash: record.output.hash, ms: 0, meta: record.meta,
  });

  /**
   * Settles at once, without a step or a promise, a node the plan found cached whose inputs
   * all settled as planned: a no-op build of a thousand assets is almost only such nodes.
   * Anything else (a step to run, a deliverable to restore) goes through settleNode.
   */
  const settleAsPlanned = (node: GraphNode): NodeOutcome | undefined => {
    const known = planned.get(node.id);
    if (!known || signal.aborted) return undefined;
    const inputs: NodeOutcome[] = [];
    for (const [i, input] of node.inputs.entries()) {
      const outcome = outcomes.get(input);
      if (!outcome || outcome.status !== 'cached' || outcome.outputHash !== known.inputHashes[i]) return undefined;
      inputs.push(outcome);
    }
    const { decision } = known;
    if (!decision.persisted) return finish(node, unstoredOutcome(node, decision, inputs));
    if (!decision.record) return undefined;
    if (node.kind !== 'render') return finish(node, storedOutcome(node, decision, decision.record));
    if (decision.deliverableIntact !== true) return undefined;
    return finish(node, { ...storedOutcome(node, decision, decision.record), restored: false, output: deliverableInfo(node, decision.record.meta) });
  };

  const inFlight = new Map<string, Promise<NodeOutcome>>();
  const settleNode = async (node: GraphNode): Promise<NodeOutcome> => {
    const inputs = await Promise.all(node.inputs.map((input) => settle(input)));
    const broken = inputs.findIndex((o) => o.status === 'failed' || o.status === 'skipped');
    if (broken >= 0) {
      const inputNode = graph.nodes.get(node.inputs[broken] as string) as GraphNode;
      const what = inputs[broken]?.status === 'failed' ? 'failed' : 'was skipped';
      const why = inputNode.asset === node.asset ? `${inputNode.kind} ${what}` : `asset "${inputNode.asset}" (${inputNode.kind}) did not build`;
      return finish(node, { status: 'skipped', skipReason: why, ms: 0 });
    }
    if (signal.aborted) return finish(node, { status: 'skipped', skipReason: 'cancelled', ms: 0 });
    const t0 = Date.now();
    let decision: NodeDecision;
    const inputHashes = inputs.map((o) => o.outputHash as string);
    try {
      // The plan already decided nodes whose inputs it knew: reuse that when the inputs came
      // out as planned, so a no-op build reads each action record once.
      const known = planned.get(node.id);
      decision =
        known && known.inputHashes.length === inputHashes.length && known.inputHashes.every((h, i) => h === inputHashes[i])
          ? known.decision
          : await decideNode(graph, node, inputHashes, env);
    } catch (err) {
      return finish(node, { status: 'failed', error: toGptError(err), ms: Date.now() - t0 });
    }
    const base = { key: decision.key, decision };
    if (!decision.persisted) return finish(node, unstoredOutcome(node, decision, inputs));
    // Two nodes with one key (two assets asking for the same image) run it once: the second
    // waits for the first and takes its stored result, so nothing is paid for twice.
    const sameKey = inFlight.get(decision.key);
    if (sameKey && !decision.record) {
      await sameKey.catch(() => undefined);
      try {
        const again = await decideNode(graph, node, inputHashes, env);
        if (again.record) decision = again;
      } catch {
        // fall through and run it
      }
    }
    if (decision.record) {
      const outcome = storedOutcome(node, decision, decision.record);
      if (node.kind === 'render') {
        try {
          // The plan stat'ed it a moment ago: an intact deliverable is not looked at twice.
          outcome.restored = decision.deliverableIntact === true ? false : await ensureDeliverable(node, decision.record.output.hash);
          outcome.output = deliverableInfo(node, decision.record.meta);
        } catch (err) {
          return finish(node, { ...base, status: 'failed', error: toGptError(err, 'E_WRITE'), ms: Date.now() - t0 });
        }
      }
      return finish(node, outcome);
    }
    const reasons = reasonsFor(node, decision, env, inputs.some((o) => o.status === 'built'));
    try {
      const running = runPersisted(node, decision, reasons);
      inFlight.set(decision.key, running);
      const outcome = await running.finally(() => {
        if (inFlight.get(decision.key) === running) inFlight.delete(decision.key);
      });
      // The fingerprint is what the next plan diffs against to say why a node runs again.
      return finish(node, { decision, ...outcome });
    } catch (err) {
      if (err instanceof ProviderHalted) return finish(node, { ...base, status: 'skipped', skipReason: err.message, ms: Date.now() - t0 });
      if (err instanceof UpstreamFailed) {
        const failedNode = graph.nodes.get(err.nodeId) as GraphNode;
        return finish(node, { ...base, status: 'skipped', skipReason: `${failedNode.kind} failed`, ms: Date.now() - t0 });
      }
      const error = toGptError(err);
      // Requests a provider sent before giving up still count (and may still be billed).
      const requests = node.kind === 'generate' ? ((err as { requests?: number }).requests ?? 0) : 0;
      const retries = node.kind === 'generate' ? ((err as { retries?: number }).retries ?? 0) : 0;
      if (signal.aborted && error.code !== 'E_FAIL_FAST') return finish(node, { ...base, status: 'skipped', skipReason: 'cancelled', ms: Date.now() - t0, requests, retries });
      return finish(node, { ...base, status: 'failed', error, ms: Date.now() - t0, requests, retries });
    }
  };

  /** Runs a node whose output is stored: generate, a slow upscale, render. */
  const runPersisted = async (node: GraphNode, decision: NodeDecision, reasons: string[]): Promise<NodeOutcome> => {
    const asset = graph.assets.get(node.asset)!;
    const t0 = Date.now();
    const ref = refOf(node);
    if (node.kind === 'generate') {
      const params = await resolvedGenerateParams(asset, manifest);
      const provider = await getProvider(params.provider);
      const halted = haltedProviders.get(params.provider);
      if (halted) return { key: decision.key, status: 'skipped', skipReason: `not sent: ${params.provider} stopped earlier in this build (${halted.code}: ${halted.message})`, ms: 0 };
      const skip = options.skipGenerate?.(asset.id, decision.key);
      if (skip) return { key: decision.key, status: 'skipped', skipReason: skip, ms: 0 };
      if (options.frozen && provider.remote) {
        throw new GptError('E_FROZEN', `--frozen: "${asset.id}" would need a ${params.provider} call`, { exitCode: ExitCode.policy });
      }
      const reference = node.referenceInput ? await encodedImageOf(node.referenceInput) : undefined;
      const variants = decision.variants ?? { candidates: [{ index: 1, key: decision.key }], pick: 1, missing: [1] };
      let retries = 0;
      let started = false;
      /** One provider call for one candidate (variants: one each). */
      const makeCandidate = async (index: number) => {
        const call = await generateCall(params, decision, variants, index);
        const result = await pools.generate.run(async () => {
          // Halted while queued: do not send.
          const haltedNow = haltedProviders.get(params.provider);
          if (haltedNow) throw new ProviderHalted(params.provider, haltedNow);
          if (!started) emit({ type: 'node-start', node: ref, reasons });
          started = true;
          try {
            return await (await steps()).runGenerate(asset, call.params, reference, {
              // A request already sent is paid for: cancelling the build (Ctrl-C, --fail-fast)
              // lets it finish and stores the image; only requests not yet sent are dropped.
              signal: requestSignal,
              pricing: manifest.pricing,
              acquireRate: async () => {
                signal.throwIfAborted();
                await rate?.take(signal);
              },
              onRetry: (info) => {
                retries++;
                emit({ type: 'retry', node: ref, ...info });
              },
            });
          } catch (err) {
            // Halt before this slot is released, so no queued request goes out after a 401.
            const error = toGptError(err);
            if (error.haltsProvider && !haltedProviders.has(params.provider)) haltedProviders.set(params.provider, error);
            throw err;
          }
        }, signal).catch((err: unknown) => {
          if (err instanceof ProviderHalted) throw err;
          const error = toGptError(err);
          if (error.haltsProvider && !haltedProviders.has(params.provider)) haltedProviders.set(params.provider, error);
          throw error;
        });
        // Commit the paid image before anything downstream runs: a crash from here costs no second call.
        const ext = (await steps()).imageExtension(result.image);
        const object = await store.putBytes(result.image);
        const ms = Date.now() - t0;
        const meta = {
          provider: params.provider,
          model: params.model,
          size: params.size,
          quality: params.quality,
          ...(result.revisedPrompt ? { revisedPrompt: result.revisedPrompt } : {}),
          ...(result.usage ? { usage: result.usage } : {}),
          requests: result.requests,
          retries: result.retries,
          ...result.meta,
          ...call.meta,
        };
        await store.putAction({
          version: 1, key: call.key, nodeId: node.id, kind: node.kind,
          output: { hash: object.hash, size: object.size, ext }, fingerprint: call.fingerprint, meta, ms,
          costUsd: result.costUsd, createdAt: new Date().toISOString(),
        });
        return { index, hash: object.hash, meta, costUsd: result.costUsd, requests: provider.remote ? result.requests : 0, retries: result.retries };
      };
      const calls = await Promise.allSettled(variants.missing.map((index) => makeCandidate(index)));
      const made = calls.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
      const failed = calls.find((c): c is PromiseRejectedResult => c.status === 'rejected');
      if (failed) {
        // The candidates that were made are stored and paid for: the report still counts them.
        const error = failed.reason as { requests?: number; retries?: number; costUsd?: number };
        if (typeof error === 'object' && error !== null) {
          error.requests = (error.requests ?? 0) + made.reduce((n, m) => n + m.requests, 0);
          error.retries = (error.retries ?? 0) + made.reduce((n, m) => n + m.retries, 0);
        }
        throw failed.reason;
      }
      const images: CandidateImages = candidateImagesOf(variants, made);
      madeCandidates.set(asset.id, images);
      const picked = made.find((m) => m.index === variants.pick);
      const pickedRecord = variants.candidates.find((c) => c.index === variants.pick)?.record;
      const meta = { ...(picked?.meta ?? pickedRecord?.meta ?? {}), ...(images.images.length > 1 ? { candidate: images.pick, candidates: images.images.length } : {}) };
      const costUsd = made.reduce((sum, m) => sum + m.costUsd, 0);
      return {
        key: decision.key, status: 'built', outputHash: images.images[images.pick - 1] as string, ms: Date.now() - t0, costUsd, reasons, meta,
        requests: made.reduce((sum, m) => sum + m.requests, 0), retries: Math.max(retries, made.reduce((sum, m) => sum + m.retries, 0)),
      };
    }
    if (node.kind === 'upscale') {
      const input = await pixelsOf(node.inputs[0] as string);
      const upscaler = await getUpscaler(asset.upscale.engine);
      const result = await pools[upscaler.pool].run(async () => {
        emit({ type: 'node-start', node: ref, reasons });
        return (await stepsWithCores(upscaler.pool)).runUpscale(input, asset.upscale, { signal, tmpDir: tmpRoot, warn: (message) => warn(node, message) });
      }, signal);
      const object = await store.putBytes(await (await steps()).encodePng(result.image));
      const ms = Date.now() - t0;
      // A fallback result is not what the key promises: keep it out of the cache, so the real
      // engine runs once it is available (e.g. after Vulkan is installed).
      if (!result.meta.fallback) await store.putAction({
        version: 1, key: decision.key, nodeId: node.id, kind: node.kind, output: { hash: object.hash, size: object.size, ext: 'png' },
        fingerprint: decision.fingerprint, meta: result.meta, ms, createdAt: new Date().toISOString(),
      });
      // Its consumers take the pixels from memory only while few such images are held: on a
      // fast GPU, upscales finish far ahead of the renders, and each holds a full-size image.
      // Past the budget (one per process slot) they decode the stored PNG (lossless) when
      // they run, so memory stays flat however long the batch.
      if ((pendingConsumers.get(node.id) ?? 0) > 0 && keptUpscales.size < limits.process) {
        pixelMemo.set(node.id, Promise.resolve(result.image));
        keptUpscales.add(node.id);
      }
      return { key: decision.key, status: 'built', outputHash: object.hash, ms, reasons, meta: result.meta };
    }
    // render
    const target = manifest.targets.get(node.target as string)!;
    await admit(node.asset);
    const input = await pixelsOf(node.inputs[0] as string);
    const provenance = await renderProvenance(graph, node, decision.key, outcomes, store);
    const rendered = await pools.process.run(async () => {
      emit({ type: 'node-start', node: ref, reasons });
      return (await stepsWithCores('process')).runRender(input, target, manifest, provenance);
    }, signal);
    // Preflight problems of a `preflight: warn` target: delivered, and said.
    for (const message of rendered.warnings) warn(node, message);
    const object = await store.putBytes(rendered.data);
    // The render's small sRGB preview: the contact sheet's thumbnail, without decoding the file.
    const preview = await store.putBytes(rendered.preview);
    const meta: Record<string, unknown> = { ...rendered.info, previewHash: preview.hash };
    const ms = Date.now() - t0;
    await store.putAction({
      version: 1, key: decision.key, nodeId: node.id, kind: node.kind,
      output: { hash: object.hash, size: object.size, ext: path.extname(deliverablePath(manifest, node.asset, target.id)).slice(1) },
      fingerprint: decision.fingerprint, meta, ms, createdAt: new Date().toISOString(),
    });
    await writeDeliverable(node, object.hash);
    return { key: decision.key, status: 'built', outputHash: object.hash, ms, reasons, meta, output: deliverableInfo(node, meta) };
  };

  /** The encoded bytes of an asset's image, for image-to-image requests. */
  const encodedImageOf = async (id: string): Promise<{ assetId: string; image: Buffer }> => {
    const node = graph.nodes.get(id) as GraphNode;
    const outcome = outcomes.get(id);
    if (!outcome?.outputHash) throw new UpstreamFailed(id);
    const file = node.kind === 'source' ? (graph.assets.get(node.asset)?.source as string) : store.objectPath(outcome.outputHash);
    return { assetId: node.asset, image: await readFile(file) };
  };

  const writeDeliverable = async (node: GraphNode, hash: string) => {
    const file = deliverablePath(manifest, node.asset, node.target as string);
    await copyFileAtomic(store.objectPath(hash), file);
    const info = await stat(file);
    state.outputs[projectPath(manifest, file)] = { hash, size: info.size, mtimeMs: info.mtimeMs };
    stateChanged = true;
  };

  /** Restores a deleted or edited deliverable from the store; true when it had to. */
  const ensureDeliverable = async (node: GraphNode, hash: string): Promise<boolean> => {
    const file = deliverablePath(manifest, node.asset, node.target as string);
    if (deliverableIntact(manifest, file, hash, state)) return false;
    await writeDeliverable(node, hash);
    return true;
  };

  const deliverableInfo = (node: GraphNode, meta: Record<string, unknown>): ReportOutput => {
    const file = deliverablePath(manifest, node.asset, node.target as string);
    return {
      target: node.target as string,
      path: projectPath(manifest, file),
      width: meta.width as number,
      height: meta.height as number,
      format: meta.format as string,
      space: meta.space as string,
      ...(meta.dpi !== undefined ? { dpi: meta.dpi as number } : {}),
      ...(meta.icc !== undefined ? { icc: meta.icc as string } : {}),
      ...(meta.preflight !== undefined ? { preflight: meta.preflight as ReportOutput['preflight'] } : {}),
    };
  };

  // Every node starts as soon as its own inputs are ready: no stage barriers.
  const order = graph.order.filter(inSelection);
  const pending: string[] = [];
  for (const id of order) {
    const outcome = settleAsPlanned(graph.nodes.get(id) as GraphNode);
    if (outcome) settled.set(id, Promise.resolve(outcome));
    else pending.push(id);
  }
  await Promise.all(pending.map((id) => settle(id)));
  options.signal?.removeEventListener('abort', onOuterAbort);

  // A render that failed (a new file refused by preflight, say) must not leave the file of an
  // earlier manifest in out/ looking current: it is removed, when it is the one gpt4k wrote
  // there, and the report says so. (A render that was only skipped keeps it.)
  for (const id of order) {
    const node = graph.nodes.get(id) as GraphNode;
    const outcome = outcomes.get(id);
    if (node.kind !== 'render' || outcome?.status !== 'failed' || !outcome.key || state.nodes[id]?.key === outcome.key) continue;
    const file = deliverablePath(manifest, node.asset, node.target as string);
    const rel = projectPath(manifest, file);
    const known = state.outputs[rel];
    if (!known || !deliverableIntact(manifest, file, known.hash, state)) continue;
    try {
      await rm(file, { force: true });
      delete state.outputs[rel];
      stateChanged = true;
      warn(node, `removed ${rel}: it was made for the manifest as it was before, and this build's render of it failed`);
    } catch (err) {
      warn(node, `could not remove the outdated ${rel}: ${(err as Error).message}`);
    }
  }

  // Remember what was built, for the next plan's reasons and the next no-op check.
  for (const id of order) {
    const outcome = outcomes.get(id);
    if (outcome?.key && outcome.decision && (outcome.status === 'built' || outcome.status === 'cached')) {
      // The same key is the same fingerprint (the key is its hash): nothing to record.
      if (state.nodes[id]?.key === outcome.key) continue;
      recordNode(state, id, outcome.key, outcome.decision.fingerprint);
      stateChanged = true;
    }
  }
  await Promise.all([
    saveState(cache.stateFile, state, stateChanged),
    files.save(),
    store.saveIndex({ keepOthers: !!selected }),
    rm(tmpRoot, { recursive: true, force: true }),
  ]);
  // --frozen verifies the lock file; every other build brings it up to date.
  if (!options.frozen) await lockAfterBuild(graph, cache.lock, order, outcomes, madeCandidates, !selected);

  const report = assembleReport(graph, order, outcomes, Date.now() - started);
  const { formatJsonReport, writeJsonReport } = await import('../report/write-report.js');
  const reportJson = formatJsonReport(report);
  const reportFile = await writeJsonReport(report, manifest.outputDir, reportJson);
  if (options.contactSheet !== false) {
    try {
      const { writeContactSheet } = await import('../report/contact-sheet.js');
      // Each render's sRGB preview (meta.previewHash) is its thumbnail: no print file decoded back.
      const previews = new Map<string, string>();
      for (const outcome of outcomes.values()) {
        const hash = outcome.meta?.previewHash;
        if (outcome.output && typeof hash === 'string') previews.set(outcome.output.path, store.objectPath(hash));
      }
      await writeContactSheet(report, {
        root: manifest.root, outputDir: manifest.outputDir, manifestName: path.basename(manifest.file), previewFile: (outputPath) => previews.get(outputPath),
        // Every delivered file was stat'ed (or written) by this build: no second stat.
        deliverableStat: (outputPath) => state.outputs[outputPath],
        reportJson,
      });
    } catch (err) {
      emit({ type: 'warning', message: `contact sheet not written: ${(err as Error).message}` });
    }
  }
  emit({ type: 'build-done', report, reportFile });
  const cancelled = options.signal?.aborted ?? false;
  const exitCode = cancelled ? ExitCode.interrupted : report.summary.failed > 0 || (options.failFast && signal.aborted) ? ExitCode.assetFailed : ExitCode.ok;
  return { report, reportFile, exitCode, plan };
}

