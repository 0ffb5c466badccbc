import path from 'node:path';
import type { Command } from 'commander';
import { closest } from '../../manifest/suggest.js';
import { ExitCode, GptError } from '../../util/errors.js';
import type { CommandContext } from './context.js';
import { shown } from './context.js';

/** `gpt4k preflight FILE --target T`: the print checks of a build, on any file. */
export function registerPreflightCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('preflight')
    .description('check a print file (TIFF, PNG, JPEG, or a PDF gpt4k wrote) against a target of the manifest: resolution, color space, profile, ink, alpha, bleed')
    .argument('<file>', 'the file to check')
    .requiredOption('-t, --target <target>', 'the target whose size, dpi, profile and limits apply')
    .action(async (file: string, opts: { target: string }, cmd: Command) => {
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
      // Checked even when the target says `preflight: off`: the user asked for it.
      // The colour engine (sharp, LittleCMS) is loaded only for this command.
      const [{ preflightFile }, { targetProfile }] = await Promise.all([import('../../color/preflight.js'), import('../../steps/render.js')]);
      const result = await preflightFile(absolute, { ...target, preflight: target.preflight === 'warn' ? 'warn' : 'error' }, await targetProfile(target, manifest));
      if (g.json) {
        io.out.write(`${JSON.stringify({ file: shown(io.cwd, absolute), target: target.id, ...result })}\n`);
      } else {
        for (const check of result.checks) io.out.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name.padEnd(16)} ${check.message}\n`);
        io.out.write(`${shown(io.cwd, absolute)}: preflight for target "${target.id}" ${result.ok ? 'passed' : 'failed'}\n`);
      }
      context.setExit(result.ok ? ExitCode.ok : ExitCode.assetFailed);
    });
}
