import path from 'node:path';
import type { Command } from 'commander';
import { graphOf } from '../../engine/build.js';
import { lintOrThrow } from '../load.js';
import type { CommandContext } from './context.js';

/** `gpt4k validate`: schema, references, files and prompt lint, with positions. */
export function registerValidateCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('validate')
    .description('check the manifest (schema, references, files) and the prompts (lint), and print any problems with their positions')
    .option('--strict', 'prompt lint warnings are errors (exit 2)')
    .action(async (opts: { strict?: boolean }, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      graphOf(manifest);
      const lints = await lintOrThrow(manifest, g, !!opts.strict, io);
      const message = `${path.relative(io.cwd, manifest.file) || manifest.file}: ok (${manifest.assets.length} assets, ${manifest.targets.size} targets${lints.length > 0 ? `, ${lints.length} prompt warning${lints.length === 1 ? '' : 's'}` : ''})`;
      io.out.write(g.json ? `${JSON.stringify({ ok: true, manifest: manifest.file, assets: manifest.assets.map((a) => a.id), warnings: [...manifest.warnings, ...lints] })}\n` : `${message}\n`);
    });
}
