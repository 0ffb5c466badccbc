import { readFileSync } from 'node:fs';
import path from 'node:path';
import { rm, stat } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadManifest } from '../manifest/load.js';
import { withProvider } from '../manifest/provider-override.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { build, graphOf, openProjectCache, selectionOf } from '../engine/build.js';
import { planBuild, type Plan } from '../graph/plan.js';
import { credentialProblems, credentialWarning } from '../engine/credentials.js';
import { formatUsd } from './format.js';
import type { Diagnostic } from '../util/errors.js';
import { ExitCode, GptError, INTERNAL_HINT, formatDiagnostic, manifestError, toGptError } from '../util/errors.js';
import { JsonReporter, stackOf } from './reporters/json.js';
import { PlainReporter } from './reporters/plain.js';
import type { Reporter, ReporterOptions } from './reporters/types.js';
import { formatGraph } from './graph-format.js';
import { formatPlan } from './plan-format.js';
import { registerCacheCommands } from './commands/cache.js';
import type { CommandContext } from './commands/context.js';
import { registerPickCommand } from './commands/pick.js';
import { registerPreflightCommand } from './commands/preflight.js';
import { registerWatchCommand } from './commands/watch.js';
import { registerBatchesCommand } from './commands/batches.js';
import { withBatch } from '../manifest/batch-override.js';

export const DEFAULT_MANIFEST = 'assets.pipeline.yaml';

interface GlobalOptions {
  manifest?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  /** A `modes:` entry to build in (draft, ...). */
  mode?: string;
}

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  cwd: string;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
}

async function loadOrThrow(options: GlobalOptions, io: Io): Promise<ResolvedManifest> {
  const file = path.resolve(io.cwd, options.manifest ?? DEFAULT_MANIFEST);
  await checkManifestExists(file, options, io);
  const result = await loadManifest(file, { cwd: io.cwd, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
  if (!result.ok) throw manifestError(result.error);
  if (!options.quiet && !options.json) for (const warning of result.value.warnings) io.err.write(`${formatDiagnostic({ ...warning, severity: 'warning' })}\n`);
  return result.value;
}

function parseUsd(value: string): number {
  const usd = Number(value);
  if (value.trim() === '' || !Number.isFinite(usd) || usd < 0) throw new InvalidArgumentError(`expected an amount in USD such as 5 or 12.50, got "${value}"`);
  return usd;
}

/** E_NO_MANIFEST before anything else: the most common first error, with the two ways out. */
async function checkManifestExists(file: string, options: GlobalOptions, io: Io): Promise<void> {
  const found = await stat(file).then((info) => info.isFile(), () => false);
  if (found) return;
  const shown = path.relative(io.cwd, file) || file;
  if (options.manifest) {
    throw new GptError('E_NO_MANIFEST', `manifest ${shown} does not exist`, { hint: 'check the --manifest path (it is relative to the current folder)', exitCode: ExitCode.usage });
  }
  throw new GptError('E_NO_MANIFEST', `no ${DEFAULT_MANIFEST} in ${io.cwd}`, {
    hint: `run \`gpt4k init\` to create one, or point at yours with --manifest FILE`,
    exitCode: ExitCode.usage,
  });
}

/** A live view only for a person at a terminal; CI logs and pipes get one line per step. */
const wantsLiveView = (io: Io) => io.isTTY && !io.env.CI && io.env.TERM !== 'dumb';

/** The live view's module (log-update and its terminal helpers), loaded only where it is shown. */
let ttyModule: typeof import('./reporters/tty.js') | undefined;

/** Loads the live view where `io` will show it; makeReporter picks it from then on. */
export async function loadLiveView(io: Io): Promise<void> {
  if (wantsLiveView(io)) ttyModule ??= await import('./reporters/tty.js');
}

export function makeReporter(options: GlobalOptions, io: Io): Reporter {
  const reporterOptions: ReporterOptions = { verbose: !!options.verbose, quiet: !!options.quiet, out: io.out, err: io.err };
  if (options.json) return new JsonReporter(reporterOptions);
  if (wantsLiveView(io) && ttyModule) return new ttyModule.TtyReporter(reporterOptions);
  return new PlainReporter(reporterOptions);
}

/** Renders an error for a person: diagnostics with positions, or code, message and hint. */
/** An error as one JSON line on stdout (`--json`): what a tool reading the events would parse. */
function errorJson(error: GptError): string {
  const diagnostics = error.diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity ?? 'error',
    message: d.message,
    ...(d.at ? { at: d.at } : {}),
    ...(d.hint ? { hint: d.hint } : {}),
  }));
  return `${JSON.stringify({ type: 'error', error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}), exitCode: error.exitCode, ...(diagnostics.length > 0 ? { diagnostics } : {}) } })}\n`;
}

