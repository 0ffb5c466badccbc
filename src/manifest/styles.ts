import type { ResolvedAsset, ResolvedStyle } from './types.js';
import type { Diagnostics } from './context.js';
import type { SourceFile } from './positions.js';
import type { RawStyle } from './raw.js';
import { resolveNormalize } from './assets.js';
import { quote } from './schema.js';
import { didYouMean } from './suggest.js';

export function resolveStyles(raw: Record<string, RawStyle>, source: SourceFile): Map<string, ResolvedStyle> {
  const styles = new Map<string, ResolvedStyle>();
  for (const [id, style] of Object.entries(raw)) {
    const resolved: ResolvedStyle = { id, prefix: style.prefix ?? '', at: source.keyAt(['styles', id]).at };
    if (style.reference !== undefined) resolved.reference = style.reference;
    if (style.whiteBalance !== undefined) resolved.whiteBalance = style.whiteBalance;
    const normalize = resolveNormalize(style.normalize);
    if (normalize) resolved.normalize = normalize;
    styles.set(id, resolved);
  }
  return styles;
}

const STYLE_LINKS = ['reference', 'whiteBalance'] as const;
type StyleLink = (typeof STYLE_LINKS)[number];

/** style.reference and style.whiteBalance must name assets. */
export function checkStyleLinks(styles: Map<string, ResolvedStyle>, assetIds: string[], source: SourceFile, diagnostics: Diagnostics): void {
  for (const style of styles.values()) {
    for (const link of STYLE_LINKS) {
      const id = style[link];
      if (id === undefined || assetIds.includes(id)) continue;
      diagnostics.error(
        'E_UNKNOWN_ASSET',
        `style ${quote(style.id)}: ${link} ${quote(id)} is not an asset`,
        source.valueAt(['styles', style.id, link]),
        didYouMean(id, assetIds),
      );
    }
  }
}

/**
 * An asset waits for its style's reference and white-balance assets (its own style naming
 * itself is no wait: that asset is the reference). A loop among those waits can never build;
 * it is reported once, with its path, at the style link that starts it.
 */
export function checkStyleCycles(assets: ResolvedAsset[], styles: Map<string, ResolvedStyle>, source: SourceFile, diagnostics: Diagnostics): void {
  const byId = new Map(assets.map((a, i) => [a.id, { asset: a, index: i }]));
  const edges = (asset: ResolvedAsset): Array<{ to: string; link: StyleLink }> => {
    const style = asset.style === undefined ? undefined : styles.get(asset.style);
    if (!style) return [];
    return STYLE_LINKS.flatMap((link) => {
      const to = style[link];
      return to !== undefined && to !== asset.id && byId.has(to) ? [{ to, link }] : [];
    });
  };

  const state = new Map<string, 'active' | 'done'>();
  const stack: Array<{ id: string; link?: StyleLink }> = [];
  const reported = new Set<string>();

  const visit = (id: string): void => {
    state.set(id, 'active');
    const asset = byId.get(id)?.asset;
    for (const edge of asset ? edges(asset) : []) {
      stack.push({ id, link: edge.link });
      const seen = state.get(edge.to);
      if (seen === 'active') report(edge.to);
      else if (seen === undefined) visit(edge.to);
      stack.pop();
    }
    state.set(id, 'done');
  };

  const report = (closing: string): void => {
    const start = stack.findIndex((frame) => frame.id === closing);
    const loop = stack.slice(start);
    const signature = loop.map((f) => f.id).sort().join('\0');
    if (reported.has(signature)) return;
    reported.add(signature);
    // Start the path at the asset declared first, so the message does not depend on visit order.
    const first = loop.reduce((best, f, i) => ((byId.get(f.id)?.index ?? 0) < (byId.get(loop[best]!.id)?.index ?? 0) ? i : best), 0);
    const ordered = [...loop.slice(first), ...loop.slice(0, first)];
    const head = ordered[0]!;
    const styleId = byId.get(head.id)?.asset.style ?? '';
    const pathText = [...ordered.map((f) => f.id), head.id].join(' -> ');
    diagnostics.error(
      'E_CYCLE',
      `style reference cycle: ${pathText}`,
      source.valueAt(['styles', styleId, head.link ?? 'reference']),
      'a reference (or whiteBalance) asset must not wait on an asset of the style it anchors; give it no style, or the style it is the reference of',
    );
  };

  for (const asset of assets) if (!state.has(asset.id)) visit(asset.id);
}

