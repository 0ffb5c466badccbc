import type { Diagnostic, SourcePosition } from '../util/errors.js';
import { sortDiagnostics } from '../manifest/context.js';
import type { ResolvedAsset, ResolvedManifest } from '../manifest/types.js';

/**
 * Prompt lint: warnings about prompts that waste money or get worse pictures. `gpt4k validate`
 * and `gpt4k build` print them; with --strict they are errors (exit 2). Each warning points at
 * the prompt in the manifest (for a catalog row: at the template, or at the row when the words
 * came from the row). The rules and their word lists are documented in docs/catalog.md.
 */

export const LINT_CODES = {
  tooLong: 'W_PROMPT_TOO_LONG',
  vague: 'W_VAGUE_ANCHOR',
  noComposition: 'W_NO_COMPOSITION',
  prefixRepeated: 'W_PREFIX_REPEATED',
  duplicate: 'W_DUPLICATE_PROMPT',
  empty: 'W_EMPTY_PROMPT',
} as const;

/** Over this many tokens (o200k_base, the GPT image models' encoding) a prompt is too long. */
export const MAX_PROMPT_TOKENS = 400;

/** Normalized token Jaccard similarity at or above which two prompts are near-duplicates. */
export const DUPLICATE_SIMILARITY = 0.9;

/**
 * Praise and resolution tags that tell an image model nothing about the picture. (Real
 * resolution comes from the upscale step and the targets, not from "8k" in a prompt.)
 */
export const VAGUE_ANCHORS = [
  'beautiful', 'stunning', 'amazing', 'breathtaking', 'gorgeous', 'awesome', 'incredible', 'epic',
  'perfect', 'masterpiece', 'best quality', 'high quality', 'highest quality', 'top quality',
  'ultra detailed', 'highly detailed', 'hyper detailed', 'insanely detailed', 'extremely detailed',
  'ultra realistic', 'hyperrealistic', 'award winning', 'award-winning', 'trending on artstation',
  'unreal engine', '4k', '8k', '16k', 'hd', 'uhd', 'ultra hd', 'full hd',
] as const;

/** Words that say how the picture is framed; a prompt with none of them leaves it to chance. */
export const COMPOSITION_DIRECTIVES = [
  'centered', 'centred', 'center frame', 'close-up', 'close up', 'closeup', 'extreme close-up', 'macro',
  'wide shot', 'wide-angle', 'wide angle', 'medium shot', 'long shot', 'full shot', 'full-length', 'full body',
  'three-quarter view', 'three-quarter', '3/4 view', 'top-down', 'top down', 'overhead', "bird's-eye",
  'birds-eye', 'aerial view', 'flat lay', 'flat-lay', 'flatlay', 'front view', 'frontal', 'side view',
  'back view', 'rear view', 'profile view', 'in profile', 'eye level', 'eye-level', 'low angle', 'low-angle',
  'high angle', 'high-angle', 'isometric', 'rule of thirds', 'symmetrical', 'symmetric', 'off-center',
  'negative space', 'headshot', 'tight crop', 'cropped', 'panoramic', 'portrait orientation',
  'landscape orientation', 'foreground', 'hero shot', 'packshot', 'knolling',
] as const;

/** Where a character of an asset's own prompt was written. */
function locate(asset: ResolvedAsset, index: number): { at?: SourcePosition; sourceLine?: string } {
  const span = asset.promptSpans?.find((s) => index >= s.start && index < s.end);
  if (span) return { at: span.exact ? { ...span.at, col: span.at.col + (index - span.start) } : span.at, sourceLine: span.sourceLine };
  return asset.promptAt ? { at: asset.promptAt, ...(asset.promptLine !== undefined ? { sourceLine: asset.promptLine } : {}) } : asset.at ? { at: asset.at } : {};
}