export function printError(err: unknown, io: Io, verbose: boolean, json = false): ExitCode {
  const error = toGptError(err);
  // With --json, tools get the error as a JSON line on stdout; people still read stderr.
  if (json) io.out.write(errorJson(error));
  if (error.diagnostics.length > 0) {
    for (const d of error.diagnostics) io.err.write(`${formatDiagnostic(d)}\n`);
    if (error.diagnostics.length > 1) io.err.write(`${error.diagnostics.length} problems\n`);
  } else {
    io.err.write(`error ${error.code}: ${error.message}\n`);
    if (error.hint) io.err.write(`  hint: ${error.hint}\n`);
  }
  const stack = error.code === 'E_INTERNAL' ? stackOf(error) : undefined;
  if (verbose && stack) io.err.write(`${stack}\n`);
  else if (error.code === 'E_INTERNAL' && !error.hint) io.err.write(`  hint: ${INTERNAL_HINT}\n`);
  return error.exitCode;
}

/** The installed package's version (package.json beside dist/), for `gpt4k --version`. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function createProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('gpt4k')
    .description('Builds print- and screen-ready image deliverables from a YAML manifest of prompts, with content-hash caching.')
    .option('-m, --manifest <file>', `the manifest (default: ./${DEFAULT_MANIFEST})`)
    .option('--json', 'machine-readable output (JSON lines for build, JSON for plan/graph)')
    .option('-v, --verbose', 'say more, including stack traces of internal errors')
    .option('-q, --quiet', 'only errors and the final summary')
    .option('--mode <name>', 'build in a mode declared under modes: (e.g. draft); its deliverables go to <output>/_<name>/')
    .version(packageVersion(), '-V, --version', "print gpt4k's version")
    // Usage errors are printed by main() as one line with a hint, like every other error.
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s), outputError: () => undefined })
    .exitOverride();

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;

  program
    .command('build')
    .description('build the deliverables (only what changed)')
    .argument('[assets...]', 'build only these assets (and what they depend on)')
    .option('--frozen', 'CI mode: never call a paid or remote provider; exit 3 if one would be needed')
    .option('--regenerate <ids...>', 'generate these assets again (a new image) even if cached')
    .option('--max-cost <usd>', 'refuse to start if the estimate exceeds this many USD', parseUsd)
    .option('--fail-fast', 'stop at the first failed asset')
    .option('--explain', 'print why each step runs before building')
    .option('--strict', 'prompt lint warnings are errors (exit 2)')
    .option('--provider <name>', 'generate every asset with this provider instead of the manifest\'s (e.g. procedural for a free dry run)')
    .option('--batch', "send the generations through the provider's batch API (half price, answered within 24 h), as generate.batch: true does")
    .option('--no-wait', 'batched generations: submit (or check once) and exit, reporting them pending; a later build collects them')
    .action(async (assets: string[], opts: { frozen?: boolean; regenerate?: string[]; maxCost?: number; failFast?: boolean; explain?: boolean; strict?: boolean; provider?: string; batch?: boolean; wait?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const loaded = await loadOrThrow(g, io);
      const provided = opts.provider ? await withProvider(loaded, opts.provider) : loaded;
      const manifest = opts.batch ? withBatch(provided) : provided;
      await lintOrThrow(manifest, g, !!opts.strict, io);
      const reporter = makeReporter(g, io);
      const abort = new AbortController();
      let interrupts = 0;
      const onSigint = () => {
        interrupts++;
        if (interrupts > 1) process.exit(ExitCode.interrupted);
        io.err.write('\ninterrupted: finishing the steps in flight and writing the report (Ctrl-C again to quit now)\n');
        abort.abort(new GptError('E_CANCELLED', 'cancelled by the user', { exitCode: ExitCode.interrupted }));
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      try {
        if (opts.explain) {
          const plan = await planFor(manifest, assets, opts.regenerate);
          io.out.write(g.json ? `${JSON.stringify({ type: 'plan', ...plan })}\n` : `${formatPlan(plan, { verbose: !!g.verbose, onlyRuns: true })}\n\n`);
        }
        const result = await build(manifest, {
          assets,
          frozen: !!opts.frozen,
          regenerate: opts.regenerate ?? [],
          ...(opts.maxCost !== undefined ? { maxCostUsd: opts.maxCost } : {}),
          failFast: !!opts.failFast,
          batchWait: opts.wait !== false,
          signal: abort.signal,
          onEvent: (event) => reporter.onEvent(event),
        });
        setExit(result.exitCode);
      } finally {
        reporter.close();
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });

  program
    .command('plan')
    .description('what a build would run, and why, with the estimated cost')
    .argument('[assets...]', 'plan only these assets')
    .option('--regenerate <ids...>', 'plan as if these assets were regenerated')
    .option('--provider <name>', 'plan as if every asset were generated by this provider')
    .option('--batch', "plan as if every generation went through the provider's batch API (batch price)")
    .action(async (assets: string[], opts: { regenerate?: string[]; provider?: string; batch?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const loaded = await loadOrThrow(g, io);
      const provided = opts.provider ? await withProvider(loaded, opts.provider) : loaded;
      const manifest = opts.batch ? withBatch(provided) : provided;
      const plan = await planFor(manifest, assets, opts.regenerate);
      const modes = await modeCosts(manifest, g, io, assets);
      const warnings = (await credentialProblems(manifest, plan)).map(credentialWarning);
      if (g.json) {
        io.out.write(`${JSON.stringify({ ...plan, ...(modes.length > 0 ? { modes } : {}), ...(warnings.length > 0 ? { warnings } : {}) }, null, 2)}\n`);
        return;
      }
      // Said before the plan, where a build would only find out at its first request.
      for (const warning of warnings) io.err.write(`${formatDiagnostic(warning)}\n`);
      const extra = [g.verbose ? formatPrompts(manifest, plan) : '', modes.length > 0 ? formatModeCosts(modes) : ''].filter((s) => s !== '');
      io.out.write(`${[formatPlan(plan, { verbose: !!g.verbose, onlyRuns: false, manifest }), ...extra].join('\n\n')}\n`);
    });

  program
    .command('graph')
    .description('print the build graph')
    .addOption(new Option('--format <format>', 'output format').choices(['dot', 'mermaid', 'json']).default('dot'))
    .action(async (opts: { format: 'dot' | 'mermaid' | 'json' }, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await loadOrThrow(g, io);
      io.out.write(`${formatGraph(graphOf(manifest), g.json ? 'json' : opts.format)}\n`);
    });

  program
    .command('validate')
    .description('check the manifest (schema, references, files) and the prompts (lint), and print any problems with their positions')
    .option('--strict', 'prompt lint warnings are errors (exit 2)')
    .action(async (opts: { strict?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await loadOrThrow(g, io);
      graphOf(manifest);
      const lints = await lintOrThrow(manifest, g, !!opts.strict, io);
      const message = `${path.relative(io.cwd, manifest.file) || manifest.file}: ok (${manifest.assets.length} assets, ${manifest.targets.size} targets${lints.length > 0 ? `, ${lints.length} prompt warning${lints.length === 1 ? '' : 's'}` : ''})`;
      io.out.write(g.json ? `${JSON.stringify({ ok: true, assets: manifest.assets.map((a) => a.id), warnings: [...manifest.warnings, ...lints] })}\n` : `${message}\n`);
    });

  program
    .command('clean')
    .description('delete the deliverables folder (and with --cache, the cache: paid images are lost)')
    .option('--cache', 'also delete .gpt4k/ (generated images will have to be paid for again)')
    .action(async (opts: { cache?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await loadOrThrow(g, io);
      await rm(manifest.outputDir, { recursive: true, force: true });
      const removed = [path.relative(io.cwd, manifest.outputDir) || manifest.outputDir];
      if (opts.cache) {
        const cacheDir = path.join(manifest.root, '.gpt4k');
        await rm(cacheDir, { recursive: true, force: true });
        removed.push(path.relative(io.cwd, cacheDir));
      }
      if (!g.quiet) io.out.write(`removed ${removed.join(', ')}\n`);
    });

  program
    .command('init')
    .description('scaffold assets.pipeline.yaml, .gitignore lines and a GitHub Actions workflow')
    .option('--force', 'overwrite existing files')
    .action(async (opts: { force?: boolean }) => {
      const { initProject } = await import('./init.js');
      const result = await initProject(io.cwd, { force: !!opts.force });
      for (const file of result.created) io.out.write(`created ${file}\n`);
      for (const file of result.skipped) io.out.write(`kept    ${file} (exists; --force to overwrite)\n`);
    });

  const context: CommandContext = {
    io,
    globals,
    manifestFile: (cmd) => path.resolve(io.cwd, globals(cmd).manifest ?? DEFAULT_MANIFEST),
    load: (cmd) => loadOrThrow(globals(cmd), io),
    reporter: (cmd) => makeReporter(globals(cmd), io),
    setExit,
  };
  registerWatchCommand(program, context);
  registerCacheCommands(program, context);
  registerPickCommand(program, context);
  registerPreflightCommand(program, context);
  registerBatchesCommand(program, context);

  return program;
}

/** Prompt lint (src/prompt/lint.ts): printed as warnings, or with --strict an invalid manifest (exit 2). */
async function lintOrThrow(manifest: ResolvedManifest, options: GlobalOptions, strict: boolean, io: Io): Promise<Diagnostic[]> {
  const { lintPromptsCached } = await import('../prompt/lint-cache.js');
  const lints = await lintPromptsCached(manifest);
  if (strict && lints.length > 0) throw manifestError(lints.map((d) => ({ ...d, severity: 'error' as const })));
  if (!options.quiet && !options.json) for (const d of lints) io.err.write(`${formatDiagnostic(d)}\n`);
  return lints;
}

