import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode, GptError } from '../../util/errors.js';
import { formatUsd } from '../format.js';
import type { CommandContext } from './context.js';

interface PaidImages {
  images: number;
  costUsd: number;
}

/** Generated images in the cache that cost money (action records of kind generate with a cost). */
async function paidImagesIn(cacheDir: string): Promise<PaidImages> {
  const paid = { images: 0, costUsd: 0 };
  const files = await readdir(path.join(cacheDir, 'actions'), { recursive: true }).catch(() => [] as string[]);
  for (const rel of files) {
    if (!rel.endsWith('.json')) continue;
    const record = await readFile(path.join(cacheDir, 'actions', rel), 'utf8').then((text) => JSON.parse(text) as { kind?: string; costUsd?: number }, () => undefined);
    if (record?.kind !== 'generate' || !(typeof record.costUsd === 'number' && record.costUsd > 0)) continue;
    paid.images++;
    paid.costUsd += record.costUsd;
  }
  return paid;
}

/** `gpt4k clean [--cache]`: deliverables, and with --cache the paid images too (after asking). */
export function registerCleanCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('clean')
    .description('delete the deliverables folder (and with --cache, the cache: paid images are lost)')
    .option('--cache', 'also delete .gpt4k/ (generated images will have to be paid for again); asks first on a terminal')
    .option('-y, --yes', 'do not ask before discarding paid images (needed with --cache where there is no terminal)')
    .action(async (opts: { cache?: boolean; yes?: boolean }, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      const cacheDir = path.join(manifest.root, '.gpt4k');
      const paid = opts.cache ? await paidImagesIn(cacheDir) : { images: 0, costUsd: 0 };
      if (paid.images > 0 && !opts.yes) await confirmOrThrow(context, paid, path.relative(io.cwd, cacheDir) || cacheDir);
      await rm(manifest.outputDir, { recursive: true, force: true });
      const removed = [path.relative(io.cwd, manifest.outputDir) || manifest.outputDir];
      if (opts.cache) {
        await rm(cacheDir, { recursive: true, force: true });
        removed.push(path.relative(io.cwd, cacheDir) || cacheDir);
      }
      if (g.json) io.out.write(`${JSON.stringify({ removed, discarded: paid })}\n`);
      else if (!g.quiet) io.out.write(`removed ${removed.join(', ')}${paid.images > 0 ? ` (${paid.images} paid image(s), ${formatUsd(paid.costUsd)})` : ''}\n`);
    });
}

async function confirmOrThrow(context: CommandContext, paid: PaidImages, cacheDir: string): Promise<void> {
  const what = `${paid.images} paid image(s) that cost ${formatUsd(paid.costUsd)}`;
  const { confirm } = context.io;
  if (!confirm) {
    throw new GptError('E_CONFIRM', `clean --cache would discard ${what} in ${cacheDir}`, {
      hint: 'run it again with --yes to confirm (there is no terminal to ask on); or `gpt4k gc` removes only what the manifest no longer uses',
      exitCode: ExitCode.usage,
    });
  }
  if (!(await confirm(`Delete ${cacheDir} with ${what}? They would have to be paid for again. [y/N] `))) {
    throw new GptError('E_CANCELLED', 'clean --cache cancelled: nothing was removed', { exitCode: ExitCode.usage });
  }
}
