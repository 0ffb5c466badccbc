import { statSync } from 'node:fs';
import type { FileHashes } from '../cache/file-hashes.js';
import { fingerprintOf, type BuildState } from '../cache/state.js';
import type { StoredAction, Store } from '../cache/store.js';
import { hashObject } from '../cache/hash.js';
import { getProvider } from '../providers/registry.js';
import { profileRefFor, type ResolvedManifest } from '../manifest/types.js';
import type { BuildGraph, GraphNode } from './graph.js';
import { explainChange, PENDING_INPUT, type ExplainContext, type InputRole } from './explain.js';
import { fingerprintNode, isPassThrough, isPersisted, resolvedGenerateParams, type Fingerprint, type FingerprintFields } from './keys.js';
import type { LockFile } from '../cache/lockfile.js';
import { missingSidecar } from './provenance.js';
import { resolveCandidates, type CandidateSet } from './variants.js';
import { upfrontGenerateKeys } from './prefetch.js';
import { deliverableIntact, deliverablePath, projectPath, statDeliverables, type FileStat } from './deliverable-paths.js';

export { deliverableIntact, deliverablePath, projectPath };
import { batched, BATCH_DISCOUNTS } from '../providers/batch-types.js';
import { CostEstimator, type CostEstimate, type EstimateBasis } from './cost-estimate.js';

export interface PlanEnv {
  store: Store;
  files: FileHashes;
  state: BuildState;
  /** Assets whose generation is forced (--regenerate). */
  forced: Set<string>;
  /** assets.lock.json: which candidate each asset with variants uses. */
  lock?: LockFile;
  /** Generate keys an open provider batch will deliver -> its batch id (cache/batch-state.ts). */
  pendingBatches?: Map<string, string>;
}

/** What is known about a node once its inputs' content hashes are. */
export interface NodeDecision {
  key: string;
  fingerprint: Fingerprint;
  persisted: boolean;
  /** For persisted nodes: the action record, when it exists and its object is in the store. */
  record?: StoredAction;
  /** Known for cached persisted nodes and for computed-on-demand ones. */
  outputHash?: string;
  /** Generate nodes: the candidate images (variants), the picked one and the ones to make. */
  variants?: CandidateSet;
  /** Cached renders: whether the plan found the deliverable in out/ as the last build wrote it. */
  deliverableIntact?: boolean;
}

export async function decideNode(graph: BuildGraph, node: GraphNode, inputHashes: string[], env: PlanEnv): Promise<NodeDecision> {
  const fingerprint = await fingerprintNode(graph, node, inputHashes, { manifest: graph.manifest, files: env.files });
  const key = await hashObject(fingerprint);
  const persisted = await isPersisted(graph, node);
  if (!persisted) {
    // Source files are their own truth; cheap intermediates are named by their key.
    let outputHash = `k${key}`;
    if (fingerprint.kind === 'source') outputHash = fingerprint.hash;
    else if (node.kind === 'prompt') outputHash = key;
    else if (isPassThrough(graph, node)) outputHash = inputHashes[0] as string;
    return { key, fingerprint, persisted, outputHash };
  }
  if (node.kind === 'generate') {
    const wanted = graph.assets.get(node.asset)?.variants ?? 1;
    const variants = await resolveCandidates(env.store, fingerprint, key, { asset: node.asset, wanted, lock: env.lock, forced: env.forced.has(node.asset) });
    const picked = variants.candidates.find((c) => c.index === variants.pick)?.record;
    if (variants.missing.length === 0 && picked) return { key, fingerprint, persisted, record: picked, outputHash: picked.output.hash, variants };
    // Only other candidates are missing: the one downstream uses is known, so its steps need not run.
    const pickedKnown = picked && !variants.missing.includes(variants.pick);
    return { key, fingerprint, persisted, variants, ...(pickedKnown ? { outputHash: picked.output.hash } : {}) };
  }
  const record = await env.store.getAction(key);
  if (record && (await env.store.hasObject(record.output.hash))) {
    return { key, fingerprint, persisted, record, outputHash: record.output.hash };
  }
  return { key, fingerprint, persisted };
}

/** `pending`: a generation an open provider batch will deliver (already submitted, not paid again). */
export type PlanAction = 'run' | 'cached' | 'pending';

