import path from 'node:path';
import type { Command } from 'commander';
import { closest } from '../../manifest/suggest.js';
import type { ResolvedAsset, ResolvedManifest } from '../../manifest/types.js';
import { ExitCode, GptError } from '../../util/errors.js';
import type { CommandContext } from './context.js';
import { shown } from './context.js';

/** The asset a file is a deliverable of: --asset, or out/<asset>/... */
function assetOf(manifest: ResolvedManifest, file: string, named: string | undefined): ResolvedAsset | undefined {
  if (named !== undefined) {
    const asset = manifest.assets.find((a) => a.id === named);
    if (asset) return asset;
    const close = closest(named, manifest.assets.map((a) => a.id));
    throw new GptError('E_UNKNOWN_ASSET', `no asset named "${named}" in ${path.basename(manifest.file)}`, { hint: close ? `did you mean "${close}"?` : 'name an asset of the manifest', exitCode: ExitCode.usage });
  }
  const rel = path.relative(manifest.outputDir, file).split(path.sep);
  if (rel.length < 2 || rel[0] === '..') return undefined;
  return manifest.assets.find((a) => a.id === rel[0]);
}

/**
 * The pixels of real detail the asset's image has after its upscale: what the build's preflight
 * measures. A file resampled to the target's size must not pass on its pixel count alone.
 */
async function detailOf(asset: ResolvedAsset): Promise<{ width: number; height: number } | undefined> {
  let base: { width: number; height: number } | undefined;
  if (asset.source) {
    const { default: sharp } = await import('sharp');
    const meta = await sharp(asset.source).metadata().catch(() => undefined);
    if (meta?.width && meta.height) base = { width: meta.width, height: meta.height };
  } else {
    const m = /^(\d+)x(\d+)$/.exec(asset.generate.size);
    if (m) base = { width: Number(m[1]), height: Number(m[2]) };
  }
  if (!base) return undefined;
  const scale = asset.upscale.engine !== 'none' && asset.upscale.scale > 0 ? asset.upscale.scale : 1;
  return { width: Math.round(base.width * scale), height: Math.round(base.height * scale) };
}

/** `gpt4k preflight FILE --target T`: the print checks of a build, on any file. */
export function registerPreflightCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('preflight')
    .description('check a print file (TIFF, PNG, JPEG, or a PDF gpt4k wrote) against a target of the manifest: resolution, color space, profile, ink, alpha, bleed')
    .argument('<file>', 'the file to check')
    .requiredOption('-t, --target <target>', 'the target whose size, dpi, profile and limits apply')
    .option('--asset <id>', 'the asset the file was made from (default: out/<asset>/...): its generated size and upscale bound the resolution')
    .action(async (file: string, opts: { target: string; asset?: string }, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      const target = manifest.targets.get(opts.target);
      if (!target) {
        const close = closest(opts.target, manifest.targets.keys());
        throw new GptError('E_UNKNOWN_TARGET', `no target named "${opts.target}" in ${path.basename(manifest.file)}`, {
          hint: close ? `did you mean "${close}"?` : `targets: ${[...manifest.targets.keys()].join(', ') || '(none)'}`,
          exitCode: ExitCode.usage,
        });
      }
      const absolute = path.resolve(io.cwd, file);
      const asset = assetOf(manifest, absolute, opts.asset);
      const detail = asset ? await detailOf(asset) : undefined;
      // Checked even when the target says `preflight: off`: the user asked for it.
      // The colour engine (sharp, LittleCMS) is loaded only for this command.
      const [{ preflightFile }, { targetProfile }] = await Promise.all([import('../../color/preflight.js'), import('../../steps/render.js')]);
      const result = await preflightFile(absolute, { ...target, preflight: target.preflight === 'warn' ? 'warn' : 'error' }, await targetProfile(target, manifest), detail ? { detail } : {});
      if (g.json) {
        io.out.write(`${JSON.stringify({ file: shown(io.cwd, absolute), target: target.id, ...(asset ? { asset: asset.id } : {}), ...result })}\n`);
      } else {
        const c = context.colors.out;
        for (const check of result.checks) io.out.write(`${check.ok ? c.green('ok  ') : c.red('FAIL')} ${check.name.padEnd(16)} ${check.message}\n`);
        io.out.write(`${shown(io.cwd, absolute)}: preflight for target "${target.id}" ${result.ok ? 'passed' : 'failed'}${detail && asset ? ` (detail bounded by asset "${asset.id}": ${detail.width}x${detail.height} px after its upscale)` : ''}\n`);
      }
      context.setExit(result.ok ? ExitCode.ok : ExitCode.assetFailed);
    });
}
