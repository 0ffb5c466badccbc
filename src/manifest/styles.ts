import type { GenerateParams, ResolvedAsset, ResolvedStyle, StyleReference } from './types.js';
import type { Diagnostics } from './context.js';
import type { DataPath, SourceFile } from './positions.js';
import type { RawStyle } from './raw.js';
import { resolveNormalize, resolveProjectImage } from './assets.js';
import { quote } from './schema.js';
import { didYouMean } from './suggest.js';

/** An entry of a reference list names an asset when it could be an id (ids have no '.' or '/'). */
const ASSET_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function resolveStyles(raw: Record<string, RawStyle>, source: SourceFile, root: string, diagnostics: Diagnostics): Map<string, ResolvedStyle> {
  const styles = new Map<string, ResolvedStyle>();
  for (const [id, style] of Object.entries(raw)) {
    const resolved: ResolvedStyle = { id, prefix: style.prefix ?? '', at: source.keyAt(['styles', id]).at };
    if (typeof style.reference === 'string') resolved.reference = style.reference;
    if (style.reference !== undefined) resolved.references = resolveReferences(id, style.reference, source, root, diagnostics);
    if (style.whiteBalance !== undefined) resolved.whiteBalance = style.whiteBalance;
    const normalize = resolveNormalize(style.normalize);
    if (normalize) resolved.normalize = normalize;
    styles.set(id, resolved);
  }
  return styles;
}

/** `reference: hero`, or a list of asset ids and project files, in order. */
function resolveReferences(styleId: string, value: string | string[], source: SourceFile, root: string, diagnostics: Diagnostics): StyleReference[] {
  if (typeof value === 'string') return [{ asset: value }];
  const references: StyleReference[] = [];
  for (const [index, entry] of value.entries()) {
    if (ASSET_ID.test(entry)) {
      references.push({ asset: entry });
      continue;
    }
    const file = resolveProjectImage(entry, root, source.valueAt(['styles', styleId, 'reference', index]), diagnostics, 'reference');
    if (file !== undefined) references.push({ file, given: entry });
  }
  return references;
}

type StyleLink = 'reference' | 'whiteBalance';

/** The assets a style links to, each with where it is written: its references, then its white balance. */
function styleLinks(style: ResolvedStyle, source: SourceFile): Array<{ to: string; link: StyleLink; path: DataPath }> {
  const base: DataPath = ['styles', style.id];
  const list = Array.isArray((source.data as { styles?: Record<string, { reference?: unknown }> }).styles?.[style.id]?.reference);
  const links: Array<{ to: string; link: StyleLink; path: DataPath }> = [];
  for (const [index, entry] of (style.references ?? []).entries()) {
    if ('asset' in entry) links.push({ to: entry.asset, link: 'reference', path: list ? [...base, 'reference', index] : [...base, 'reference'] });
  }
  if (style.whiteBalance !== undefined) links.push({ to: style.whiteBalance, link: 'whiteBalance', path: [...base, 'whiteBalance'] });
  return links;
}

/** style.reference's asset entries and style.whiteBalance must name assets. */
export function checkStyleLinks(styles: Map<string, ResolvedStyle>, assetIds: string[], source: SourceFile, diagnostics: Diagnostics): void {
  for (const style of styles.values()) {
    for (const { to, link, path } of styleLinks(style, source)) {
      if (assetIds.includes(to)) continue;
      diagnostics.error('E_UNKNOWN_ASSET', `style ${quote(style.id)}: ${link} ${quote(to)} is not an asset`, source.valueAt(path), didYouMean(to, assetIds));
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
    return styleLinks(style, source).filter(({ to }) => to !== asset.id && byId.has(to));
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


/** The references an asset's edit sends, in order: its style's, less the asset itself. */
export function referencesOf(asset: ResolvedAsset, styles: Map<string, ResolvedStyle>): StyleReference[] {
  const style = asset.style === undefined ? undefined : styles.get(asset.style);
  return (style?.references ?? []).filter((entry) => !('asset' in entry) || entry.asset !== asset.id);
}

/**
 * A style's reference list may not hold more images than the model of an asset of the style
 * takes in one edit (E_TOO_MANY_REFERENCES at the list, before anything is sent). Assets with
 * the same provider, model and style are checked once.
 */
export type ReferenceLimitCheck = (params: GenerateParams, count: number) => Promise<{ message: string; hint: string } | undefined>;

export async function checkReferenceLimits(assets: ResolvedAsset[], styles: Map<string, ResolvedStyle>, source: SourceFile, diagnostics: Diagnostics, limitProblem: ReferenceLimitCheck): Promise<void> {
  const seen = new Set<string>();
  for (const asset of assets) {
    if (asset.source || asset.style === undefined) continue;
    const count = referencesOf(asset, styles).length;
    const key = JSON.stringify([asset.generate.provider, asset.generate.model, asset.style, count]);
    if (count < 2 || seen.has(key)) continue;
    seen.add(key);
    const problem = await limitProblem(asset.generate, count);
    if (problem) diagnostics.error('E_TOO_MANY_REFERENCES', `style ${quote(asset.style)} (asset ${quote(asset.id)}): ${problem.message}`, source.valueAt(['styles', asset.style, 'reference']), problem.hint);
  }
}
