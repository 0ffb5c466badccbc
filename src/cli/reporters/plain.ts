import type { BuildEvent, NodeRef } from '../../engine/events.js';
import { describeResults, formatDuration, formatUsd } from '../format.js';
import { stackOf } from './json.js';
import { colorsFor, type Colors } from '../color.js';
import type { Reporter, ReporterOptions } from './types.js';

const label = (node: NodeRef) => (node.target ? `${node.asset} ${node.kind}:${node.target}` : `${node.asset} ${node.kind}`);

/** One plain line per finished step: for CI logs and pipes (no cursor tricks). */
export class PlainReporter implements Reporter {
  private readonly c: Colors;
  private readonly ce: Colors;

  constructor(private readonly options: ReporterOptions) {
    const none = colorsFor({}, false);
    this.c = options.colors ?? none;
    this.ce = options.errColors ?? none;
  }

  private line(text: string, stream = this.options.out) {
    stream.write(`${text}\n`);
  }

  onEvent(event: BuildEvent): void {
    const { verbose, quiet } = this.options;
    switch (event.type) {
      case 'build-start':
        if (quiet) break;
        if (event.nodesToRun === 0) {
          this.line(`gpt4k: nothing to run (${event.assets} asset(s), every step cached)`);
        } else {
          const building = event.runsByAsset ? Object.keys(event.runsByAsset).length : undefined;
          const assets = building === undefined ? `${event.assets} asset(s)` : `${building} of ${event.assets} asset(s)`;
          this.line(`gpt4k: ${event.nodesToRun} step(s) to run (${assets})${event.estimatedCostUsd > 0 ? `, estimated ${formatUsd(event.estimatedCostUsd)}` : ''}`);
        }
        break;
      case 'lock-wait':
        this.line(`waiting for another gpt4k build of this project (pid ${event.pid}, started ${event.startedAt})`, this.options.err);
        break;
      case 'node-start':
        if (verbose) this.line(`  start ${label(event.node)} (${event.reasons.join('; ') || 'needed'})`);
        break;
      case 'node-done':
        if (quiet) break;
        if (event.status === 'built') this.line(`${this.c.green('built')}  ${label(event.node)} ${formatDuration(event.ms)}${event.costUsd ? ` ${formatUsd(event.costUsd)}` : ''}`);
        else if (event.restored) this.line(`restored ${label(event.node)} from the cache`);
        else if (verbose) this.line(`cached ${label(event.node)}`);
        break;
      case 'node-failed': {
        this.line(`${this.ce.red(this.ce.bold('FAILED'))} ${label(event.node)}: ${event.error.code}: ${event.error.message}${event.error.hint ? `\n       ${this.ce.cyan('hint:')} ${event.error.hint}` : ''}`, this.options.err);
        const stack = verbose && event.error.code === 'E_INTERNAL' ? stackOf(event.error) : undefined;
        if (stack) this.line(stack, this.options.err);
        break;
      }
      case 'node-skipped':
        if (!quiet) this.line(`skipped ${label(event.node)}: ${event.reason}`);
        break;
      case 'retry':
        if (!quiet) this.line(`retry  ${label(event.node)} #${event.attempt} in ${formatDuration(event.delayMs)}: ${event.reason}`);
        break;
      case 'warning':
        this.line(`${this.ce.yellow('warning')}: ${event.message}`, this.options.err);
        break;
      case 'info':
        if (!quiet) this.line(event.message);
        break;
      case 'asset-done':
      case 'progress':
        break;
      case 'build-done': {
        const s = event.report.summary;
        this.line(
          `${s.failed > 0 ? this.c.red('done with failures') : this.c.green('done')}: ${s.built} built, ${s.cached} cached, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ''}${s.pending ? `, ${s.pending} pending` : ''}; ${s.providerCalls} provider call(s), ${formatUsd(s.costUsd)}, ${formatDuration(s.durationMs)}; ${describeResults(event.reportFile)}`,
        );
        break;
      }
    }
  }

  close(): void {}
}
