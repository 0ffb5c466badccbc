import type { BuildGraph } from '../graph/graph.js';

/** `gpt4k graph`: the build graph as Graphviz dot, Mermaid or JSON. */
export function formatGraph(graph: BuildGraph, format: 'dot' | 'mermaid' | 'json'): string {
  const nodes = graph.order.map((id) => graph.nodes.get(id)!);
  if (format === 'json') {
    return JSON.stringify(
      { nodes: nodes.map((n) => ({ id: n.id, asset: n.asset, kind: n.kind, ...(n.target ? { target: n.target } : {}), inputs: n.inputs })) },
      null,
      2,
    );
  }
  if (format === 'dot') {
    const lines = ['digraph gpt4k {', '  rankdir=LR;', '  node [shape=box, fontname="Helvetica"];'];
    for (const n of nodes) lines.push(`  ${JSON.stringify(n.id)} [label=${JSON.stringify(`${n.asset}\n${n.target ? `render ${n.target}` : n.kind}`)}];`);
    for (const n of nodes) for (const input of n.inputs) lines.push(`  ${JSON.stringify(input)} -> ${JSON.stringify(n.id)};`);
    lines.push('}');
    return lines.join('\n');
  }
  const ids = new Map(nodes.map((n, i) => [n.id, `n${i}`] as const));
  const lines = ['flowchart LR'];
  for (const n of nodes) lines.push(`  ${ids.get(n.id)}["${n.asset}<br/>${n.target ? `render ${n.target}` : n.kind}"]`);
  for (const n of nodes) for (const input of n.inputs) lines.push(`  ${ids.get(input)} --> ${ids.get(n.id)}`);
  return lines.join('\n');
}
