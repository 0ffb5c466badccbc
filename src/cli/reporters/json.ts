import type { BuildEvent } from '../../engine/events.js';
import type { Reporter, ReporterOptions } from './types.js';

/** JSON lines, one event each, for other tools (`--json`). Errors are flattened to plain fields. */
export class JsonReporter implements Reporter {
  constructor(private readonly options: ReporterOptions) {}

  onEvent(event: BuildEvent): void {
    const plain =
      event.type === 'node-failed'
        ? { ...event, error: { code: event.error.code, message: event.error.message, hint: event.error.hint } }
        : event.type === 'build-done'
          ? { type: event.type, reportFile: event.reportFile, summary: event.report.summary }
          : event;
    this.options.out.write(`${JSON.stringify(plain)}\n`);
  }

  close(): void {}
}
