import type { Command } from 'commander';
import type { CommandContext } from './context.js';

/** `gpt4k init`: a starter manifest, .gitignore lines and a CI workflow in the working folder. */
export function registerInitCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('init')
    .description('scaffold assets.pipeline.yaml, .gitignore lines and a GitHub Actions workflow')
    .option('--force', 'overwrite existing files')
    .action(async (opts: { force?: boolean }) => {
      const { initProject } = await import('../init.js');
      const result = await initProject(io.cwd, { force: !!opts.force });
      for (const file of result.created) io.out.write(`created ${file}\n`);
      for (const file of result.skipped) io.out.write(`kept    ${file} (exists; --force to overwrite)\n`);
    });
}