export interface PlannedNode {
  id: string;
  asset: string;
  kind: GraphNode['kind'];
  target?: string;
  action: PlanAction;
  reasons: string[];
  key?: string;
  /** The stored output's content hash, when the plan knows it (cached generate, upscale, render). */
  outputHash?: string;
  estimatedCostUsd: number;
  /** What a generation's estimate rests on (token-priced models): earlier images, or none. */
  estimateBasis?: EstimateBasis;
  /** Hands its input on unchanged (normalize without a white-balance reference): no work. */
  passThrough?: boolean;
  /** Cached on the shared remote cache, not in .gpt4k/ (a build downloads it). */
  remote?: true;
}

export interface Plan {
  nodes: PlannedNode[];
  summary: { nodes: number; run: number; cached: number; generate: number; estimatedCostUsd: number; pending?: number };
}

/**
 * Why a node runs. During a build, the reasons its plan gave (which know the upstream causes)
 * when the node's key is the one planned; otherwise a diff against the last build's fingerprint.
 */
export function reasonsFor(node: GraphNode, decision: NodeDecision | undefined, env: PlanEnv, explained: Explained, upstreamRuns: boolean): string[] {
  const planned = explained.get(node.id);
  if (planned && planned.reasons.length > 0 && (planned.key === undefined || planned.key === decision?.key)) return planned.reasons;
  const reasons = changeReasons(node, decision?.fingerprint, decision?.persisted ?? true, env, {});
  if (reasons[0] === RECOMPUTED) return [upstreamRuns ? 'upstream changed' : 'recomputed (not stored)'];
  return reasons;
}

const RECOMPUTED = 'recomputed (not stored)';

/** The assets the last build recorded a node of, worked out once per state (not once per new node). */
const assetsOfState = new WeakMap<BuildState, Set<string>>();
function assetsIn(state: BuildState): Set<string> {
  let assets = assetsOfState.get(state);
  if (!assets) {
    assets = new Set(Object.keys(state.nodes).map((id) => id.slice(0, id.indexOf('/'))));
    assetsOfState.set(state, assets);
  }
  return assets;
}

/** The reasons from the node's previous and current fingerprint (current: undefined when unknown). */
function changeReasons(node: GraphNode, fingerprint: Fingerprint | undefined, persisted: boolean, env: PlanEnv, context: ExplainContext): string[] {
  if (node.kind === 'generate' && env.forced.has(node.asset)) return ['forced (--regenerate)'];
  const previous = storedFingerprint(env.state, node.id);
  if (!previous) {
    const known = assetsIn(env.state).has(node.asset);
    if (!known) return ['new asset'];
    return [node.kind === 'render' ? `new target "${node.target}"` : 'not built before'];
  }
  if (!fingerprint) return [context.upstream?.('input') ? `upstream changed: ${context.upstream('input')}` : 'upstream changed'];
  const reasons = explainChange(previous, fingerprint, context);
  if (reasons.length > 0) return reasons;
  if (!persisted) return [RECOMPUTED];
  return [node.kind === 'generate' ? 'cache entry missing (.gpt4k was cleaned or collected): the image is generated again' : 'cache entry missing (.gpt4k was cleaned or collected)'];
}

/** What makes a node's output differ from the last build's, said from a consumer's side. */
interface Cause {
  asset: string;
  text: string;
  /** Names its own asset (a file path): no prefix needed for other assets. */
  absolute?: boolean;
}

/** Each run node's reasons as planned, by node id: a build reuses them when it runs the node. */
export type Explained = ReadonlyMap<string, { key?: string; reasons: string[] }>;

/** A plan, and what a build reuses from it. */
export interface PlanResult {
  plan: Plan;
  /** Each decided node's decision and the input hashes it was made for. */
  decisions: Map<string, { inputHashes: string[]; decision: NodeDecision }>;
  explained: Explained;
}

/**
 * What a build would do, without doing it: keys are computed wherever the inputs' content
 * is known; a node downstream of one that must run is assumed to run too.
 */
export async function planBuild(graph: BuildGraph, env: PlanEnv, selected?: Set<string>): Promise<Plan> {
  return (await planNodes(graph, env, selected)).plan;
}

/** planBuild, with the decisions and reasons a build reuses. */
export async function planNodes(graph: BuildGraph, env: PlanEnv, selected?: Set<string>): Promise<PlanResult> {
  // The input files (source images, profile files) are hashed first, all at once: the first
  // build of a catalogue of photos reads them side by side.
  await hashInputFiles(graph, env.files, selected);
  // A remote store fetches the generate records side by side (decideAll asks one at a time).
  if (env.store.prefetch) await env.store.prefetch(await upfrontGenerateKeys(graph, env, selected));
  const walk = new PlanWalk(graph, env, await decideAll(graph, env, selected), statDeliverables(graph, env.state, selected));
  for (const id of graph.order) if (!selected || selected.has(id)) await walk.planNode(id);
  walk.markNeededIntermediates();
  return walk.result();
}

