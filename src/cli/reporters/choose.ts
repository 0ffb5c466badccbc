import { colorsFor } from '../color.js';
import type { GlobalOptions, Io } from '../commands/context.js';
import { JsonReporter } from './json.js';
import { PlainReporter } from './plain.js';
import type { Reporter, ReporterOptions } from './types.js';

/** A live view only for a person at a terminal; CI logs and pipes get one line per step. */
const wantsLiveView = (io: Io) => io.isTTY && !io.env.CI && io.env.TERM !== 'dumb';

/** The live view's module (log-update and its terminal helpers), loaded only where it is shown. */
let ttyModule: typeof import('./tty.js') | undefined;

/** Loads the live view where `io` will show it; makeReporter picks it from then on. */
export async function loadLiveView(io: Io): Promise<void> {
  if (wantsLiveView(io)) ttyModule ??= await import('./tty.js');
}

export function makeReporter(options: GlobalOptions, io: Io): Reporter {
  const reporterOptions: ReporterOptions = {
    verbose: !!options.verbose,
    quiet: !!options.quiet,
    out: io.out,
    err: io.err,
    colors: colorsFor(io.env, io.isTTY),
    errColors: colorsFor(io.env, io.errIsTTY ?? io.isTTY),
  };
  if (options.json) return new JsonReporter(reporterOptions);
  if (wantsLiveView(io) && ttyModule) return new ttyModule.TtyReporter(reporterOptions);
  return new PlainReporter(reporterOptions);
}
