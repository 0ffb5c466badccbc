import { rmSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, GptError } from '../util/errors.js';

/** What ends a command early: a key press or `kill`, or a reader that went away (`| head`). */
export type StopCause = 'SIGINT' | 'SIGTERM' | 'EPIPE';

/** The shell's convention: 128 + the signal's number (SIGPIPE is 13). */
export const STOP_EXIT: Record<StopCause, number> = { SIGINT: 130, SIGTERM: 143, EPIPE: 141 };

interface Active {
  stop(cause: StopCause): void;
}

const active = new Set<Active>();
let firstCause: StopCause | undefined;

/** The first stop this process saw, if any: main() turns it into the exit code. */
export const stopCause = (): StopCause | undefined => firstCause;

/** Stops every running cancellable command (EPIPE on stdout). */
export function stopAll(cause: StopCause): void {
  firstCause ??= cause;
  for (const a of active) a.stop(cause);
}

/** The temp folder of this process's build (engine/build.ts), removed when quitting at once. */
export const buildTmpDir = (projectRoot: string): string => path.join(projectRoot, '.gpt4k', 'tmp', `build-${process.pid}`);

/**
 * Runs `run` with an AbortSignal that SIGINT, SIGTERM or a broken stdout pull: the first asks
 * the build to finish or abandon the steps in flight (every write is atomic, so nothing half
 * written is left) and write its report; a second signal quits at once, after removing the
 * build's temp folder. Returns what stopped it, if anything.
 */
export async function cancellable<T>(
  hooks: { announce(cause: StopCause): void; tmpDir?: string },
  run: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; stoppedBy: StopCause | undefined }> {
  const abort = new AbortController();
  let stoppedBy: StopCause | undefined;
  const entry: Active = {
    stop(cause) {
      if (stoppedBy !== undefined && cause !== 'EPIPE') {
        if (hooks.tmpDir) rmSync(hooks.tmpDir, { recursive: true, force: true });
        process.exit(STOP_EXIT[stoppedBy]);
      }
      if (stoppedBy !== undefined) return;
      stoppedBy = cause;
      firstCause ??= cause;
      if (cause !== 'EPIPE') hooks.announce(cause);
      abort.abort(new GptError('E_CANCELLED', cause === 'EPIPE' ? 'the output was closed' : `cancelled (${cause})`, { exitCode: ExitCode.interrupted }));
    },
  };
  const onSigint = () => entry.stop('SIGINT');
  const onSigterm = () => entry.stop('SIGTERM');
  active.add(entry);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    return { value: await run(abort.signal), stoppedBy };
  } finally {
    active.delete(entry);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}
