import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { readLockFile, type LockFile } from '../cache/lockfile.js';
import { pickCandidate } from '../engine/variants.js';
import { watch, type WatchEvent, type WatchHandle } from '../engine/watch.js';
import { loadManifest } from '../engine/backends.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { writeContactSheet } from '../report/contact-sheet.js';
import type { PipelineReport } from '../report/types.js';
import { JSON_REPORT_NAME } from '../report/write-report.js';
import { ExitCode, GptError, manifestError, toGptError } from '../util/errors.js';
import { readReviewFile, recordDecision, rendersOf, type ReviewDecision, type ReviewFile } from '../report/review-file.js';
import { candidateImageOf, reviewAssets, sourceImageOf } from './model.js';
import type { ReviewModel } from './page.js';
import { startReviewServer, type ReviewServer } from './server.js';
import { prepareProof, type ProofInfo } from './tiles.js';

/**
 * `gpt4k review`: the watch session (src/engine/watch.ts, the one state machine for rebuilds)
 * plus a page that follows it. After every build the session makes the soft proofs of the
 * deliverables that changed, then tells the open pages to refresh (server-sent events).
 */

export interface ReviewOptions {
  cwd?: string;
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  debounceMs?: number;
  /** Watch events, for the CLI to print (the page's own events are not among them). */
  onEvent?: (event: WatchEvent) => void;
}

export interface ReviewHandle {
  url: string;
  close(): Promise<void>;
  readonly closed: Promise<void>;
}

export const PROOFS_DIR = path.join('.gpt4k', 'review');

async function readReport(outputDir: string): Promise<PipelineReport | undefined> {
  const text = await readFile(path.join(outputDir, JSON_REPORT_NAME), 'utf8').catch(() => undefined);
  try {
    return text ? (JSON.parse(text) as PipelineReport) : undefined;
  } catch {
    return undefined;
  }
}

const promptsOf = (report: PipelineReport | undefined) => new Map((report?.assets ?? []).flatMap((a) => (a.prompt !== undefined ? [[a.id, a.prompt] as const] : [])));

class ReviewSession {
  private manifest: ResolvedManifest | undefined;
  private report: PipelineReport | undefined;
  private previousPrompts = new Map<string, string>();
  private lock: LockFile | undefined;
  private reviews: ReviewFile = { version: 1, assets: {} };
  private proofs = new Map<string, ProofInfo | string>();
  private cycle = 0;
  private building = true;
  private problem: string | undefined;
  /** out/pipeline_report.json as the session found it: the first build's "previous build". */
  reportBefore: PipelineReport | undefined;
  server!: ReviewServer;
  watcher!: WatchHandle;

  constructor(
    private readonly manifestFile: string,
    private readonly options: ReviewOptions,
  ) {}

  get proofsDir(): string {
    return path.join(path.dirname(this.manifestFile), PROOFS_DIR);
  }

  model(): ReviewModel {
    const title = `gpt4k review: ${path.basename(this.manifestFile)}`;
    const assets =
      this.manifest && this.report
        ? reviewAssets({ manifest: this.manifest, report: this.report, lock: this.lock, reviews: this.reviews, proofs: this.proofs, previousPrompts: this.previousPrompts })
        : [];
    return { title, ...(this.report ? { report: this.report } : {}), assets, cycle: this.cycle, building: this.building, ...(this.problem ? { problem: this.problem } : {}) };
  }

  /** Runs for every watch event: keeps the page's state and refreshes the pages. */
  async onWatch(event: WatchEvent): Promise<void> {
    if (event.type === 'cycle-start') {
      this.building = true;
      this.server?.broadcast();
    } else if (event.type === 'manifest-error' || event.type === 'error') {
      this.problem = event.error.diagnostics.length > 0 ? event.error.diagnostics.map((d) => d.message).join('\n') : `${event.error.code}: ${event.error.message}`;
    } else if (event.type === 'cycle-done') {
      if (event.report) {
        this.previousPrompts = promptsOf(this.report ?? this.reportBefore);
        this.report = event.report;
        this.problem = event.exitCode === ExitCode.ok ? undefined : this.problem;
        await this.refreshState();
      }
      this.building = false;
      this.cycle++;
      this.server?.broadcast();
    }
  }

