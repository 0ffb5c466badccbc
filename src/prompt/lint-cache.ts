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
 * function of the manifest, which is a function of its input files (the manifest and its
 * includes; a mode or a --provider changes no prompt), and of lint's own rules: the entry is
 * keyed by the files' paths and contents and the rules' code, so the same files give the same
 * findings without comparing a thousand prompts again. Written only where .gpt4k/ exists;
 * failures to read or write are ignored: the cache only saves time.
 */

const FORMAT = 2;

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

/** Undefined when an input file cannot be read (then lint runs, and nothing is kept). */
function lintKey(manifest: ResolvedManifest): string | undefined {
  const hash = createHash('sha256').update(`${FORMAT}\n${rules()}\n`);
  for (const file of manifest.inputFiles) {
    try {
      hash.update(`${file}\n`).update(readFileSync(file)).update('\n');
    } catch {
      return undefined;
    }
  }
  return hash.digest('hex');
}

export async function lintPromptsCached(manifest: ResolvedManifest): Promise<Diagnostic[]> {
  const stateDir = path.join(manifest.root, '.gpt4k');
  const file = path.join(stateDir, 'parsed', 'lint.json');
  const key = lintKey(manifest);
  if (key === undefined) return lintPrompts(manifest);
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
