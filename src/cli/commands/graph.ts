import { Option, type Command } from 'commander';
import { graphOf, selectionOf } from '../../engine/build.js';
import { plan } from '../../index.js';
import { formatGraph } from '../graph-format.js';
import type { CommandContext } from './context.js';

/** `gpt4k graph [ASSET...]`: the graph (or one asset's part of it), steps a build would run marked. */
export function registerGraphCommand(program: Command, context: CommandContext): void {
  program
    .command('graph')
    .description('print the build graph (steps the next build would run are marked: filled in dot and mermaid, "dirty" in json)')
    .argument('[assets...]', 'only these assets and what they depend on')
    .addOption(new Option('--format <format>', 'output format').choices(['dot', 'mermaid', 'json']).default('dot'))
    .action(async (assets: string[], opts: { format: 'dot' | 'mermaid' | 'json' }, cmd: Command) => {
      const g = context.globals(cmd);
      const manifest = await context.load(cmd);
      const graph = graphOf(manifest);
      const only = selectionOf(graph, assets);
      const planned = await plan(manifest, { assets });
      const dirty = new Map(planned.nodes.filter((n) => n.action === 'run' && !n.passThrough).map((n) => [n.id, n.reasons] as const));
      context.io.out.write(`${formatGraph(graph, g.json ? 'json' : opts.format, { ...(only ? { only } : {}), dirty })}\n`);
    });
}
