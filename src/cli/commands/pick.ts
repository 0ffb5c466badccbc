import { InvalidArgumentError, type Command } from 'commander';
import { LOCK_FILE } from '../../cache/lockfile.js';
import { listCandidates, pickCandidate } from '../../engine/variants.js';
import type { CommandContext } from './context.js';

function candidateNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a candidate number, 1 or more');
  return n;
}

/** `gpt4k pick ID [K]`: list an asset's candidates, or pin candidate K in assets.lock.json. */
export function registerPickCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('pick')
    .description(`pin candidate K of an asset with variants in ${LOCK_FILE} (without K: list the candidates)`)
    .argument('<asset>', 'asset id')
    .argument('[k]', 'candidate number, from 1', candidateNumber)
    .action(async (assetId: string, k: number | undefined, _opts: unknown, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      if (k === undefined) {
        const listing = await listCandidates(manifest, assetId);
        if (g.json) {
          io.out.write(`${JSON.stringify(listing)}\n`);
          return;
        }
        io.out.write(`${assetId}: ${listing.candidates.length} candidate(s) (variants: ${listing.wanted})\n`);
        for (const c of listing.candidates) {
          io.out.write(`  ${c.index === listing.pick ? '*' : ' '} ${c.index}  ${c.image ?? '(not generated yet)'}${c.createdAt ? `  ${c.createdAt}` : ''}\n`);
        }
        return;
      }
      const result = await pickCandidate(manifest, assetId, k);
      if (g.json) {
        io.out.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const image = result.candidates.find((c) => c.index === k)?.image ?? '';
      io.out.write(
        result.changed
          ? `${assetId}: picked candidate ${k} of ${result.candidates.length} (image ${image}) in ${LOCK_FILE}; run \`gpt4k build\` to update the deliverables\n`
          : `${assetId}: candidate ${k} was already picked\n`,
      );
    });
}