/**
 * Every node decided in graph order, each after its inputs: the cache lookups are synchronous,
 * so nothing is gained by a promise per node waiting on others (a no-op build decides 5,000
 * of them). Undefined where an input's content is not known yet (it must run first).
 */
async function decideAll(graph: BuildGraph, env: PlanEnv, selected: Set<string> | undefined): Promise<Map<string, NodeDecision | undefined>> {
  const decided = new Map<string, NodeDecision | undefined>();
  for (const id of graph.order) {
    if (selected && !selected.has(id)) continue;
    const node = graph.nodes.get(id) as GraphNode;
    const inputHashes: string[] = [];
    for (const input of node.inputs) {
      const hash = decided.get(input)?.outputHash;
      if (hash === undefined) break;
      inputHashes.push(hash);
    }
    decided.set(id, inputHashes.length === node.inputs.length ? await decideNode(graph, node, inputHashes, env) : undefined);
  }
  return decided;
}

/** One pass of planNodes over the graph: each node's action and reasons, and the causes it hands on. */
class PlanWalk {
  private readonly hashes = new Map<string, string>();
  private readonly planned = new Map<string, PlannedNode>();
  /** Cheap intermediates (not stored): they run only if a running consumer needs their pixels. */
  private readonly lazy = new Set<string>();
  private readonly decisions = new Map<string, { inputHashes: string[]; decision: NodeDecision }>();
  private readonly causes = new Map<string, Cause>();
  private readonly costs: CostEstimator;

  constructor(
    private readonly graph: BuildGraph,
    private readonly env: PlanEnv,
    private readonly decided: Map<string, NodeDecision | undefined>,
    private readonly deliverableStats: Map<string, FileStat | null>,
  ) {
    this.costs = new CostEstimator(env.store, graph.manifest);
  }

  private contextFor(node: GraphNode): ExplainContext {
    return {
      upstream: (role: InputRole) => {
        const input = role === 'input' ? node.inputs[0] : role === 'reference' ? node.referenceInput : node.whiteBalanceInput;
        const cause = input ? this.causes.get(input) : undefined;
        if (!cause) return undefined;
        return cause.asset === node.asset || cause.absolute ? cause.text : `${cause.asset} ${cause.text}`;
      },
      profileFile: (name: string) => {
        const ref = this.graph.manifest.profiles.get(name);
        return ref?.kind === 'file' ? projectPath(this.graph.manifest, ref.path) : undefined;
      },
    };
  }

  /** The fingerprint with not-yet-known inputs as placeholders: enough to name what else changed. */
  private async provisional(node: GraphNode, inputHashes: (string | undefined)[]): Promise<Fingerprint | undefined> {
    try {
      return await fingerprintNode(this.graph, node, inputHashes.map((h) => h ?? PENDING_INPUT), { manifest: this.graph.manifest, files: this.env.files });
    } catch {
      return undefined;
    }
  }

  async planNode(id: string): Promise<void> {
    const node = this.graph.nodes.get(id) as GraphNode;
    const inputHashes = node.inputs.map((input) => this.hashes.get(input));
    const known = inputHashes.every((h): h is string => h !== undefined);
    const decision = known ? this.decided.get(id) : undefined;
    if (decision) this.decisions.set(id, { inputHashes: inputHashes as string[], decision });
    if (decision?.outputHash) this.hashes.set(id, decision.outputHash);
    const cached = !!decision && (!!decision.record || !decision.persisted);
    let reasons = cached ? this.cachedReasons(node, decision) : await this.runReasons(node, decision, inputHashes);
    // Already submitted in an open provider batch: the next build collects it, unpaid again.
    const batchId = !cached && node.kind === 'generate' && decision ? this.env.pendingBatches?.get(decision.key) : undefined;
    if (batchId) reasons = [`submitted in batch ${batchId}: the next build collects it (not paid again)`];
    const action: PlanAction = cached ? 'cached' : batchId ? 'pending' : 'run';
    this.planned.set(id, {
      id,
      asset: node.asset,
      kind: node.kind,
      ...(node.target ? { target: node.target } : {}),
      action,
      reasons,
      ...(decision ? { key: decision.key } : {}),
      ...(decision?.record ? { outputHash: decision.record.output.hash } : {}),
      ...(action === 'run' ? await this.estimate(node, decision) : { estimatedCostUsd: 0 }),
      ...(isPassThrough(this.graph, node) ? { passThrough: true } : {}),
      ...(cached && decision?.record && this.env.store.isRemote?.(decision.record.key) ? { remote: true as const } : {}),
    });
  }