function phraseRegex(phrases: readonly string[]): RegExp {
  const escaped = [...phrases].sort((a, b) => b.length - a.length).map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join('|')})(?![\\p{L}\\p{N}])`, 'giu');
}

const VAGUE_RE = phraseRegex(VAGUE_ANCHORS);
const COMPOSITION_RE = new RegExp(phraseRegex(COMPOSITION_DIRECTIVES).source, 'iu');

/** One finding before findings of many catalog rows at one template position are merged. */
interface Finding {
  code: string;
  asset: string;
  message: string;
  hint: string;
  at?: SourcePosition;
  sourceLine?: string;
}

export async function lintPrompts(manifest: ResolvedManifest): Promise<Diagnostic[]> {
  const findings: Finding[] = [];
  const generated = manifest.assets.filter((a) => a.source === undefined);
  for (const asset of generated) {
    const add = (code: string, index: number | undefined, message: string, hint: string) => {
      findings.push({ code, asset: asset.id, message, hint, ...(index === undefined ? locate(asset, -1) : locate(asset, index)) });
    };
    const own = asset.ownPrompt;
    if (!/[\p{L}\p{N}]/u.test(own)) {
      add(LINT_CODES.empty, undefined, `the prompt ${JSON.stringify(own)} has no words`, 'say what to generate: the subject, the framing, the materials');
      continue;
    }
    for (const match of own.matchAll(VAGUE_RE)) {
      add(LINT_CODES.vague, match.index, `vague anchor "${match[0]}" buys nothing`, 'describe what should make it look good instead: the material, the light, the framing');
    }
    if (!COMPOSITION_RE.test(asset.prompt)) {
      add(LINT_CODES.noComposition, undefined, 'the prompt has no composition directive (framing or view)', 'add one, e.g. "front view, centered", "three-quarter view", "flat lay", "close-up", "wide shot"');
    }
    const repeated = prefixRepeat(asset, manifest);
    if (repeated) {
      add(LINT_CODES.prefixRepeated, repeated.index, `the prompt repeats ${JSON.stringify(repeated.text)} from the prefix of style "${asset.style}"`, 'the style prefix is already put before every prompt of the style: remove it here');
    }
  }
  findings.push(...(await tooLong(generated)));
  findings.push(...duplicates(generated));
  return sortDiagnostics(merge(findings), manifest.inputFiles);
}

/** The style's whole prefix, or one of its phrases of two or more words, inside the asset's own prompt. */
function prefixRepeat(asset: ResolvedAsset, manifest: ResolvedManifest): { index: number; text: string } | undefined {
  const prefix = asset.style === undefined ? '' : (manifest.styles.get(asset.style)?.prefix ?? '');
  const lower = asset.ownPrompt.toLowerCase();
  const phrases = [prefix, ...prefix.split(/[,;:—–]|\s-\s/)]
    .map((p) => p.trim().replace(/[\s.,;:—–-]+$/, ''))
    .filter((p) => p.split(/\s+/).length >= 2);
  for (const phrase of phrases) {
    const index = lower.indexOf(phrase.toLowerCase());
    if (index >= 0) return { index, text: asset.ownPrompt.slice(index, index + phrase.length) };
  }
  return undefined;
}

/**
 * Token counts with the o200k_base encoding. The tokenizer takes most of a second to load, so
 * it is loaded only when some prompt could be too long: a token is at least one byte, so a
 * prompt of at most 400 bytes is at most 400 tokens.
 */
async function tooLong(assets: ResolvedAsset[]): Promise<Finding[]> {
  const candidates = assets.filter((a) => Buffer.byteLength(a.prompt, 'utf8') > MAX_PROMPT_TOKENS);
  if (candidates.length === 0) return [];
  const { countTokens } = await import('gpt-tokenizer/encoding/o200k_base');
  const findings: Finding[] = [];
  for (const asset of candidates) {
    const tokens = countTokens(asset.prompt);
    if (tokens <= MAX_PROMPT_TOKENS) continue;
    findings.push({
      code: LINT_CODES.tooLong,
      asset: asset.id,
      message: `the prompt is ${tokens} tokens (o200k_base), over ${MAX_PROMPT_TOKENS}`,
      hint: 'image models weigh the first words most and drop detail from long prompts: keep the subject, the framing and the key materials',
      ...locate(asset, -1),
    });
  }
  return findings;
}

function words(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) as string[]);
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const w of a) if (b.has(w)) shared++;
  return shared / (a.size + b.size - shared);
}

/**
 * Near-duplicate prompts within the batch. Rows of one catalog template differ by design
 * (a color, a size), so among themselves only identical prompts count.
 */
function duplicates(assets: ResolvedAsset[]): Finding[] {
  const findings: Finding[] = [];
  const templateOf = (a: ResolvedAsset) => (a.origin !== undefined && a.promptAt ? `${a.promptAt.file}:${a.promptAt.line}:${a.promptAt.col}` : undefined);
  const items = assets.map((asset, order) => ({ asset, order, words: words(asset.ownPrompt), template: templateOf(asset) }));
  const exact = new Map<string, (typeof items)[number]>();
  const reported = new Set<string>();
  const report = (later: (typeof items)[number], earlier: (typeof items)[number], similarity: number) => {
    if (reported.has(later.asset.id)) return;
    reported.add(later.asset.id);
    const where = earlier.asset.at ? ` (${earlier.asset.at.file}:${earlier.asset.at.line})` : '';
    const how = similarity >= 1 ? 'the same as' : `${Math.round(similarity * 100)}% the same words as`;
    findings.push({
      code: LINT_CODES.duplicate,
      asset: later.asset.id,
      message: `the prompt is ${how} the prompt of "${earlier.asset.id}"${where}`,
      hint: 'two near-identical prompts pay twice for one picture: make them differ (subject, view, color), or drop one',
      ...(later.asset.origin !== undefined && later.asset.at ? { at: later.asset.at } : locate(later.asset, -1)),
    });
  };
  for (const item of items) {
    const key = [...item.words].sort().join(' ');
    const first = exact.get(key);
    if (first) report(item, first, 1);
    else exact.set(key, item);
  }
  // Prefix filtering (as in set-similarity joins): with every word set ordered rarest word
  // first, two sets whose Jaccard similarity reaches the threshold share a word among their
  // first |set| - ceil(t·|set|) + 1 words. Only such pairs are compared, so a catalogue of a
  // thousand similar rows costs a few thousand comparisons, not half a million.
  const frequency = new Map<string, number>();
  for (const item of items) for (const word of item.words) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  const rarestFirst = (x: string, y: string) => (frequency.get(x) ?? 0) - (frequency.get(y) ?? 0) || (x < y ? -1 : x > y ? 1 : 0);
  // Each prefix word's items, with the word's position in that item's prefix.
  const byPrefixWord = new Map<string, Array<[number, number]>>();
  const seenBy = new Int32Array(items.length).fill(-1);
  const share = DUPLICATE_SIMILARITY / (1 + DUPLICATE_SIMILARITY);
  for (const [i, item] of items.entries()) {
    const size = item.words.size;
    const prefix = [...item.words].sort(rarestFirst).slice(0, size - Math.ceil(DUPLICATE_SIMILARITY * size) + 1);
    const candidates: number[] = [];
    for (const [p, word] of prefix.entries()) {
      for (const [j, q] of byPrefixWord.get(word) ?? []) {
        if (seenBy[j] === i) continue;
        seenBy[j] = i;
        // Positional filter (PPJoin): this is the pair's rarest shared word, so they share at
        // most it and the words after it in both; a pair that cannot reach the threshold's
        // overlap is not compared. Prompts that share their common words (one catalogue's)
        // would otherwise all be compared with each other: 8 s for 5,000 assets.
        const other = items[j]!.words.size;
        if (1 + Math.min(size - p - 1, other - q - 1) < share * (size + other) - 1e-9) continue;
        candidates.push(j);
      }
    }
    for (const j of candidates) {
      const earlier = items[j]!;
      if (earlier.template !== undefined && earlier.template === item.template) continue;
      const similarity = jaccard(earlier.words, item.words);
      if (similarity < DUPLICATE_SIMILARITY || similarity >= 1) continue;
      report(item, earlier, similarity);
    }
    for (const [p, word] of prefix.entries()) {
      const list = byPrefixWord.get(word);
      if (list) list.push([i, p]);
      else byPrefixWord.set(word, [[i, p]]);
    }
  }
  return findings;
}

/**
 * One diagnostic per code, message and position: the rows of a catalog share their template,
 * so "no composition directive" is said once, naming how many assets it concerns.
 */
function merge(findings: Finding[]): Diagnostic[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = `${f.code}|${f.at?.file}:${f.at?.line}:${f.at?.col}|${f.message}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const ids = group.map((f) => `"${f.asset}"`);
    const which = ids.length === 1 ? `asset ${ids[0]}` : `${ids.length} assets: ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ` and ${ids.length - 3} more` : ''}`;
    const d: Diagnostic = { code: first.code, message: `${which}: ${first.message}`, severity: 'warning', hint: first.hint };
    if (first.at) d.at = first.at;
    if (first.sourceLine !== undefined) d.sourceLine = first.sourceLine;
    return d;
  });
}
