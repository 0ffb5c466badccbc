import path from 'node:path';
import { rm } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { loadManifest } from '../manifest/load.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { build, graphOf, openProjectCache, selectionOf } from '../engine/build.js';
import { planBuild } from '../graph/plan.js';
import { ExitCode, GptError, formatDiagnostic, manifestError, toGptError } from '../util/errors.js';
import { JsonReporter } from './reporters/json.js';
import { PlainReporter } from './reporters/plain.js';
import type { Reporter, ReporterOptions } from './reporters/types.js';
import { formatGraph } from './graph-format.js';
import { formatPlan } from './plan-format.js';

export const DEFAULT_MANIFEST = 'assets.pipeline.yaml';

interface GlobalOptions {
  manifest?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
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
  const result = await loadManifest(file, { cwd: io.cwd });
  if (!result.ok) throw manifestError(result.error);
  if (!options.quiet && !options.json) for (const warning of result.value.warnings) io.err.write(`${formatDiagnostic({ ...warning, severity: 'warning' })}\n`);
  return result.value;
}

export function makeReporter(options: GlobalOptions, io: Io): Reporter {
  const reporterOptions: ReporterOptions = { verbose: !!options.verbose, quiet: !!options.quiet, out: io.out, err: io.err };
  if (options.json) return new JsonReporter(reporterOptions);
  return new PlainReporter(reporterOptions);
}

/** Renders an error for a person: diagnostics with positions, or code, message and hint. */
export function printError(err: unknown, io: Io, verbose: boolean): ExitCode {
  const error = toGptError(err);
  if (error.diagnostics.length > 0) {
    for (const d of error.diagnostics) io.err.write(`${formatDiagnostic(d)}\n`);
    if (error.diagnostics.length > 1) io.err.write(`${error.diagnostics.length} problems\n`);
  } else {
    io.err.write(`error ${error.code}: ${error.message}\n`);
    if (error.hint) io.err.write(`  hint: ${error.hint}\n`);
  }
  if (verbose && error.code === 'E_INTERNAL' && err instanceof Error && err.stack) io.err.write(`${err.stack}\n`);
  else if (error.code === 'E_INTERNAL') io.err.write('  this is a bug in gpt4k; run again with --verbose for the stack trace\n');
  return error.exitCode;
}

export function createProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('gpt4k')
    .description('Builds print- and screen-ready image deliverables from a YAML manifest of prompts, with content-hash caching.')
    .option('-m, --manifest <file>', `the manifest (default: ./${DEFAULT_MANIFEST})`)
    .option('--json', 'machine-readable output (JSON lines for build, JSON for plan/graph)')
    .option('-v, --verbose', 'say more, including stack traces of internal errors')
    .option('-q, --quiet', 'only errors and the final summary')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
    .exitOverride();

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals() as GlobalOptions;

  program
    .command('build')
    .description('build the deliverables (only what changed)')
    .argument('[assets...]', 'build only these assets (and what they depend on)')
    .option('--frozen', 'CI mode: never call a paid or remote provider; exit 3 if one would be needed')
    .option('--regenerate <ids...>', 'generate these assets again (a new image) even if cached')
    .option('--max-cost <usd>', 'refuse to start if the estimate exceeds this many USD', parseFloat)
    .option('--fail-fast', 'stop at the first failed asset')
    .option('--explain', 'print why each step runs before building')
    .action(async (assets: string[], opts: { frozen?: boolean; regenerate?: string[]; maxCost?: number; failFast?: boolean; explain?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await loadOrThrow(g, io);
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
          io.out.write(`${formatPlan(plan, { verbose: !!g.verbose, onlyRuns: true })}\n`);
        }
        const result = await build(manifest, {
          assets,
          frozen: !!opts.frozen,
          regenerate: opts.regenerate ?? [],
          ...(opts.maxCost !== undefined ? { maxCostUsd: opts.maxCost } : {}),
          failFast: !!opts.failFast,
          signal: abort.signal,
          onEvent: (event) => reporter.onEvent(event),
        });
        reporter.close();
        setExit(result.exitCode);
      } finally {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });

  program
    .command('plan')
    .description('what a build would run, and why, with the estimated cost')
    .argument('[assets...]', 'plan only these assets')
    .option('--regenerate <ids...>', 'plan as if these assets were regenerated')
    .action(async (assets: string[], opts: { regenerate?: string[] }, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await loadOrThrow(g, io);
      const plan = await planFor(manifest, assets, opts.regenerate);
      io.out.write(g.json ? `${JSON.stringify(plan, null, 2)}\n` : `${formatPlan(plan, { verbose: !!g.verbose, onlyRuns: false, manifest })}\n`);
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
    .description('check the manifest (schema, references, files) and print any problems with their positions')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const manifest = await loadOrThrow(g, io);
      graphOf(manifest);
      const message = `${path.relative(io.cwd, manifest.file) || manifest.file}: ok (${manifest.assets.length} assets, ${manifest.targets.size} targets)`;
      io.out.write(g.json ? `${JSON.stringify({ ok: true, assets: manifest.assets.map((a) => a.id), warnings: manifest.warnings })}\n` : `${message}\n`);
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

  return program;
}

async function planFor(manifest: ResolvedManifest, assets: string[], regenerate: string[] | undefined) {
  const graph = graphOf(manifest);
  const cache = await openProjectCache(manifest);
  const selected = selectionOf(graph, assets);
  const plan = await planBuild(graph, { store: cache.store, files: cache.files, state: cache.state, forced: new Set(regenerate ?? []) }, selected);
  await cache.files.save().catch(() => undefined);
  return plan;
}

/** Runs the CLI; resolves to the exit code (DESIGN.md: 0 ok, 1 asset failed, 2 usage/manifest, 3 policy). */
export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env, isTTY: !!process.stdout.isTTY }): Promise<number> {
  let exitCode: ExitCode = ExitCode.ok;
  const program = createProgram(io, (code) => {
    exitCode = code;
  });
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return ExitCode.usage;
    }
    return printError(err, io, verbose);
  }
}