interface ModeCost {
  /** "default" is the manifest as written (no --mode). */
  mode: string;
  current: boolean;
  images: number;
  estimatedCostUsd: number;
  output: string;
}

/** What each of the manifest's modes would cost now (with this cache), for `gpt4k plan`. */
async function modeCosts(manifest: ResolvedManifest, options: GlobalOptions, io: Io, assets: string[]): Promise<ModeCost[]> {
  if (!manifest.modes || manifest.modes.length === 0) return [];
  const costs: ModeCost[] = [];
  for (const mode of [undefined, ...manifest.modes]) {
    const loaded = mode === manifest.mode ? manifest : await loadOrThrow({ ...options, quiet: true, ...(mode === undefined ? { mode: undefined } : { mode }) }, io);
    const plan = await planFor(loaded, assets, undefined);
    costs.push({
      mode: mode ?? 'default',
      current: mode === manifest.mode,
      images: plan.summary.generate,
      estimatedCostUsd: plan.summary.estimatedCostUsd,
      output: path.relative(manifest.root, loaded.outputDir).split(path.sep).join('/'),
    });
  }
  return costs;
}

function formatModeCosts(costs: ModeCost[]): string {
  const cells = costs.map((c) => `${c.mode}${c.current ? ' (this plan)' : ''} ${c.images} image${c.images === 1 ? '' : 's'} ~${formatUsd(c.estimatedCostUsd)} -> ${c.output}/`);
  return `modes: ${cells.join('; ')}\n  (gpt4k plan --mode NAME for the steps of one)`;
}

