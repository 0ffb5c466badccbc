import type { BuildEvent } from '../../engine/events.js';
import type { Colors } from '../color.js';

/** Renders build events for one kind of audience; nothing else in a build writes to the console. */
export interface Reporter {
  onEvent(event: BuildEvent): void;
  /** A line outside a build (plan output, command results). */
  close(): void;
}

export interface ReporterOptions {
  verbose: boolean;
  quiet: boolean;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Colours for `out` and `err` (identity functions where colour is off). */
  colors?: Colors;
  errColors?: Colors;
}
