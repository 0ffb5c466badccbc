import { InvalidArgumentError, type Command } from 'commander';
import { remoteUrlProblem } from '../../cache/remote/config.js';
import { build } from '../../engine/build.js';
import { parseShardSpec, type ShardSpec } from '../../graph/shard.js';
import { plan } from '../../index.js';
import { withBatch } from '../../manifest/batch-override.js';
import { approvalsOf } from '../../graph/approvals.js';
import { builtinBackends } from '../../engine/backends.js';
import { withProvider } from '../../manifest/provider-override.js';
import type { ResolvedManifest } from '../../manifest/types.js';
import { readReviewFile, REVIEW_FILE, REVIEW_LABEL } from '../../report/review-file.js';
import { ExitCode, GptError } from '../../util/errors.js';
import { lintOrThrow } from '../load.js';
import { formatPlan } from '../plan-format.js';
import { STOP_EXIT, buildTmpDir, cancellable } from '../signals.js';
import type { CommandContext } from './context.js';

export function parseUsd(value: string): number {
  const usd = Number(value);
  if (value.trim() === '' || !Number.isFinite(usd) || usd < 0) throw new InvalidArgumentError(`expected an amount in USD such as 5 or 12.50, got "${value}"`);
  return usd;
}

/** --remote-cache: an http(s) URL (turbo+ for the Turborepo API) or "off"; a bad one is a usage error. */
export function remoteCacheUrl(url: string): string {
  const problem = url === 'off' ? undefined : remoteUrlProblem(url);
  if (problem) throw new InvalidArgumentError(problem);
  return url;
}

function shardSpec(text: string): ShardSpec {
  const spec = parseShardSpec(text);
  if (!spec) throw new InvalidArgumentError(`expected I/N with 1 <= I <= N, such as 2/3, got "${text}"`);
  return spec;
}

interface BuildFlags {
  frozen?: boolean;
  regenerate?: string[];
  maxCost?: number;
  failFast?: boolean;
  explain?: boolean;
  strict?: boolean;
  provider?: string;
  remoteCache?: string;
  shard?: ShardSpec;
  batch?: boolean;
  /** false with --no-wait. */
  wait?: boolean;
  requireApproved?: boolean;
}

/** `gpt4k build [ASSET...]`: builds what changed; Ctrl-C, SIGTERM or a closed pipe cancel it cleanly. */
export function registerBuildCommand(program: Command, context: CommandContext): void {
  const { io } = context;
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
    .option('--remote-cache <url>', 'a shared remote cache for this run (over cache.remote.url and GPT4K_REMOTE_CACHE; "off": none); token in GPT4K_REMOTE_CACHE_TOKEN', remoteCacheUrl)
    .option('--shard <i/n>', 'CI fan-out: build only shard I of N (reference groups kept together, balanced by estimated cost)', shardSpec)
    .option('--batch', "send the generations through the provider's batch API (half price, answered within 24 h), as generate.batch: true does")
    .option('--no-wait', 'batched generations: submit (or check once) and exit, reporting them pending; a later build collects them')
    .option('--require-approved', 'the print job: refuse (exit 3) unless every asset\'s deliverables are the ones approved in assets.review.json (gpt4k review)')
    .action(async (assets: string[], opts: BuildFlags, cmd: Command) => {
      const g = context.globals(cmd);
      if (opts.shard && assets.length > 0) throw new GptError('E_BAD_SHARD', '--shard picks the assets itself: it cannot be combined with asset names', { hint: 'drop the asset names, or --shard', exitCode: ExitCode.usage });
      const loaded = await context.load(cmd);
      const provided = opts.provider ? await withProvider(loaded, opts.provider, builtinBackends) : loaded;
      const manifest = opts.batch ? withBatch(provided) : provided;
      const lints = await lintOrThrow(manifest, g, !!opts.strict, io);
      if (opts.requireApproved) await requireApproved(manifest, assets, opts.regenerate);
      // The no-op fast path (cli/noop-fast.ts) answers only a plain `gpt4k build [-q]` of this manifest.
      const plain = assets.length === 0 && !opts.frozen && !opts.regenerate && opts.maxCost === undefined && !opts.explain && !opts.provider && !opts.requireApproved && !opts.batch && opts.wait !== false && opts.remoteCache === undefined && !opts.shard;
      const noopStamp = plain && !g.mode && !g.manifest && lints.length === 0 && manifest.warnings.length === 0;
      const reporter = context.reporter(cmd);
      const announce = () => io.err.write('\ninterrupted: finishing the steps in flight and writing the report (Ctrl-C again to quit now)\n');
      try {
        const { value: result, stoppedBy } = await cancellable({ announce, tmpDir: buildTmpDir(manifest.root) }, async (signal) => {
          if (opts.explain) {
            const planned = await plan(manifest, {
              assets,
              ...(opts.regenerate ? { regenerate: opts.regenerate } : {}),
              ...(opts.remoteCache !== undefined ? { remoteCache: opts.remoteCache } : {}),
            });
            io.out.write(g.json ? `${JSON.stringify({ type: 'plan', ...planned })}\n` : `${formatPlan(planned, { verbose: !!g.verbose, onlyRuns: true })}\n\n`);
          }
          return build(manifest, {
            assets,
            frozen: !!opts.frozen,
            regenerate: opts.regenerate ?? [],
            ...(opts.maxCost !== undefined ? { maxCostUsd: opts.maxCost } : {}),
            failFast: !!opts.failFast,
            ...(opts.remoteCache !== undefined ? { remoteCache: opts.remoteCache } : {}),
            ...(opts.shard ? { shard: opts.shard } : {}),
            batchWait: opts.wait !== false,
            signal,
            onEvent: (event) => reporter.onEvent(event),
            noopStamp,
          });
        });
        context.setExit(stoppedBy ? STOP_EXIT[stoppedBy] : result.exitCode);
      } finally {
        reporter.close();
      }
    });
}

/** `--require-approved`: every planned asset's deliverables must be the ones approved in review. */
async function requireApproved(manifest: ResolvedManifest, assets: string[], regenerate: string[] | undefined): Promise<void> {
  const planned = await plan(manifest, { assets, ...(regenerate ? { regenerate } : {}) });
  const open = approvalsOf(planned, await readReviewFile(manifest.root)).filter((a) => a.status !== 'approved');
  if (open.length === 0) return;
  const described = open.map((a) => `${a.asset} (${REVIEW_LABEL[a.status].toLowerCase()}${a.comment ? `: ${JSON.stringify(a.comment)}` : ''})`);
  throw new GptError('E_NOT_APPROVED', `not approved for print: ${described.join(', ')}`, {
    hint: `approve them in gpt4k review (${REVIEW_FILE}), or build without --require-approved`,
    exitCode: ExitCode.policy,
  });
}
