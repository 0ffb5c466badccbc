import path from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { acquireBuildLock } from '../cache/lock.js';
import { sweepAbandonedTemp } from '../cache/sweep.js';
import { lockFilePath } from '../cache/lockfile.js';
import { removeNoopStamp, writeNoopStamp } from '../cache/noop-stamp.js';
import { REVIEW_FILE } from '../report/review-file.js';
import type { ProjectCache, StoreFactory } from '../cache/project-cache.js';
import { recordNode, saveState } from '../cache/state.js';
import { checkLock, lockAfterBuild } from './variants.js';
import type { BuildGraph } from '../graph/graph.js';
import { planNodes, type Plan } from '../graph/plan.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { PipelineReport } from '../report/types.js';
import { ExitCode } from '../util/errors.js';
import type { BuildEvent, BuildListener } from './events.js';
import { assembleReport, type NodeOutcome } from './outcomes.js';
import { Deliverables } from './deliverables.js';
import { Executor } from './executor.js';
import { checkPolicy } from './policy.js';
import { shardSelection, type ShardSpec } from '../graph/shard.js';

import { graphOf, openProjectCache, planEnvOf, selectionOf, storeFactoryOf } from './project.js';

export type { ProjectCache } from '../cache/project-cache.js';
// The CLI and the programmatic API reach these through build.js.
export { graphOf, openProjectCache, selectionOf };

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
  /**
   * The store under .gpt4k/. Unless given: the local store, with the shared remote cache under
   * it when one is configured (manifest `cache.remote`, `remoteCache`, GPT4K_REMOTE_CACHE).
   */
  openStore?: StoreFactory;
  /** A remote cache URL for this run (--remote-cache), over the manifest's and GPT4K_REMOTE_CACHE; "off": none. */
  remoteCache?: string;
  /** Build only shard `index` (1-based) of `count` (--shard I/N): see graph/shard.ts. */
  shard?: ShardSpec;
  /**
   * Leave .gpt4k/noop.json when this build has nothing to do, for the CLI's no-op fast path
   * (cache/noop-stamp.ts). Only the caller knows that nothing else shapes the answer (options,
   * lint warnings): the CLI asks for it for a plain `gpt4k build`.
   */
  noopStamp?: boolean;
  /** Batched generations (generate.batch, --batch): false submits or polls once and leaves them pending (--no-wait). */
  batchWait?: boolean;
}

export interface BuildResult {
  report: PipelineReport;
  reportFile: string;
  exitCode: ExitCode;
  plan: Plan;
}

export async function build(manifest: ResolvedManifest, options: BuildOptions = {}): Promise<BuildResult> {
  const started = Date.now();
  let warned = false;
  const emit = (event: BuildEvent) => {
    // Anything said besides the counts would be missing from the no-op fast path's answer.
    if (event.type === 'warning' || event.type === 'info') warned = true;
    options.onEvent?.(event);
  };
  const graph = graphOf(manifest);
  const selected = options.shard ? await shardSelection(graph, options.shard) : selectionOf(graph, options.assets);
  const openStore = storeFactoryOf(manifest, { openStore: options.openStore, remoteCache: options.remoteCache, warn: (message) => emit({ type: 'warning', message }) });
  const lock = await acquireBuildLock(path.join(manifest.root, '.gpt4k'), {
    timeoutMs: options.lockTimeoutMs,
    signal: options.signal,
    onWait: (holder) => emit({ type: 'lock-wait', pid: holder.pid, startedAt: holder.startedAt }),
  });
  try {
    // A build killed before us leaves temp files of its atomic writes; no one else writes now.
    if (lock.abandoned) await sweepAbandonedTemp(path.join(manifest.root, '.gpt4k'), [manifest.outputDir]);
    // Read the cache under the lock: a build that held it before us may have written to it.
    removeNoopStamp(manifest.root);
    const cache = await openProjectCache(manifest, openStore);
    try {
      const result = await runBuild(graph, selected, cache, options, emit, started);
      if (options.noopStamp && !selected && !warned && isNoop(result, options)) await stampNoop(manifest, cache, result);
      return result;
    } finally {
      await cache.store.finish?.();
    }
  } finally {
    await lock.release();
  }
}

/** A whole build that ran nothing, failed nothing and was not stopped: the next one is the same. */
function isNoop(result: BuildResult, options: BuildOptions): boolean {
  const s = result.report.summary;
  return result.exitCode === ExitCode.ok && s.built === 0 && s.failed === 0 && s.skipped === 0 && s.cached === s.assets
    && !options.frozen && !options.regenerate?.length && options.contactSheet !== false && !options.openStore && !options.skipGenerate;
}

async function stampNoop(manifest: ResolvedManifest, cache: ProjectCache, result: BuildResult): Promise<void> {
  const { root } = manifest;
  const { CONTACT_SHEET_NAME } = await import('../report/contact-sheet.js');
  await writeNoopStamp({
    root,
    manifestFile: manifest.file,
    summary: { assets: result.report.summary.assets, cached: result.report.summary.cached, reportFile: result.reportFile },
    files: [
      ...manifest.inputFiles, ...cache.files.hashedFiles(), cache.stateFile, lockFilePath(root), path.join(root, REVIEW_FILE),
      result.reportFile, path.join(path.dirname(result.reportFile), CONTACT_SHEET_NAME),
    ],
    outputs: cache.state.outputs,
  });
}

