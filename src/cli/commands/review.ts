import { InvalidArgumentError, type Command } from 'commander';
import type { WatchEvent } from '../../engine/watch.js';
import { ExitCode, formatDiagnostic, type GptError } from '../../util/errors.js';
import type { CommandContext } from './context.js';

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number, 0-65535 (0: any free port)');
  return n;
}

/**
 * `gpt4k review`: serves the live proofing page on loopback and rebuilds on change like
 * `gpt4k watch`. Ctrl-C stops it (exit 0), as it does watch.
 */
export function registerReviewCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('review')
    .description('serve a live proofing page (soft proofs, zoom, trim/bleed, variants, approval) and rebuild on every change (Ctrl-C stops)')
    .option('--port <n>', 'port to listen on (default: any free port)', portNumber, 0)
    .option('--host <address>', 'address to listen on (loopback unless you say otherwise)', '127.0.0.1')
    .option('--open', 'open the page in the default browser')
    .option('--debounce <ms>', 'quiet time after the last change before building', (v) => Math.max(0, Number(v) || 0), 100)
    .action(async (opts: { port: number; host: string; open?: boolean; debounce: number }, cmd: Command) => {
      const g = context.globals(cmd);
      const line = (text: string, stream = io.out) => stream.write(`${text}\n`);
      const printError = (error: GptError) => {
        if (error.diagnostics.length > 0) for (const d of error.diagnostics) line(formatDiagnostic(d), io.err);
        else line(`error ${error.code}: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}`, io.err);
      };
      const onEvent = (event: WatchEvent) => {
        if (event.type === 'manifest-error' || event.type === 'error') printError(event.error);
        else if (event.type === 'cycle-done' && !g.quiet) line(`[review] build #${event.cycle} done (exit ${event.exitCode}); the page is up to date`);
      };
      const { startReview } = await import('../../review/session.js');
      const session = await startReview(await context.manifestFile(cmd), { cwd: io.cwd, host: opts.host, port: opts.port, debounceMs: opts.debounce, onEvent });
      line(g.json ? JSON.stringify({ review: true, url: session.url }) : `[review] ${session.url} (Ctrl-C to stop)`);
      if (opts.open) {
        const { default: open } = await import('open');
        await open(session.url).catch((err: Error) => line(`[review] could not open a browser: ${err.message}; open ${session.url} yourself`, io.err));
      }
      let interrupts = 0;
      const onSignal = () => {
        interrupts++;
        if (interrupts > 1) process.exit(ExitCode.interrupted);
        void session.close();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await session.closed;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      line('[review] stopped');
      context.setExit(ExitCode.ok);
    });
}
