import type { BuildGraph } from '../graph/graph.js';

export interface GraphMarks {
  /** Only these node ids (an asset selection and what it depends on); all when absent. */
  only?: Set<string>;
  /** Nodes a build would run now, with the plan's reasons. */
  dirty?: Map<string, string[]>;
}

/** `gpt4k graph`: the build graph as Graphviz dot, Mermaid or JSON; dirty nodes marked. */
export function formatGraph(graph: BuildGraph, format: 'dot' | 'mermaid' | 'json', marks: GraphMarks = {}): string {
  const nodes = graph.order.filter((id) => !marks.only || marks.only.has(id)).map((id) => graph.nodes.get(id)!);
  const dirty = marks.dirty ?? new Map<string, string[]>();
  if (format === 'json') {
    const json = nodes.map((n) => ({
      id: n.id,
      asset: n.asset,
      kind: n.kind,
      ...(n.target ? { target: n.target } : {}),
      inputs: n.inputs,
      ...(marks.dirty ? { dirty: dirty.has(n.id), ...(dirty.has(n.id) ? { reasons: dirty.get(n.id) } : {}) } : {}),
    }));
    return JSON.stringify({ nodes: json }, null, 2);
  }
  const title = (n: (typeof nodes)[number]) => `${n.asset}\n${n.target ? `render ${n.target}` : n.kind}${dirty.has(n.id) ? ' *' : ''}`;
  if (format === 'dot') {
    const lines = ['digraph gpt4k {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
    for (const n of nodes) {
      const style = dirty.has(n.id) ? `, style=filled, fillcolor="#ffd8a8", tooltip=${JSON.stringify((dirty.get(n.id) ?? []).join('; ') || 'needed')}` : '';
      lines.push(`  ${JSON.stringify(n.id)} [label=${JSON.stringify(title(n))}${style}];`);
    }
    for (const n of nodes) for (const input of n.inputs) lines.push(`  ${JSON.stringify(input)} -> ${JSON.stringify(n.id)};`);
    if (dirty.size > 0) lines.push('  // filled nodes (label ending in *) would run in the next build');
    lines.push('}');
    return lines.join('\n');
  }
  const ids = new Map(nodes.map((n, i) => [n.id, `n${i}`] as const));
  const lines = ['flowchart LR'];
  for (const n of nodes) lines.push(`  ${ids.get(n.id)}["${title(n).replace('\n', '<br/>').replace(/"/g, '#quot;')}"]`);
  for (const n of nodes) for (const input of n.inputs) if (ids.has(input)) lines.push(`  ${ids.get(input)} --> ${ids.get(n.id)}`);
  const dirtyIds = nodes.filter((n) => dirty.has(n.id)).map((n) => ids.get(n.id));
  if (dirtyIds.length > 0) lines.push('  classDef dirty fill:#ffd8a8,stroke:#e8590c', `  class ${dirtyIds.join(',')} dirty`);
  return lines.join('\n');
}
