import type { Command } from 'commander';
import type { WatchEvent } from '../../engine/watch.js';
import { ExitCode, formatDiagnostic, type GptError } from '../../util/errors.js';
import type { Reporter } from '../reporters/types.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { shown } from './context.js';

const stepLabel = (id: string): string => id.replace('/', ' ');

/**
 * `gpt4k watch`: rebuilds on every change until Ctrl-C. Ctrl-C aborts the build in flight and
 * exits 0: stopping is how a watch session normally ends, so scripts (npm run watch) do not
 * report it as a failure. A second Ctrl-C while the build winds down quits at once (130).
 */
export function registerWatchCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('watch')
    .description('build, then rebuild whenever the manifest, an include, a source image or an ICC profile changes (Ctrl-C stops; exit 0)')
    .argument('[assets...]', 'build only these assets (and what they depend on)')
    .option('--debounce <ms>', 'quiet time after the last change before building', (v) => Math.max(0, Number(v) || 0), 100)
    .action(async (assets: string[], opts: { debounce: number }, cmd: Command) => {
      const g = context.globals(cmd);
      const line = (text: string, stream = io.out) => stream.write(`${text}\n`);
      const render = watchPrinter(context, cmd, g);

      // chokidar is loaded only when watching: other commands start faster without it.
      const { watch } = await import('../../engine/watch.js');
      const session = watch(await context.manifestFile(cmd), {
        cwd: io.cwd,
        debounceMs: opts.debounce,
        build: { assets },
        onEvent: (event) => {
          try {
            render(event);
          } catch (err) {
            line(`[watch] could not print an event: ${(err as Error).message}`, io.err);
          }
        },
      });
      let interrupts = 0;
      const onSignal = () => {
        interrupts++;
        if (interrupts > 1) process.exit(ExitCode.interrupted);
        if (!g.json) line('\n[watch] stopping (Ctrl-C again to quit at once)', io.err);
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
      context.setExit(ExitCode.ok);
    });
}

/** Prints watch events: with --json one JSON line each, else the [watch] lines and each build's reporter. */
function watchPrinter(context: CommandContext, cmd: Command, g: GlobalOptions): (event: WatchEvent) => void {
  const { io } = context;
  const line = (text: string, stream = io.out) => stream.write(`${text}\n`);
  let reporter: Reporter | undefined;
  let lastWatched = '';

  const printError = (error: GptError) => {
    if (error.diagnostics.length > 0) for (const d of error.diagnostics) line(formatDiagnostic(d), io.err);
    else line(`error ${error.code}: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}`, io.err);
  };

  return (event: WatchEvent) => {
    if (g.json) {
      if (event.type === 'build') return context.reporter(cmd).onEvent(event.event);
      const plain =
        event.type === 'manifest-error' || event.type === 'error'
          ? { type: event.type, error: { code: event.error.code, message: event.error.message, hint: event.error.hint, diagnostics: event.error.diagnostics } }
          : event.type === 'cycle-done'
            ? { ...event, report: event.report?.summary }
            : event;
      return line(JSON.stringify({ watch: true, ...plain }));
    }
    switch (event.type) {
      case 'cycle-start':
        reporter = context.reporter(cmd);
        line(event.cycle === 1 ? '[watch] first build' : `[watch] build #${event.cycle}: ${[...new Set(event.changes.map((f) => shown(io.cwd, f)))].join(', ') || 'changed'}`);
        break;
      case 'watching': {
        const list = event.files.map((f) => shown(io.cwd, f)).join(', ');
        if (list !== lastWatched && !g.quiet) line(`[watch] watching ${event.files.length} file(s): ${list}`);
        lastWatched = list;
        break;
      }
      case 'build':
        reporter?.onEvent(event.event);
        break;
      case 'manifest-error':
        printError(event.error);
        line('[watch] the manifest has errors: fix them and save', io.err);
        break;
      case 'error':
        printError(event.error);
        break;
      case 'cycle-done':
        reporter?.close();
        reporter = undefined;
        printCycleDone(event, line, io.err);
        break;
      case 'stopped':
        line('[watch] stopped');
        break;
    }
  };
}

type Line = (text: string, stream?: NodeJS.WritableStream) => void;

/** The lines that close a watch cycle: what was rebuilt (and why), what failed. */
function printCycleDone(event: Extract<WatchEvent, { type: 'cycle-done' }>, line: Line, err: NodeJS.WritableStream): void {
  if (!event.report) {
    // The manifest or a policy stopped this build; the error is printed already.
  } else if (event.nothingChanged) {
    line(`[watch] nothing changed${event.notResent.length ? `; not sent again (failed earlier with the same inputs): ${event.notResent.join(', ')}` : ''}`);
  } else if (event.rebuilt.length > 0) {
    line(`[watch] rebuilt ${event.rebuilt.length} step(s):`);
    for (const step of event.rebuilt) line(`  ${stepLabel(step.id)}: ${step.reasons.join('; ') || 'needed'}`);
    if (event.notResent.length) line(`[watch] not sent again (failed earlier with the same inputs): ${event.notResent.join(', ')}`);
  }
  if (event.report && event.report.summary.failed > 0) {
    const failed = event.report.assets.filter((a) => a.status === 'failed').map((a) => `${a.id}${a.error ? ` (${a.error.step})` : ''}`);
    line(`[watch] failed: ${failed.join(', ')}`, err);
  }
  line('[watch] waiting for changes (Ctrl-C to stop)');
}
