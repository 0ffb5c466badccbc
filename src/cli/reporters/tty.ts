import { createLogUpdate } from 'log-update';
import type { BuildEvent, NodeRef } from '../../engine/events.js';
import type { PipelineReport } from '../../report/types.js';
import type { GptError } from '../../util/errors.js';
import { describeResults, formatDuration, formatUsd } from '../format.js';
import { stackOf } from './json.js';
import type { Reporter, ReporterOptions } from './types.js';

const label = (node: NodeRef) => (node.target ? `${node.asset} ${node.kind}:${node.target}` : `${node.asset} ${node.kind}`);

/** The live view redraws at most this often (log-update diffs nothing: each frame is a rewrite). */
export const FRAME_MS = 100;
/** Running steps listed by name; the rest are counted. */
const MAX_RUNNING_SHOWN = 8;

/** A terminal's size; a pty that reports 0 x 0 (under `script`, in some CI runners) gets 80 x 24. */
function sizeOf(stream: NodeJS.WritableStream): { columns: number; rows: number } {
  const tty = stream as { columns?: number; rows?: number };
  return { columns: tty.columns || 80, rows: tty.rows || 24 };
}

/** What log-update writes to: the stream, with a usable size (it wraps every line at `columns`). */
function sizedStream(stream: NodeJS.WritableStream): NodeJS.WriteStream {
  const proxy = {
    get columns() {
      return sizeOf(stream).columns;
    },
    get rows() {
      return sizeOf(stream).rows;
    },
    write: (chunk: string) => stream.write(chunk),
  };
  return proxy as unknown as NodeJS.WriteStream;
}

interface Running {
  node: NodeRef;
  startedAt: number;
  note?: string;
}

/**
 * A live view for a person at a terminal: assets and steps done, what runs now and for how
 * long, spend so far, elapsed time and an ETA; then a static summary that lists each failure
 * with its error and hint. Lines that must stay (failures, warnings, --verbose detail) are
 * printed above the live region. `--quiet` keeps only errors and the summary.
 */
export class TtyReporter implements Reporter {
  private readonly log: ReturnType<typeof createLogUpdate>;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private started = 0;
  private totalAssets = 0;
  private stepsToRun = 0;
  private stepsDone = 0;
  private estimatedUsd = 0;
  private spentUsd = 0;
  private runsByAsset = new Map<string, number>();
  private doneByAsset = new Map<string, number>();
  private readonly running = new Map<string, Running>();
  private readonly failures = new Map<string, GptError>();
  private finished = false;
  private live = false;

  constructor(
    private readonly options: ReporterOptions,
    clock: { now?: () => number } = {},
  ) {
    this.log = createLogUpdate(sizedStream(options.out));
    this.now = clock.now ?? Date.now;
  }

  onEvent(event: BuildEvent): void {
    const { verbose, quiet } = this.options;
    switch (event.type) {
      case 'build-start':
        this.started = this.now();
        this.totalAssets = event.assets;
        this.stepsToRun = event.nodesToRun;
        this.estimatedUsd = event.estimatedCostUsd;
        this.runsByAsset = new Map(Object.entries(event.runsByAsset ?? {}));
        // Steps that report progress (the plan's count also has pass-through steps, which do not).
        if (event.runsByAsset) this.stepsToRun = [...this.runsByAsset.values()].reduce((a, b) => a + b, 0);
        if (!quiet) this.startTicker();
        break;
      case 'lock-wait':
        this.persist(`waiting for another gpt4k build of this project (pid ${event.pid}, started ${event.startedAt})`);
        break;
      case 'node-start':
        this.running.set(event.node.id, { node: event.node, startedAt: this.now() });
        if (verbose) this.persist(`start  ${label(event.node)} (${event.reasons.join('; ') || 'needed'})`);
        break;
      case 'node-done':
        this.running.delete(event.node.id);
        if (event.status === 'built') {
          this.stepDone(event.node);
          this.spentUsd += event.costUsd ?? 0;
          if (verbose) this.persist(`built  ${label(event.node)} ${formatDuration(event.ms)}${event.costUsd ? ` ${formatUsd(event.costUsd)}` : ''}`);
        } else if (event.restored) {
          if (!quiet) this.persist(`restored ${label(event.node)} from the cache`);
        } else if (verbose) {
          this.persist(`cached ${label(event.node)}`);
        }
        break;
      case 'node-failed':
        this.running.delete(event.node.id);
        this.stepDone(event.node);
        this.failures.set(event.node.id, event.error);
        this.persist(`✖ ${label(event.node)} failed: ${event.error.code}: ${event.error.message}`, this.options.err);
        break;
      case 'node-skipped':
        this.running.delete(event.node.id);
        this.stepDone(event.node);
        if (verbose) this.persist(`skipped ${label(event.node)}: ${event.reason}`);
        break;
      case 'retry': {
        const running = this.running.get(event.node.id);
        const note = `retry ${event.attempt} in ${formatDuration(event.delayMs)}: ${event.reason}`;
        if (running) running.note = note;
        if (verbose) this.persist(`retry  ${label(event.node)} #${event.attempt} in ${formatDuration(event.delayMs)}: ${event.reason}`);
        break;
      }
      case 'progress': {
        // Real-ESRGAN's percentage (its stderr used to be filtered out): shown beside the step.
        const running = this.running.get(event.node.id);
        if (running) running.note = `${Math.round(event.fraction * 100)}%`;
        break;
      }
      case 'warning':
        if (!quiet) this.persist(`warning: ${event.message}`, this.options.err);
        break;
      case 'info':
        if (!quiet) this.persist(event.message);
        break;
      case 'asset-done':
        break;
      case 'build-done':
        this.finish(event.report, event.reportFile);
        break;
    }
  }

