import type { Command } from 'commander';
import type { ResolvedManifest } from '../../manifest/types.js';
import type { ExitCode } from '../../util/errors.js';
import type { Reporter } from '../reporters/types.js';

/** What main.ts hands a command module: its streams, the manifest loader and the exit code setter. */
export interface CommandContext {
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream; cwd: string; env: NodeJS.ProcessEnv; isTTY: boolean };
  globals(cmd: Command): { manifest?: string; json?: boolean; verbose?: boolean; quiet?: boolean };
  /** The absolute path of the manifest named by --manifest (or the default). */
  manifestFile(cmd: Command): string;
  /** Loads the manifest named by --manifest (or the default), printing its warnings. */
  load(cmd: Command): Promise<ResolvedManifest>;
  /** The build-event reporter main.ts picks (plain lines, a live view, or JSON lines). */
  reporter(cmd: Command): Reporter;
  setExit(code: ExitCode): void;
}

/** A path as a person in `cwd` would type it. */
export function shown(cwd: string, file: string): string {
  const rel = file.startsWith(cwd) ? file.slice(cwd.length).replace(/^[\\/]/, '') : file;
  return rel === '' ? '.' : rel;
}
