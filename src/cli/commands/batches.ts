import type { Command } from 'commander';
import { cancelBatch, listBatches, type BatchSummary } from '../../engine/batches.js';
import type { CommandContext } from './context.js';

function line(b: BatchSummary): string {
  const assets = b.assets.length > 5 ? `${b.assets.slice(0, 5).join(', ')} and ${b.assets.length - 5} more` : b.assets.join(', ');
  const stale = b.refreshError ? ` (status as last seen: ${b.refreshError})` : '';
  return `${b.id}  ${b.status}  ${b.completed}/${b.requests} done, ${b.failed} failed  ${b.provider} ${b.endpoint}  ${b.createdAt}  ${assets}${stale}`;
}

/** `gpt4k batches` (list open and recent provider batches) and `gpt4k batches cancel ID`. */
export function registerBatchesCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  const batches = program
    .command('batches')
    .description('list the open and recent provider batches (generate.batch, build --batch), open ones with their status now')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = context.globals(cmd);
      const list = await listBatches(await context.load(cmd));
      if (g.json) {
        io.out.write(`${JSON.stringify({ batches: list })}\n`);
        return;
      }
      if (list.length === 0) {
        io.out.write('no batches (build with --batch, or generate: { batch: true }, to make some)\n');
        return;
      }
      const open = list.filter((b) => b.open);
      if (open.length > 0) io.out.write(`open:\n${open.map((b) => `  ${line(b)}\n`).join('')}`);
      const recent = list.filter((b) => !b.open);
      if (recent.length > 0) io.out.write(`recent:\n${recent.map((b) => `  ${line(b)}\n`).join('')}`);
    });
  batches
    .command('cancel')
    .description('cancel an open batch; the next build collects what it answered and reports the rest failed (building again resubmits only those)')
    .argument('<id>', 'batch id, as `gpt4k batches` lists it')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const g = context.globals(cmd);
      const summary = await cancelBatch(await context.load(cmd), id);
      io.out.write(g.json ? `${JSON.stringify(summary)}\n` : `${summary.id}: ${summary.status}\n`);
    });
}
