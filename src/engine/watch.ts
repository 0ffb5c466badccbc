import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import { lockFilePath } from '../cache/lockfile.js';
import { loadManifest } from './backends.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { PipelineReport } from '../report/types.js';
import { ExitCode, GptError, manifestError, toGptError } from '../util/errors.js';
import { build, type BuildOptions } from './build.js';
import type { BuildEvent } from './events.js';

/**
 * `gpt4k watch`: rebuilds when the manifest, its includes, a `source:` image, an ICC profile
 * file or assets.lock.json (a pick) changes. One state machine decides when:
 *
 *                  change                     quiet for debounceMs
 *    +------+  ------------->  +------------+  ------------------->  +----------+
 *    | idle |                  | debouncing |                        | building |
 *    +------+                  +------------+                        +----------+
 *       ^                        |   ^    ^                            |      |
 *       |                        +---+    |                            |      | change
 *       |               change: the timer |  build done               |      v
 *       |               starts over       +--------------------- +--------+
 *       |                                                        | queued | change: stays
 *       |                                                        +--------+ (one build owed)
 *       +------------------ build done, nothing queued ----------------+
 *
 *    start: building (the first build runs at once)
 *    any state --close()--> stopped (the build in flight is aborted through its AbortSignal)
 *
 * So a change during a build queues exactly one more build, after a fresh debounce (a burst
 * of saves settles first). Each build reloads the manifest: a broken one is reported with its
 * file:line:col and the watcher waits for the next change; the set of watched files is
 * recomputed, since an edit can add an include, a source image or a profile.
 *
 * A generation that failed is not sent again on every save: its key is remembered for the
 * session and skipped (reported as such) until the key changes.
 */

export interface WatchOptions {
  /** Resolves a relative manifest path (default: process.cwd()). */
  cwd?: string;
  /** Quiet time after the last change before a build starts (default 100 ms). */
  debounceMs?: number;
  /** Passed to every build. */
  build?: Pick<BuildOptions, 'assets' | 'maxCostUsd' | 'failFast' | 'contactSheet' | 'lockTimeoutMs'>;
  onEvent?: (event: WatchEvent) => void;
}

/** What a watch session reports; the CLI renders these, and nothing here prints. */
export type WatchEvent =
  | { type: 'cycle-start'; cycle: number; changes: string[] }
  | { type: 'watching'; files: string[] }
  | { type: 'build'; event: BuildEvent }
  | { type: 'manifest-error'; error: GptError }
  | { type: 'error'; error: GptError }
  | {
      type: 'cycle-done';
      cycle: number;
      /** Steps that ran and finished, with why (from the build's node-start events); failed ones are in the report. */
      rebuilt: Array<{ id: string; reasons: string[] }>;
      /** Assets whose generation was not sent again (same key failed earlier this session). */
      notResent: string[];
      nothingChanged: boolean;
      report?: PipelineReport;
      exitCode: ExitCode;
    }
  | { type: 'stopped' };

export interface WatchHandle {
  /** Stops watching and aborts the build in flight; resolves once everything is released. */
  close(): Promise<void>;
  /** Resolves when the session has stopped. */
  readonly closed: Promise<void>;
}

type State =
  | { name: 'idle' }
  | { name: 'debouncing'; timer: NodeJS.Timeout; changes: string[] }
  | { name: 'building'; abort: AbortController }
  | { name: 'queued'; abort: AbortController; changes: string[] }
  | { name: 'stopped' };

type Input = { type: 'change'; file: string } | { type: 'timer' } | { type: 'build-done' } | { type: 'close' };

function unreachable(value: never): never {
  throw new Error(`watch: impossible state ${JSON.stringify(value)}`);
}

