import { statSync } from 'node:fs';
import path from 'node:path';
import { checkNoopStamp } from '../cache/noop-stamp.js';
import { DEFAULT_MANIFEST } from '../manifest/discover.js';
import type { PipelineReport } from '../report/types.js';
import type { Io } from './commands/context.js';
import { loadLiveView, makeReporter } from './reporters/choose.js';

/** The arguments the fast path answers: `gpt4k build`, quiet or not, and nothing else. */
const PLAIN_BUILD = new Set(['build', '-q', '--quiet']);

/**
 * A `gpt4k build` with nothing to do, answered from .gpt4k/noop.json (cache/noop-stamp.ts)
 * before the CLI, the manifest or the planner is loaded: ninja's way, stat every file the last
 * no-op build depended on, print its summary, write nothing. Resolves to the exit code, or
 * undefined when the ordinary path must run (other arguments, no stamp, anything changed).
 */
export async function noopFastPath(argv: string[], io: Io): Promise<number | undefined> {
  const started = Date.now();
  if (!argv.includes('build') || argv.filter((a) => a === 'build').length !== 1 || !argv.every((a) => PLAIN_BUILD.has(a))) return undefined;
  // Discovery would take the working folder's manifest first: no other is looked for here.
  const manifestFile = path.join(io.cwd, DEFAULT_MANIFEST);
  if (!statSync(manifestFile, { throwIfNoEntry: false })?.isFile()) return undefined;
  const stamped = checkNoopStamp(io.cwd, manifestFile);
  if (!stamped) return undefined;
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  await loadLiveView(io);
  const reporter = makeReporter({ quiet }, io);
  try {
    reporter.onEvent({ type: 'build-start', assets: stamped.assets, nodesToRun: 0, estimatedCostUsd: 0, runsByAsset: {} });
    const report: PipelineReport = {
      version: 1,
      summary: { assets: stamped.assets, built: 0, cached: stamped.cached, failed: 0, skipped: 0, providerCalls: 0, retries: 0, costUsd: 0, durationMs: Date.now() - started },
      assets: [],
    };
    reporter.onEvent({ type: 'build-done', report, reportFile: stamped.reportFile });
  } finally {
    reporter.close();
  }
  return 0;
}

/** The fast path with the process's own streams (bin/gpt4k.js tries it before loading the CLI). */
export async function noopBuildMain(argv: string[]): Promise<number | undefined> {
  const io: Io = { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env, isTTY: !!process.stdout.isTTY, errIsTTY: !!process.stderr.isTTY };
  // A reader that went away (`gpt4k build | head -0`) is no error, as in main.ts.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  try {
    return await noopFastPath(argv, io);
  } catch {
    return undefined;
  }
}