  close(): void {
    this.stopTicker();
    if (this.live) this.log.clear();
    this.live = false;
    this.log.done();
  }

  /** The live region as it would be drawn now (one string, no trailing newline). */
  frame(): string {
    const now = this.now();
    const elapsed = now - this.started;
    const assetsDone = this.assetsDone();
    const parts = [
      `${assetsDone}/${this.totalAssets} assets`,
      `${Math.min(this.stepsDone, this.stepsToRun)}/${this.stepsToRun} steps`,
      this.estimatedUsd > 0 ? `${formatUsd(this.spentUsd)} of ~${formatUsd(this.estimatedUsd)}` : formatUsd(this.spentUsd),
      `${formatDuration(elapsed)} elapsed`,
    ];
    const eta = this.eta(elapsed);
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
    const lines = [`building: ${parts.join(' · ')}`];
    const running = [...this.running.values()].sort((a, b) => a.startedAt - b.startedAt);
    const width = Math.max(0, ...running.slice(0, MAX_RUNNING_SHOWN).map((r) => label(r.node).length));
    for (const r of running.slice(0, MAX_RUNNING_SHOWN)) {
      lines.push(`  › ${label(r.node).padEnd(width)}  ${formatDuration(now - r.startedAt)}${r.note ? `  (${r.note})` : ''}`);
    }
    if (running.length > MAX_RUNNING_SHOWN) lines.push(`  … and ${running.length - MAX_RUNNING_SHOWN} more running`);
    const columns = sizeOf(this.options.out).columns;
    return lines.map((line) => (line.length > columns - 1 ? `${line.slice(0, Math.max(1, columns - 2))}…` : line)).join('\n');
  }

  private stepDone(node: NodeRef): void {
    this.stepsDone++;
    this.doneByAsset.set(node.asset, (this.doneByAsset.get(node.asset) ?? 0) + 1);
  }

  /** Assets with nothing to run count as done from the start. */
  private assetsDone(): number {
    let running = 0;
    for (const [asset, total] of this.runsByAsset) if ((this.doneByAsset.get(asset) ?? 0) < total) running++;
    return Math.max(0, this.totalAssets - running);
  }

  /** From the pace so far; none until a step has finished and a second has passed. */
  private eta(elapsed: number): number | undefined {
    const done = Math.min(this.stepsDone, this.stepsToRun);
    if (done === 0 || done >= this.stepsToRun || elapsed < 1000) return undefined;
    return (elapsed / done) * (this.stepsToRun - done);
  }

  private startTicker(): void {
    this.live = true;
    this.draw();
    this.timer = setInterval(() => this.draw(), FRAME_MS);
    this.timer.unref?.();
  }

  private stopTicker(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private draw(): void {
    if (this.live && !this.finished) this.log(this.frame());
  }

  /** A line that stays: printed above the live region, which is then drawn again below it. */
  private persist(text: string, stream: NodeJS.WritableStream = this.options.out): void {
    if (this.live) this.log.clear();
    stream.write(`${text}\n`);
    this.draw();
  }

  private finish(report: PipelineReport, reportFile: string): void {
    this.stopTicker();
    if (this.live) this.log.clear();
    this.live = false;
    this.finished = true;
    this.log.done();
    const { out } = this.options;
    const s = report.summary;
    const counts = [`${s.built} built`, `${s.cached} cached`, `${s.failed} failed`, ...(s.skipped ? [`${s.skipped} skipped`] : []), ...(s.pending ? [`${s.pending} pending`] : [])];
    const head = s.failed > 0 || s.skipped ? '✖ done with failures' : '✔ done';
    out.write(
      `${head} in ${formatDuration(s.durationMs)}: ${counts.join(', ')} · ${s.providerCalls} provider call${s.providerCalls === 1 ? '' : 's'} · ${formatUsd(s.costUsd)}\n`,
    );
    const failed = report.assets.filter((a) => a.error);
    for (const asset of failed) {
      const error = asset.error!;
      out.write(`  ${asset.id} (${error.step}): ${error.code}: ${error.message}\n`);
      if (error.hint) out.write(`    hint: ${error.hint}\n`);
    }
    if (this.options.verbose) {
      for (const [id, error] of this.failures) {
        if (error.code !== 'E_INTERNAL') continue;
        const stack = stackOf(error);
        if (stack) out.write(`stack trace of ${id}:\n${stack}\n`);
      }
    }
    out.write(`${describeResults(reportFile)}\n`);
  }
}
