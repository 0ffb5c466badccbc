import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { DEFAULT_MANIFEST } from '../manifest/discover.js';
import { ExitCode, GptError } from '../util/errors.js';
import { colorsFor } from './color.js';
import { registerBatchesCommand } from './commands/batches.js';
import { registerBuildCommand } from './commands/build.js';
import { registerCacheCommands } from './commands/cache.js';
import { registerCleanCommand } from './commands/clean.js';
import { registerCompletionCommand } from './commands/completion.js';
import type { CommandContext, GlobalOptions, Io } from './commands/context.js';
import { registerGraphCommand } from './commands/graph.js';
import { registerInitCommand } from './commands/init.js';
import { registerModelsCommand } from './commands/models.js';
import { registerPickCommand } from './commands/pick.js';
import { registerPlanCommand } from './commands/plan.js';
import { registerPreflightCommand } from './commands/preflight.js';
import { registerReviewCommand } from './commands/review.js';
import { registerValidateCommand } from './commands/validate.js';
import { registerWatchCommand } from './commands/watch.js';
import { printError, printUsageError } from './errors-print.js';
import { loadOrThrow, manifestPath } from './load.js';
import { loadLiveView, makeReporter } from './reporters/choose.js';
import { STOP_EXIT, stopAll, stopCause } from './signals.js';

export { DEFAULT_MANIFEST };
export type { Io };
export { loadLiveView, makeReporter } from './reporters/choose.js';
export { printError } from './errors-print.js';

/** The installed package's version (package.json beside dist/), for `gpt4k --version`. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** `-C DIR`, as in make and git: everything (manifest discovery, relative paths, init) starts there. */
async function enterDirectory(io: Io, dir: string | undefined): Promise<void> {
  if (dir === undefined) return;
  const target = path.resolve(io.cwd, dir);
  if (!(await stat(target).then((info) => info.isDirectory(), () => false))) {
    throw new GptError('E_NO_DIRECTORY', `-C ${dir}: no such folder`, { hint: `${target} does not exist or is not a folder`, exitCode: ExitCode.usage });
  }
  io.cwd = target;
}

export function createProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('gpt4k')
    .description('Builds print- and screen-ready image deliverables from a YAML manifest of prompts, with content-hash caching.')
    .option('-C, --directory <dir>', 'run as if started in DIR (like make -C and git -C)')
    .option('-m, --manifest <file>', `the manifest (default: the nearest ${DEFAULT_MANIFEST} here or in a folder above, up to the git root)`)
    .option('--json', 'machine-readable output (JSON lines for build, JSON for plan/graph)')
    .option('-v, --verbose', 'say more, including stack traces of internal errors')
    .option('-q, --quiet', 'only errors and the final summary')
    .option('--mode <name>', 'build in a mode declared under modes: (e.g. draft); its deliverables go to <output>/_<name>/')
    .version(packageVersion(), '-V, --version', "print gpt4k's version")
    // Usage errors are printed by main() as one line with a hint, like every other error.
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s), outputError: () => undefined })
    .exitOverride()
    .hook('preAction', async (_program, action) => enterDirectory(io, (action.optsWithGlobals() as GlobalOptions).directory));

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;
  const context: CommandContext = {
    io,
    globals,
    manifestFile: (cmd) => manifestPath(globals(cmd), io),
    load: (cmd, overrides = {}) => loadOrThrow({ ...globals(cmd), ...overrides }, io),
    reporter: (cmd) => makeReporter(globals(cmd), io),
    colors: { out: colorsFor(io.env, io.isTTY), err: colorsFor(io.env, io.errIsTTY ?? io.isTTY) },
    setExit,
  };
  registerBuildCommand(program, context);
  registerPlanCommand(program, context);
  registerGraphCommand(program, context);
  registerValidateCommand(program, context);
  registerCleanCommand(program, context);
  registerInitCommand(program, context);
  registerWatchCommand(program, context);
  registerCacheCommands(program, context);
  registerPickCommand(program, context);
  registerPreflightCommand(program, context);
  registerBatchesCommand(program, context);
  registerModelsCommand(program, context);
  registerReviewCommand(program, context);
  registerCompletionCommand(program, context);
  return program;
}

/** A yes/no question on the terminal, where both stdin and stderr are one. */
function terminalConfirm(): ((question: string) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  };
}

/**
 * A reader that goes away (`gpt4k --json build | head -1`) is not an error: the build is
 * cancelled cleanly (temp files removed, report written) and the process exits quietly, as
 * `git log | head` does. Later writes to the closed stream are dropped.
 */
function quietOnBrokenPipe(stream: NodeJS.WritableStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return stopAll('EPIPE');
    throw err;
  });
}

function processIo(): Io {
  quietOnBrokenPipe(process.stdout);
  quietOnBrokenPipe(process.stderr);
  const confirm = terminalConfirm();
  return { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env, isTTY: !!process.stdout.isTTY, errIsTTY: !!process.stderr.isTTY, ...(confirm ? { confirm } : {}) };
}

/** Runs the CLI; resolves to the exit code (DESIGN.md: 0 ok, 1 asset failed, 2 usage/manifest, 3 policy; 130/143/141 stopped). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = createProgram(io, (code) => {
    exitCode = code;
  });
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    await loadLiveView(io);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return printUsageError(err, program, argv, io);
    }
    const stopped = stopCause();
    if (stopped === 'EPIPE') return STOP_EXIT.EPIPE;
    const code = printError(err, io, verbose, argv.includes('--json'));
    return stopped ? STOP_EXIT[stopped] : code;
  }
}