  private async estimate(node: GraphNode, decision: NodeDecision | undefined): Promise<Pick<PlannedNode, 'estimatedCostUsd' | 'estimateBasis'>> {
    const { usd, basis } = await estimatedCost(this.graph, node, decision, this.costs);
    return { estimatedCostUsd: usd, ...(basis ? { estimateBasis: basis } : {}) };
  }

  /** A node found in the cache (or not stored): no reasons, but the cause it hands downstream. */
  private cachedReasons(node: GraphNode, decision: NodeDecision): string[] {
    const { env } = this;
    const previous = env.state.nodes[node.id];
    let reasons: string[] = [];
    if (!decision.persisted && node.kind !== 'source' && node.kind !== 'prompt') this.lazy.add(node.id);
    if (node.kind === 'source') {
      // The same key is the same fingerprint: only a changed one is read and explained.
      const fingerprint = previous && previous.key !== decision.key ? storedFingerprint(env.state, node.id) : undefined;
      reasons = fingerprint && decision.fingerprint.kind === 'source' && fingerprint.hash !== decision.fingerprint.hash ? explainChange(fingerprint, decision.fingerprint) : [];
      if (reasons[0]) this.causes.set(node.id, { asset: node.asset, text: reasons[0], absolute: true });
    } else if (previous && previous.key !== decision.key) {
      const lazy = this.lazy.has(node.id);
      const fingerprint = lazy ? storedFingerprint(env.state, node.id) : undefined;
      // A cheap intermediate whose only change is its input passes the upstream cause on.
      const own = fingerprint ? explainChange(fingerprint, { ...decision.fingerprint, input: fingerprint.input }) : ['changed'];
      const inherited = own.length === 0 ? this.causes.get(node.inputs[0] as string) : undefined;
      this.causes.set(node.id, inherited ?? { asset: node.asset, text: lazy ? `${node.kind} runs` : `${node.kind} result changed (found in the cache)` });
    }
    if (node.kind === 'render' && decision.record) {
      const file = deliverablePath(this.graph.manifest, node.asset, node.target as string);
      decision.deliverableIntact = deliverableIntact(this.graph.manifest, file, decision.record.output.hash, env.state, this.deliverableStats.get(file));
      const sidecar = decision.deliverableIntact ? missingSidecar(file, decision.record.meta) : undefined;
      if (sidecar) {
        decision.deliverableIntact = false;
        reasons = [`${projectPath(this.graph.manifest, sidecar)} is missing: restored from the cache (no rework)`];
      } else if (!decision.deliverableIntact) {
        const exists = statSync(file, { throwIfNoEntry: false }) !== undefined;
        const from = env.store.isRemote?.(decision.record.key) ? 'the remote cache' : 'the cache';
        reasons = [`${projectPath(this.graph.manifest, file)} ${exists ? 'was edited' : 'is missing'}: restored from ${from} (no rework)`];
      }
    }
    return reasons;
  }