  /** Reloads what the page shows beside the report, and makes the proofs that are missing. */
  private async refreshState(): Promise<void> {
    const loaded = await loadManifest(this.manifestFile, { ...(this.options.cwd ? { cwd: this.options.cwd } : {}) });
    if (!loaded.ok) return;
    const manifest = (this.manifest = loaded.value);
    this.lock = await readLockFile(manifest.root).catch(() => undefined);
    this.reviews = await readReviewFile(manifest.root).catch((err: unknown) => {
      this.problem = toGptError(err).message;
      return { version: 1 as const, assets: {} };
    });
    const proofs = new Map<string, ProofInfo | string>();
    for (const asset of this.report?.assets ?? []) {
      for (const output of asset.outputs) {
        const target = manifest.targets.get(output.target);
        if (output.format === 'pdf') {
          proofs.set(output.path, 'PDF: open the file to view it');
          continue;
        }
        const source = sourceImageOf(manifest, this.lock, asset.id);
        try {
          proofs.set(output.path, await prepareProof(this.proofsDir, {
            deliverable: path.resolve(manifest.root, output.path), width: output.width, height: output.height, fit: target?.fit ?? 'cover',
            ...(source ? { source } : {}), ...(output.space === 'cmyk' ? { inkLimit: target?.inkLimit ?? 300 } : {}),
          }));
        } catch (err) {
          proofs.set(output.path, `No proof: ${toGptError(err).message}`);
        }
      }
    }
    this.proofs = proofs;
    await this.removeOldProofs(new Set([...proofs.values()].flatMap((p) => (typeof p === 'object' ? [p.id] : []))));
  }

  private async removeOldProofs(keep: Set<string>): Promise<void> {
    const entries = await readdir(this.proofsDir).catch(() => [] as string[]);
    for (const name of entries) if (!keep.has(name) && !name.includes('.tmp-')) await rm(path.join(this.proofsDir, name), { recursive: true, force: true });
  }

  async candidateImage(asset: string, k: number): Promise<string | undefined> {
    return this.manifest ? candidateImageOf(this.manifest, this.lock, asset, k) : undefined;
  }

  /** `gpt4k pick` from the page: the lock file changes, and the watcher rebuilds. */
  async pick(asset: string, k: number): Promise<Record<string, unknown>> {
    const loaded = await loadManifest(this.manifestFile, { ...(this.options.cwd ? { cwd: this.options.cwd } : {}) });
    if (!loaded.ok) throw manifestError(loaded.error);
    const result = await pickCandidate(loaded.value, asset, k);
    return { asset, pick: k, changed: result.changed };
  }

  async review(asset: string, decision: ReviewDecision, comment: string): Promise<Record<string, unknown>> {
    const reported = this.report?.assets.find((a) => a.id === asset);
    if (!reported || !this.manifest) throw new GptError('E_UNKNOWN_ASSET', `no built asset named "${asset}" to review`, { exitCode: ExitCode.usage });
    const entry = { decision, comment, at: new Date().toISOString(), renders: rendersOf(reported) };
    this.reviews = await recordDecision(this.manifest.root, asset, entry);
    // out/report.html shows decisions too: remade now, not at the next build.
    if (this.report) await writeContactSheet(this.report, { root: this.manifest.root, outputDir: this.manifest.outputDir, manifestName: path.basename(this.manifestFile) }).catch(() => undefined);
    return { asset, decision };
  }
}

/** Starts the page's server and the watch session behind it; the first build starts at once. */
export async function startReview(manifestFile: string, options: ReviewOptions = {}): Promise<ReviewHandle> {
  const file = path.resolve(options.cwd ?? process.cwd(), manifestFile);
  const session = new ReviewSession(file, options);
  const loaded = await loadManifest(file, { ...(options.cwd ? { cwd: options.cwd } : {}) });
  const outputDir = loaded.ok ? loaded.value.outputDir : path.join(path.dirname(file), 'out');
  session.reportBefore = await readReport(outputDir);
  session.server = await startReviewServer(
    {
      model: () => session.model(),
      proofsDir: session.proofsDir,
      outputDir,
      candidateImage: (asset, k) => session.candidateImage(asset, k),
      pick: (asset, k) => session.pick(asset, k),
      review: (asset, decision, comment) => session.review(asset, decision, comment),
    },
    { host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
  );
  // Events are handled one at a time, in order: a cycle's proofs are made before the next cycle is shown.
  let queue = Promise.resolve();
  session.watcher = watch(file, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    onEvent: (event) => {
      // A cycle is reported done once its proofs are made and the pages told, so "the page is up
      // to date" is true when it is printed; other events are passed on at once.
      if (event.type !== 'cycle-done') options.onEvent?.(event);
      queue = queue
        .then(() => session.onWatch(event))
        .catch((err: unknown) => options.onEvent?.({ type: 'error', error: toGptError(err) }))
        .then(() => {
          if (event.type === 'cycle-done') options.onEvent?.(event);
        });
    },
  });
  const closed = session.watcher.closed.then(() => queue).then(() => session.server.close());
  return {
    url: session.server.url,
    close: async () => {
      await session.watcher.close();
      await closed;
    },
    closed,
  };
}