/** The build-start event: what is about to run, as `gpt4k plan` counts it. */
function buildStart(plan: Plan): BuildEvent {
  // A step that hands its input on unchanged is no work.
  const runs = plan.nodes.filter((n) => n.action === 'run' && !n.passThrough);
  return {
    type: 'build-start',
    assets: new Set(plan.nodes.map((n) => n.asset)).size,
    nodesToRun: runs.length,
    estimatedCostUsd: plan.summary.estimatedCostUsd,
    runsByAsset: runs.reduce<Record<string, number>>((acc, n) => {
      acc[n.asset] = (acc[n.asset] ?? 0) + 1;
      return acc;
    }, {}),
  };
}

async function runBuild(
  graph: BuildGraph,
  selected: Set<string> | undefined,
  cache: ProjectCache,
  options: BuildOptions,
  emit: (event: BuildEvent) => void,
  started: number,
): Promise<BuildResult> {
  await cache.store.ensureDirs?.();
  const env = planEnvOf(cache, options.regenerate);
  for (const id of env.forced) selectionOf(graph, [id]);
  const planned = await planNodes(graph, env, selected);
  await checkPolicy(graph, planned.plan, options);
  if (options.frozen) checkLock(planned.plan, cache.lock);
  emit(buildStart(planned.plan));

  const tmpDir = path.join(cache.cacheDir, 'tmp', `build-${process.pid}`);
  await mkdir(tmpDir, { recursive: true });
  const order = selected ? graph.order.filter((id) => selected.has(id)) : graph.order;
  const deliverables = new Deliverables(graph.manifest, cache.store, cache.state);
  const executor = new Executor({ graph, cache, env, planned, order, deliverables, tmpDir, options, emit });
  await executor.run();
  await deliverables.removeOutdated(graph, order, executor.outcomes, (node, message) => executor.warn(node, message));
  const stateChanged = recordOutcomes(cache, order, executor.outcomes) || deliverables.changed;
  await Promise.all([
    saveState(cache.stateFile, cache.state, stateChanged),
    cache.files.save(),
    cache.store.saveIndex?.({ keepOthers: !!selected }),
    rm(tmpDir, { recursive: true, force: true }),
  ]);
  // --frozen verifies the lock file; every other build brings it up to date.
  if (!options.frozen) await lockAfterBuild(graph, cache.lock, order, executor.outcomes, executor.madeCandidates, !selected);

  const report = assembleReport(graph, order, executor.outcomes, Date.now() - started, cache.store.remoteHits);
  const reportFile = await writeReports(report, graph, cache, executor.outcomes, options, emit);
  emit({ type: 'build-done', report, reportFile });
  const cancelled = options.signal?.aborted ?? false;
  const exitCode = cancelled ? ExitCode.interrupted : report.summary.failed > 0 || (options.failFast && executor.stopped) ? ExitCode.assetFailed : ExitCode.ok;
  return { report, reportFile, exitCode, plan: planned.plan };
}

/** Remembers what was built, for the next plan's reasons and the next no-op check; true if state changed. */
function recordOutcomes(cache: ProjectCache, order: string[], outcomes: Map<string, NodeOutcome>): boolean {
  let changed = false;
  for (const id of order) {
    const outcome = outcomes.get(id);
    if (outcome?.status !== 'built' && outcome?.status !== 'cached') continue;
    // The same key is the same fingerprint (the key is its hash): nothing to record.
    if (cache.state.nodes[id]?.key === outcome.key) continue;
    recordNode(cache.state, id, outcome.key, outcome.decision.fingerprint);
    changed = true;
  }
  return changed;
}

/** out/pipeline_report.json, and the contact sheet beside it (unless turned off); the report's path. */
async function writeReports(
  report: PipelineReport,
  graph: BuildGraph,
  cache: ProjectCache,
  outcomes: Map<string, NodeOutcome>,
  options: BuildOptions,
  emit: (event: BuildEvent) => void,
): Promise<string> {
  const manifest = graph.manifest;
  const { writeJsonReport } = await import('../report/write-report.js');
  const { file: reportFile, stableDigest } = await writeJsonReport(report, manifest.outputDir);
  if (options.contactSheet === false) return reportFile;
  try {
    const { writeContactSheet } = await import('../report/contact-sheet.js');
    // Each render's sRGB preview (meta.previewHash) is its thumbnail: no print file decoded back.
    const previews = new Map<string, string>();
    for (const outcome of outcomes.values()) {
      if (outcome.status !== 'built' && outcome.status !== 'cached') continue;
      const hash = outcome.meta?.previewHash;
      if (outcome.output && typeof hash === 'string') previews.set(outcome.output.path, cache.store.objectPath(hash));
    }
    await writeContactSheet(report, {
      root: manifest.root, outputDir: manifest.outputDir, manifestName: path.basename(manifest.file), previewFile: (outputPath) => previews.get(outputPath),
      // Every delivered file was stat'ed (or written) by this build: no second stat.
      deliverableStat: (outputPath) => cache.state.outputs[outputPath],
      reportDigest: stableDigest,
    });
  } catch (err) {
    emit({ type: 'warning', message: `contact sheet not written: ${(err as Error).message}` });
  }
  return reportFile;
}