  /** Why a node must run (its fingerprint against the last build's), and the cause it hands on. */
  private async runReasons(node: GraphNode, decision: NodeDecision | undefined, inputHashes: (string | undefined)[]): Promise<string[]> {
    const fingerprint = decision?.fingerprint ?? (await this.provisional(node, inputHashes));
    let reasons = changeReasons(node, fingerprint, decision?.persisted ?? true, this.env, this.contextFor(node));
    const variants = decision?.variants;
    if (variants && reasons[0]?.startsWith('cache entry missing') && variants.missing.length < variants.candidates.length) {
      reasons = [`variants: ${variants.missing.length} more candidate(s) to generate (${variants.missing.map((i) => `#${i}`).join(', ')}); candidate ${variants.pick} stays picked`];
    }
    const onlyUpstream = reasons.every((r) => r.startsWith('upstream changed'));
    this.causes.set(node.id, (onlyUpstream ? this.causes.get(node.inputs[0] as string) : undefined) ?? { asset: node.asset, text: `${node.kind} runs` });
    return reasons;
  }

  /** The running nodes that need a node's pixels, looking through pass-through nodes. */
  private runningConsumers(id: string, neededBy: Map<string, string[]>): string[] {
    return (this.graph.dependents.get(id) ?? []).flatMap((d) => {
      const consumer = this.planned.get(d);
      if (!consumer) return [];
      if (isPassThrough(this.graph, this.graph.nodes.get(d) as GraphNode)) return this.runningConsumers(d, neededBy);
      if (consumer.action !== 'run') return [];
      return neededBy.get(d) ?? [d];
    });
  }

  /** Cheap intermediates run only when something downstream that runs needs their pixels. */
  markNeededIntermediates(): void {
    // Nothing runs (a no-op build): no intermediate is needed, and the walk is skipped.
    if (![...this.planned.values()].some((n) => n.action === 'run')) return;
    const neededBy = new Map<string, string[]>();
    for (const id of [...this.graph.order].reverse()) {
      const node = this.planned.get(id);
      if (!node || !this.lazy.has(id)) continue;
      const running = [...new Set(this.runningConsumers(id, neededBy))];
      if (running.length === 0) continue;
      const graphNode = this.graph.nodes.get(id) as GraphNode;
      node.action = 'run';
      const changed = changeReasons(graphNode, this.decisions.get(id)?.decision.fingerprint, false, this.env, this.contextFor(graphNode));
      if (changed[0] !== RECOMPUTED) {
        node.reasons = changed;
        continue;
      }
      neededBy.set(id, running);
      const names = running.map((c) => {
        const consumer = this.graph.nodes.get(c) as GraphNode;
        const name = consumer.target ? `render:${consumer.target}` : consumer.kind;
        return consumer.asset === node.asset ? name : `${consumer.asset} ${name}`;
      });
      node.reasons = [`not stored: recomputed for ${names.join(', ')}`];
    }
  }

  result(): PlanResult {
    const all = [...this.planned.values()];
    const explained = new Map(all.filter((n) => n.action === 'run').map((n) => [n.id, { ...(n.key ? { key: n.key } : {}), reasons: n.reasons }]));
    const nodes = all.filter((n) => n.kind !== 'prompt');
    const run = nodes.filter((n) => n.action === 'run');
    const pending = nodes.filter((n) => n.action === 'pending').length;
    const plan: Plan = {
      nodes,
      summary: {
        nodes: nodes.length,
        run: run.length,
        cached: nodes.length - run.length - pending,
        generate: run.filter((n) => n.kind === 'generate').length,
        estimatedCostUsd: round(run.reduce((sum, n) => sum + n.estimatedCostUsd, 0)),
        ...(pending > 0 ? { pending } : {}),
      },
    };
    return { plan, decisions: this.decisions, explained };
  }
}

/** The fingerprint the last build recorded for a node, as a plain record to diff. */
function storedFingerprint(state: BuildState, id: string): FingerprintFields | undefined {
  return fingerprintOf(state, id) as FingerprintFields | undefined;
}

/** What running a node would cost: generations only, one call per missing candidate; a batched one at the batch price. */
async function estimatedCost(graph: BuildGraph, node: GraphNode, decision: NodeDecision | undefined, costs: CostEstimator): Promise<CostEstimate> {
  if (node.kind !== 'generate') return { usd: 0 };
  const asset = graph.assets.get(node.asset);
  if (!asset) return { usd: 0 };
  const params = await resolvedGenerateParams(asset, graph.manifest);
  return costs.estimate(params, decision?.variants?.missing.length ?? asset.variants ?? 1);
}

/** Hashes (or finds unchanged by stat) every file the selected nodes' keys read, concurrently. */
async function hashInputFiles(graph: BuildGraph, files: FileHashes, selected: Set<string> | undefined): Promise<void> {
  const wanted = new Set<string>();
  for (const id of graph.order) {
    if (selected && !selected.has(id)) continue;
    const node = graph.nodes.get(id) as GraphNode;
    if (node.kind === 'source') {
      const source = graph.assets.get(node.asset)?.source;
      if (source) wanted.add(source);
    } else if (node.kind === 'generate') {
      for (const reference of node.references ?? []) if ('file' in reference) wanted.add(reference.file);
    } else if (node.kind === 'render') {
      const target = graph.manifest.targets.get(node.target as string);
      const ref = target ? profileRefFor(graph.manifest, target.color.profile) : undefined;
      if (ref?.kind === 'file') wanted.add(ref.path);
    }
  }
  // Failures surface where the node is decided, with the node's own error.
  await Promise.all([...wanted].map((file) => files.hash(file).catch(() => undefined)));
}

export const round = (usd: number): number => Math.round(usd * 10_000) / 10_000;
