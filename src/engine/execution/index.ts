import type { NodeKind } from '../../graph/graph.js';
import { balanceExecution } from './balance.js';
import { generateExecution } from './generate.js';
import { normalizeExecution } from './normalize.js';
import { renderExecution } from './render.js';
import type { Execution } from './types.js';
import { upscaleExecution } from './upscale.js';

/**
 * The execution of each node kind that does work. `prompt` and `source` nodes have none: their
 * output is their text or file, known when they are decided.
 */
export const executions: Record<Exclude<NodeKind, 'prompt' | 'source'>, Execution> = {
  generate: generateExecution,
  upscale: upscaleExecution,
  balance: balanceExecution,
  normalize: normalizeExecution,
  render: renderExecution,
};

export function executionOf(kind: NodeKind): Execution | undefined {
  return kind === 'prompt' || kind === 'source' ? undefined : executions[kind];
}
