import type { BuildEvent } from '../../engine/events.js';
import type { Reporter, ReporterOptions } from './types.js';

/** JSON lines, one event each, for other tools (`--json`). Errors are flattened to plain fields. */
export class JsonReporter implements Reporter {
  constructor(private readonly options: ReporterOptions) {}

  onEvent(event: BuildEvent): void {
    // --quiet: only errors and the final summary.
    if (this.options.quiet && event.type !== 'node-failed' && event.type !== 'build-done') return;
    const stack = this.options.verbose && event.type === 'node-failed' && event.error.code === 'E_INTERNAL' ? stackOf(event.error) : undefined;
    const plain =
      event.type === 'node-failed'
        ? { ...event, error: { code: event.error.code, message: event.error.message, hint: event.error.hint, ...(stack ? { stack } : {}) } }
        : event.type === 'build-done'
          ? { type: event.type, reportFile: event.reportFile, summary: event.report.summary }
          : event;
    this.options.out.write(`${JSON.stringify(plain)}\n`);
  }

  close(): void {}
}

/** The stack of what went wrong inside (the cause), for --verbose reports of internal errors. */
export function stackOf(error: Error): string | undefined {
  return error.cause instanceof Error ? error.cause.stack : error.stack;
}