/** `plan --verbose`: the final text each generation sends, style prefix and compiled structure included. */
function formatPrompts(manifest: ResolvedManifest, plan: Plan): string {
  const running = new Set(plan.nodes.filter((n) => n.kind === 'generate').map((n) => n.asset));
  const lines = manifest.assets.filter((a) => running.has(a.id)).map((a) => `  ${a.id}: ${JSON.stringify(a.prompt)}`);
  return lines.length > 0 ? `prompts (as sent):\n${lines.join('\n')}` : '';
}

async function planFor(manifest: ResolvedManifest, assets: string[], regenerate: string[] | undefined) {
  const graph = graphOf(manifest);
  const cache = await openProjectCache(manifest);
  const selected = selectionOf(graph, assets);
  const plan = await planBuild(graph, { store: cache.store, files: cache.files, state: cache.state, forced: new Set(regenerate ?? []), ...(cache.lock ? { lock: cache.lock } : {}), pendingBatches: cache.pendingBatches }, selected);
  await cache.files.save().catch(() => undefined);
  return plan;
}

/** A bad flag or command: `error E_USAGE: ...` on one line, and where the usage is. */
function printUsageError(err: CommanderError, program: Command, argv: string[], io: Io): ExitCode {
  const message = err.message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/\(Did you mean/, '(did you mean');
  const command = program.commands.find((c) => argv.includes(c.name()));
  const hint = `see \`gpt4k ${command ? `${command.name()} ` : ''}--help\` for the usage`;
  if (argv.includes('--json')) io.out.write(errorJson(new GptError('E_USAGE', message, { hint, exitCode: ExitCode.usage })));
  io.err.write(`error E_USAGE: ${message}\n  hint: ${hint}\n`);
  return ExitCode.usage;
}

/** Runs the CLI; resolves to the exit code (DESIGN.md: 0 ok, 1 asset failed, 2 usage/manifest, 3 policy). */
export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env, isTTY: !!process.stdout.isTTY }): Promise<number> {
  let exitCode: ExitCode = ExitCode.ok;
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
    return printError(err, io, verbose, argv.includes('--json'));
  }
}
