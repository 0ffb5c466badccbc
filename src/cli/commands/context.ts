import type { Command } from 'commander';
import type { ResolvedManifest } from '../../manifest/types.js';
import type { Colors } from '../color.js';
import type { Reporter } from '../reporters/types.js';

/** The CLI's streams and surroundings; `cwd` is the folder `-C DIR` names, once parsed. */
export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  cwd: string;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
  /** Whether stderr is a terminal (colour of errors); defaults to isTTY. */
  errIsTTY?: boolean;
  /** Asks a yes/no question on the terminal (clean --cache); absent where nobody can answer. */
  confirm?: (question: string) => Promise<boolean>;
}

export interface GlobalOptions {
  manifest?: string;
  directory?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  /** A `modes:` entry to build in (draft, ...). */
  mode?: string;
}

/** What main.ts hands a command module: its streams, the manifest loader and the exit code setter. */
export interface CommandContext {
  io: Io;
  globals(cmd: Command): GlobalOptions;
  /** The absolute path of the manifest: --manifest, or the nearest one at or above the working folder. */
  manifestFile(cmd: Command): Promise<string>;
  /** Loads the manifest (see manifestFile), printing its warnings. */
  load(cmd: Command, overrides?: Partial<GlobalOptions>): Promise<ResolvedManifest>;
  /** The build-event reporter main.ts picks (plain lines, a live view, or JSON lines). */
  reporter(cmd: Command): Reporter;
  /** Colours for stdout and stderr (off under NO_COLOR, in pipes and with --json). */
  colors: { out: Colors; err: Colors };
  setExit(code: number): void;
}

/** A path as a person in `cwd` would type it. */
export function shown(cwd: string, file: string): string {
  const rel = file.startsWith(cwd) ? file.slice(cwd.length).replace(/^[\\/]/, '') : file;
  return rel === '' ? '.' : rel;
}
