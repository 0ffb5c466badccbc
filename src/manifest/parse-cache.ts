import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { ParsedText, PositionTree } from './positions.js';

/**
 * Parsed manifests and include files kept in .gpt4k/parsed/, so that a build of an unchanged
 * project skips the YAML parser (for 1,000 assets the largest part of loading the manifest).
 * An entry holds what positions.ts needs to answer positions (data, position tree, line
 * starts) and is used only for the very text it was made from (sha256 of the text, and the
 * yaml version that parsed it). Only clean parses are kept (no YAML error or warning, no
 * duplicate key, data that JSON gives back as it was), so every diagnostic of the YAML layer
 * still comes from the parser. Entries are named by the file's path relative to the project,
 * one per file, overwritten when it changes; nothing in them names the project's directory.
 * Written only where .gpt4k/ already exists (a project that has been built); failures to read
 * or write are ignored: the cache only ever saves time.
 */

const FORMAT = 1;
const SUBDIR = 'parsed';

interface Entry extends Omit<ParsedText, 'plain'> {
  format: number;
  yaml: string;
  sha256: string;
  /** The schema stamp (schema.ts) the data passed: checking it again would give the same answer. */
  valid?: string;
}

/** A kept parse, and the schema stamp its data was found valid against. */
export interface KeptParse {
  parsed: ParsedText;
  validAgainst: string | undefined;
}

let yamlVersion: string | undefined;
function parserVersion(): string {
  if (yamlVersion === undefined) {
    try {
      yamlVersion = String((createRequire(import.meta.url)('yaml/package.json') as { version?: unknown }).version);
    } catch {
      yamlVersion = 'unknown';
    }
  }
  return yamlVersion;
}

export class ParseCache {
  constructor(
    private readonly root: string,
    /** The project's state folder (.gpt4k/). */
    private readonly stateDir: string,
  ) {}

  private entryFile(file: string): string {
    const name = createHash('sha256').update(path.relative(this.root, file).split(path.sep).join('/')).digest('hex').slice(0, 32);
    return path.join(this.stateDir, SUBDIR, `${name}.json`);
  }

  /** The kept parse of `text` (the content of `file`), or undefined. */
  async get(file: string, text: string): Promise<KeptParse | undefined> {
    let entry: Partial<Entry>;
    try {
      entry = JSON.parse(await readFile(this.entryFile(file), 'utf8')) as Partial<Entry>;
    } catch {
      return undefined;
    }
    if (entry.format !== FORMAT || entry.yaml !== parserVersion() || entry.sha256 !== digest(text)) return undefined;
    if (!Array.isArray(entry.lineStarts) || !('data' in entry) || entry.tree === undefined) return undefined;
    return {
      parsed: { data: entry.data, tree: entry.tree as PositionTree | null, lineStarts: entry.lineStarts, plain: true },
      validAgainst: typeof entry.valid === 'string' ? entry.valid : undefined,
    };
  }

  /** Keeps a clean parse of `text` for the next process, valid against schema stamp `valid`; never fails. */
  async put(file: string, text: string, parsed: ParsedText, valid?: string): Promise<void> {
    if (!parsed.plain) return;
    try {
      if (!(await stat(this.stateDir)).isDirectory()) return;
      const entry: Entry = {
        format: FORMAT, yaml: parserVersion(), sha256: digest(text), data: parsed.data, tree: parsed.tree, lineStarts: parsed.lineStarts,
        ...(valid !== undefined ? { valid } : {}),
      };
      await writeFileAtomic(this.entryFile(file), JSON.stringify(entry));
    } catch {
      // no .gpt4k/ yet, or a read-only project: parse again next time
    }
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