class Watcher implements WatchHandle {
  private state: State = { name: 'idle' };
  private readonly fsWatcher: FSWatcher;
  private readonly ready: Promise<void>;
  private watched = new Set<string>();
  private readonly lockFile: string;
  /** assets.lock.json as the last build left it. */
  private lockText = '';
  private cycle = 0;
  private inflight: Promise<void> = Promise.resolve();
  /** Generate keys that failed this session -> what went wrong. */
  private readonly failedGenerations = new Map<string, { asset: string; code: string; message: string }>();
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    private readonly manifestFile: string,
    private readonly options: WatchOptions,
  ) {
    this.watched.add(manifestFile);
    this.lockFile = lockFilePath(path.dirname(manifestFile));
    this.fsWatcher = chokidarWatch([manifestFile], { ignoreInitial: true, persistent: true });
    this.ready = new Promise((resolve) => this.fsWatcher.once('ready', () => resolve()));
    for (const event of ['add', 'change', 'unlink'] as const) {
      this.fsWatcher.on(event, (file: string) => void this.changed(path.resolve(file)));
    }
    this.fsWatcher.on('error', (err) => this.emit({ type: 'error', error: toGptError(err) }));
    this.startBuild([]);
  }

  /**
   * A file changed. assets.lock.json counts only when its text is not what our own last build
   * left (a `gpt4k pick` from another terminal, a `git pull`), or every build would queue one more.
   */
  private async changed(file: string): Promise<void> {
    if (file === this.lockFile) {
      // Our own build writes it: compare once that build has recorded what it wrote.
      await this.inflight;
      const text = await readFile(file, 'utf8').catch(() => '');
      if (text === this.lockText) return;
      this.lockText = text;
    }
    this.handle({ type: 'change', file });
  }

  private emit(event: WatchEvent): void {
    this.options.onEvent?.(event);
  }

  /** The one place state changes. */
  private handle(input: Input): void {
    const state = this.state;
    if (input.type === 'close') {
      this.stop(state);
      return;
    }
    switch (state.name) {
      case 'idle':
        if (input.type === 'change') this.debounce([input.file]);
        break;
      case 'debouncing':
        if (input.type === 'change') {
          clearTimeout(state.timer);
          this.debounce([...state.changes, input.file]);
        } else if (input.type === 'timer') {
          this.startBuild(state.changes);
        }
        break;
      case 'building':
        if (input.type === 'change') this.state = { name: 'queued', abort: state.abort, changes: [input.file] };
        else if (input.type === 'build-done') this.state = { name: 'idle' };
        break;
      case 'queued':
        if (input.type === 'change') state.changes.push(input.file);
        else if (input.type === 'build-done') this.debounce(state.changes);
        break;
      case 'stopped':
        break;
      default:
        unreachable(state);
    }
  }

  private debounce(changes: string[]): void {
    const timer = setTimeout(() => this.handle({ type: 'timer' }), this.options.debounceMs ?? 100);
    this.state = { name: 'debouncing', timer, changes };
  }

  private startBuild(changes: string[]): void {
    const abort = new AbortController();
    this.state = { name: 'building', abort };
    this.inflight = this.runCycle([...new Set(changes)], abort.signal)
      .catch((err: unknown) => this.emit({ type: 'error', error: toGptError(err) }))
      .finally(() => this.handle({ type: 'build-done' }));
  }

  private stop(state: State): void {
    switch (state.name) {
      case 'debouncing':
        clearTimeout(state.timer);
        break;
      case 'building':
      case 'queued':
        state.abort.abort(new GptError('E_CANCELLED', 'watch stopped', { exitCode: ExitCode.interrupted }));
        break;
      case 'idle':
      case 'stopped':
        break;
      default:
        unreachable(state);
    }
    this.state = { name: 'stopped' };
  }

  async close(): Promise<void> {
    if (this.state.name !== 'stopped') {
      this.handle({ type: 'close' });
      await Promise.all([this.fsWatcher.close(), this.inflight]);
      this.emit({ type: 'stopped' });
      this.resolveClosed();
    }
    return this.closed;
  }

  /** One build: reload the manifest, re-aim the watcher, build, remember failed generations. */
  private async runCycle(changes: string[], signal: AbortSignal): Promise<void> {
    const cycle = ++this.cycle;
    this.emit({ type: 'cycle-start', cycle, changes });
    const loaded = await loadManifest(this.manifestFile, { cwd: this.options.cwd });
    if (!loaded.ok) {
      // Keep watching what we had, plus every file the errors point into (a broken include).
      await this.watchFiles([...this.watched, ...loaded.error.flatMap((d) => (d.at ? [path.resolve(path.dirname(this.manifestFile), d.at.file)] : []))]);
      this.emit({ type: 'manifest-error', error: manifestError(loaded.error) });
      this.emit({ type: 'cycle-done', cycle, rebuilt: [], notResent: [], nothingChanged: true, exitCode: ExitCode.usage });
      return;
    }
    const manifest = loaded.value;
    await this.watchFiles([...inputsOf(manifest), this.lockFile]);
    if (signal.aborted) return;

    const rebuilt: Array<{ id: string; reasons: string[] }> = [];
    // A step counts as rebuilt when it finished: one that failed was not rebuilt (nor paid for).
    const startReasons = new Map<string, string[]>();
    const notResent: string[] = [];
    let restored = false;
    let result;
    try {
      result = await build(manifest, {
        ...this.options.build,
        signal,
        // Stopping a watch session means now: a request in flight is abandoned.
        hardStop: signal,
        onEvent: (event) => {
          if (event.type === 'node-start') startReasons.set(event.node.id, event.reasons);
          if (event.type === 'node-done' && event.status === 'built') rebuilt.push({ id: event.node.id, reasons: startReasons.get(event.node.id) ?? [] });
          if (event.type === 'node-done' && event.restored) restored = true;
          this.emit({ type: 'build', event });
        },
        skipGenerate: (asset, key) => {
          const failed = this.failedGenerations.get(key);
          if (!failed) return undefined;
          notResent.push(asset);
          return `not sent again: the same generation failed earlier in this watch session (${failed.code}: ${failed.message}); change its prompt or generate settings to try again, or restart gpt4k watch`;
        },
      });
    } catch (err) {
      const error = toGptError(err);
      if (error.diagnostics.length > 0) this.emit({ type: 'manifest-error', error });
      else this.emit({ type: 'error', error });
      this.emit({ type: 'cycle-done', cycle, rebuilt, notResent, nothingChanged: rebuilt.length === 0, exitCode: error.exitCode });
      return;
    }
    this.lockText = await readFile(this.lockFile, 'utf8').catch(() => '');
    for (const asset of result.report.assets) {
      for (const step of asset.steps) {
        if (step.kind === 'generate' && step.status === 'failed' && step.key && asset.error) {
          this.failedGenerations.set(step.key, { asset: asset.id, code: asset.error.code, message: asset.error.message });
        }
      }
    }
    this.emit({
      type: 'cycle-done',
      cycle,
      rebuilt,
      notResent,
      nothingChanged: rebuilt.length === 0 && !restored && result.report.summary.failed === 0,
      report: result.report,
      exitCode: result.exitCode,
    });
  }

  /** Points the file watcher at exactly these files (waiting for its first scan once). */
  private async watchFiles(files: string[]): Promise<void> {
    const next = new Set([...files, this.manifestFile]);
    const added = [...next].filter((f) => !this.watched.has(f));
    const removed = [...this.watched].filter((f) => !next.has(f));
    if (added.length > 0) this.fsWatcher.add(added);
    if (removed.length > 0) this.fsWatcher.unwatch(removed);
    this.watched = next;
    await this.ready;
    this.emit({ type: 'watching', files: [...this.watched].sort() });
  }
}

/** The files a build reads that a person edits: manifest, includes, source images, ICC profiles. */
export function inputsOf(manifest: ResolvedManifest): string[] {
  const files = new Set(manifest.inputFiles);
  for (const asset of manifest.assets) if (asset.source) files.add(asset.source);
  for (const style of manifest.styles.values()) for (const entry of style.references ?? []) if ('file' in entry) files.add(entry.file);
  for (const profile of manifest.profiles.values()) if (profile.kind === 'file') files.add(profile.path);
  return [...files];
}

/**
 * Watches a manifest and rebuilds on change until close(). The first build starts at once.
 *
 *   const session = watch('assets.pipeline.yaml', { onEvent: (e) => console.log(e.type) });
 *   process.once('SIGINT', () => void session.close());
 */
export function watch(manifestFile: string, options: WatchOptions = {}): WatchHandle {
  return new Watcher(path.resolve(options.cwd ?? process.cwd(), manifestFile), options);
}
