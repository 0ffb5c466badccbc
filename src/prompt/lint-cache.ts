import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../util/atomic.js';
import type { Diagnostic } from '../util/errors.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { lintPrompts } from './lint.js';

/**
 * Prompt lint findings kept in .gpt4k/parsed/lint.json for the next build. Lint is a pure
 * function of what it reads (each generated asset's prompts, their positions, the style
 * prefixes, the order of the input files) and of its own rules, so the entry is keyed by a
 * digest of exactly those: the same prompts give the same findings without comparing a
 * thousand prompts again (near-duplicates are the costly part). Written only where .gpt4k/
 * exists; failures to read or write are ignored: the cache only saves time.
 */

const FORMAT = 1;

let rulesDigest: string | undefined;
/** The lint module's own code: a change of rules (a new word list) is a new key. */
function rules(): string {
  if (rulesDigest === undefined) {
    try {
      rulesDigest = createHash('sha256').update(readFileSync(fileURLToPath(new URL('./lint.js', import.meta.url)))).digest('hex');
    } catch {
      rulesDigest = 'unknown';
    }
  }
  return rulesDigest;
}

function lintKey(manifest: ResolvedManifest): string {
  const styles = Object.fromEntries([...manifest.styles].map(([name, style]) => [name, style.prefix ?? '']));
  const assets = manifest.assets
    .filter((a) => a.source === undefined)
    .map((a) => [a.id, a.prompt, a.ownPrompt, a.style, a.origin, a.at, a.promptAt, a.promptLine, a.promptSpans]);
  const text = JSON.stringify([FORMAT, rules(), manifest.inputFiles, styles, assets]);
  return createHash('sha256').update(text).digest('hex');
}

export async function lintPromptsCached(manifest: ResolvedManifest): Promise<Diagnostic[]> {
  const stateDir = path.join(manifest.root, '.gpt4k');
  const file = path.join(stateDir, 'parsed', 'lint.json');
  const key = lintKey(manifest);
  try {
    const entry = JSON.parse(await readFile(file, 'utf8')) as { key?: unknown; diagnostics?: unknown };
    if (entry.key === key && Array.isArray(entry.diagnostics)) return entry.diagnostics as Diagnostic[];
  } catch {
    // none kept yet
  }
  const diagnostics = await lintPrompts(manifest);
  if (statSync(stateDir, { throwIfNoEntry: false })?.isDirectory()) {
    await writeFileAtomic(file, JSON.stringify({ key, diagnostics })).catch(() => undefined);
  }
  return diagnostics;
}
