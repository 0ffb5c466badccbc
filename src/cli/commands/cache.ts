import { InvalidArgumentError, type Command } from 'commander';
import { formatBytes, parseByteSize } from '../../cache/gc.js';
import { cacheStats, gc, pushCache } from '../../engine/cache-lifecycle.js';
import { ExitCode } from '../../util/errors.js';
import { remoteCacheUrl } from './build.js';
import type { CommandContext } from './context.js';
import { shown } from './context.js';

function keepCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of generations, 0 or more (e.g. --keep 2)');
  return n;
}

function byteSize(value: string): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new InvalidArgumentError('expected a size such as 2GB, 500MB or 1.5GiB (units are powers of 1024)');
  return bytes;
}

/** `gpt4k gc` and `gpt4k cache stats`. */
export function registerCacheCommands(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('gc')
    .description('remove cached images and records that no current key reaches (the current manifest is planned to find them)')
    .option('--keep <n>', 'older generations to keep per asset (previous prompts\' images), newest first', keepCount, 1)
    .option('--max-size <size>', 'a size cap (e.g. 2GB): remove unreachable entries oldest first only until the cache fits; never reachable ones', byteSize)
    .option('--dry-run', 'say what would be removed, remove nothing')
    .action(async (opts: { keep: number; maxSize?: number; dryRun?: boolean }, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      const result = await gc(manifest, { keep: opts.keep, ...(opts.maxSize !== undefined ? { maxBytes: opts.maxSize } : {}), dryRun: !!opts.dryRun });
      if (g.json) {
        io.out.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const verb = result.dryRun ? 'would remove' : 'removed';
      const r = result.removed;
      io.out.write(
        `${shown(io.cwd, result.cacheDir)}: ${verb} ${r.records} action record(s) and ${r.objects} object(s), ${formatBytes(r.bytes + r.tmpBytes)}; ` +
          `kept ${result.kept.reachableRecords} reachable record(s)${result.kept.olderGenerations ? ` and ${result.kept.olderGenerations} older generation(s)` : ''}, ${formatBytes(result.kept.bytes)}\n`,
      );
      if (result.overCap && opts.maxSize !== undefined) {
        io.err.write(`warning: what the current manifest reaches is ${formatBytes(result.kept.bytes)}, over --max-size ${formatBytes(opts.maxSize)}; reachable entries are never removed\n`);
      }
    });

  const cache = program.command('cache').description('inspect the cache (.gpt4k/)');
  cache
    .command('stats')
    .description('size and counts of the cache: objects, action records by kind, reachable or not; the remote cache\'s hits, misses and bytes')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      const stats = await cacheStats(manifest);
      if (g.json) {
        io.out.write(`${JSON.stringify(stats)}\n`);
        return;
      }
      const o = stats.objects;
      const kinds = Object.entries(stats.records.byKind).map(([kind, n]) => `${kind} ${n}`).join(', ');
      io.out.write(
        [
          `${shown(io.cwd, stats.cacheDir)}: ${formatBytes(stats.totalBytes)}`,
          `  objects: ${o.count} (${formatBytes(o.bytes)}): ${o.reachable.count} reachable (${formatBytes(o.reachable.bytes)}), ${o.unreachable.count} unreachable (${formatBytes(o.unreachable.bytes)})`,
          `  action records: ${stats.records.count}${kinds ? ` (${kinds})` : ''}: ${stats.records.reachable} reachable, ${stats.records.unreachable} unreachable`,
          ...(stats.remote
            ? [`  remote cache: ${stats.remote.hits} hit(s), ${stats.remote.misses} miss(es), ${stats.remote.corrupt} corrupt, ${formatBytes(stats.remote.bytesDown)} down, ${formatBytes(stats.remote.bytesUp)} up, ${stats.remote.uploads} record(s) uploaded (all builds of this checkout${stats.remote.url ? `; last: ${stats.remote.url}` : ''})`]
            : []),
          ...(stats.tmpBytes > 0 ? [`  temp files: ${formatBytes(stats.tmpBytes)} (left by interrupted builds; gc removes them)`] : []),
          ...(o.unreachable.count > 0 || stats.records.unreachable > 0 ? ['  run `gpt4k gc` to remove what is unreachable (`--keep N` keeps older generations)'] : []),
        ].join('\n') + '\n',
      );
    });

  cache
    .command('push')
    .description('upload to the shared remote cache what this checkout built and the remote lacks (what the current manifest reaches)')
    .option('--remote-cache <url>', 'push to this remote cache (over cache.remote.url and GPT4K_REMOTE_CACHE); token in GPT4K_REMOTE_CACHE_TOKEN', remoteCacheUrl)
    .action(async (opts: { remoteCache?: string }, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      const result = await pushCache(manifest, { remoteCache: opts.remoteCache, warn: (message) => io.err.write(`warning: ${message}\n`) });
      if (!result.complete) context.setExit(ExitCode.assetFailed);
      if (g.json) {
        io.out.write(`${JSON.stringify(result)}\n`);
        return;
      }
      io.out.write(
        `${result.url}: ${result.uploaded} record(s) uploaded, ${result.present} already there, of ${result.local} this checkout holds` +
          `${result.complete ? '' : `; ${result.local - result.present - result.uploaded} not uploaded (see the warning)`}\n`,
      );
    });
}
