import type { Command } from 'commander';
import { discoverManifest } from '../../manifest/discover.js';
import { closest } from '../../manifest/suggest.js';
import type { DeclaredModel } from '../../manifest/types.js';
import { catalogProviders, getModelCatalog, hasProvider, providerNames } from '../../providers/registry.js';
import type { ModelInfo } from '../../providers/types.js';
import { ExitCode, GptError } from '../../util/errors.js';
import type { CommandContext } from './context.js';

/**
 * `gpt4k models [--provider P] [--json]`: the models gpt4k knows (each provider's table, with its
 * status and the date it was checked) and, when a manifest is found, the ones its `models:`
 * section declares, checked as they will be at build time.
 */
export function registerModelsCommand(program: Command, context: CommandContext): void {
  program
    .command('models')
    .description("list the image models gpt4k knows (sizes, qualities, reference limit, price basis, status, date checked) and the manifest's declared models:")
    .option('--provider <name>', 'only this provider\'s models (openai, gemini)')
    .action(async (opts: { provider?: string }, cmd: Command) => {
      const g = context.globals(cmd);
      const providers = selectedProviders(opts.provider);
      const declared = await declaredModels(cmd, context);
      const models: ModelInfo[] = [];
      for (const name of providers) models.push(...((await getModelCatalog(name))?.list(declared) ?? []));
      if (g.json) {
        context.io.out.write(`${JSON.stringify({ models }, null, 2)}\n`);
        return;
      }
      context.io.out.write(formatModels(models, providers));
    });
}

/** The providers to list: the one named, or every provider with a model table. */
function selectedProviders(name: string | undefined): string[] {
  if (name === undefined) return catalogProviders();
  if (catalogProviders().includes(name)) return [name];
  if (hasProvider(name)) {
    throw new GptError('E_NO_MODEL_TABLE', `--provider ${name} has no model table`, {
      hint: `${name} runs whatever model its server has loaded; gpt4k keeps tables for ${catalogProviders().join(' and ')}`,
      exitCode: ExitCode.usage,
    });
  }
  const close = closest(name, providerNames());
  throw new GptError('E_UNKNOWN_PROVIDER', `--provider "${name}" is not a provider`, {
    hint: close ? `did you mean "${close}"?` : `providers with a model table: ${catalogProviders().join(', ')}`,
    exitCode: ExitCode.usage,
  });
}

/** The manifest's declared models: --manifest's, else the nearest manifest's, else none. */
async function declaredModels(cmd: Command, context: CommandContext): Promise<DeclaredModel[]> {
  if (context.globals(cmd).manifest === undefined && !(await discoverManifest(context.io.cwd)).found) return [];
  return (await context.load(cmd)).models ?? [];
}

function formatModels(models: ModelInfo[], providers: string[]): string {
  const lines: string[] = [];
  for (const provider of providers) {
    const rows = models.filter((m) => m.provider === provider);
    if (rows.length === 0) continue;
    lines.push(`${provider}:`);
    const table = rows.map((m) => [
      m.declared ? `${m.id} (declared${m.like !== undefined ? `, like ${m.like}` : ''})` : m.id,
      m.status,
      sizesText(m.sizes),
      m.qualities.length > 0 ? m.qualities.join(' ') : '-',
      m.maxReferenceImages === null ? '-' : String(m.maxReferenceImages),
      m.price.basis === 'declared' ? m.price.summary : m.price.basis,
      m.checked,
    ]);
    const header = ['model', 'status', 'sizes', 'qualities', 'refs', 'price', 'checked'];
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
    lines.push(line(header), ...table.map(line), '');
  }
  lines.push('Prices: "tokens" means billed by the tokens each response reports; plan estimates per image (gpt4k models --json has the figures and sources).');
  return `${lines.join('\n')}\n`;
}

function sizesText(sizes: ModelInfo['sizes']): string {
  switch (sizes.kind) {
    case 'list':
      return sizes.values.join(' ');
    case 'flexible':
      return `WxH /${sizes.multipleOf}, 1:${sizes.maxAspect}-${sizes.maxAspect}:1, <=${sizes.maxEdge} edge`;
    case 'aspects':
      return `${sizes.aspectRatios.length} aspects at ${sizes.imageSizes.join('/')}`;
    default: {
      const impossible: never = sizes;
      return String(impossible);
    }
  }
}
