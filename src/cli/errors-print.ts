import type { Command, CommanderError } from 'commander';
import { ExitCode, GptError, INTERNAL_HINT, toGptError } from '../util/errors.js';
import { colorDiagnostic, colorsFor } from './color.js';
import type { Io } from './commands/context.js';
import { printDiagnostic } from './load.js';
import { stackOf } from './reporters/json.js';

/** An error as one JSON line on stdout (`--json`): what a tool reading the events would parse. */
export function errorJson(error: GptError): string {
  const diagnostics = error.diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity ?? 'error',
    message: d.message,
    ...(d.at ? { at: d.at } : {}),
    ...(d.hint ? { hint: d.hint } : {}),
  }));
  return `${JSON.stringify({ type: 'error', error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}), exitCode: error.exitCode, ...(diagnostics.length > 0 ? { diagnostics } : {}) } })}\n`;
}

/** Renders an error for a person (diagnostics with positions, or code, message and hint); returns its exit code. */
export function printError(err: unknown, io: Io, verbose: boolean, json = false): ExitCode {
  const error = toGptError(err);
  // With --json, tools get the error as a JSON line on stdout; people still read stderr.
  if (json) io.out.write(errorJson(error));
  if (error.diagnostics.length > 0) {
    for (const d of error.diagnostics) printDiagnostic(d, io);
    if (error.diagnostics.length > 1) io.err.write(`${error.diagnostics.length} problems\n`);
  } else {
    const c = colorsFor(io.env, io.errIsTTY ?? io.isTTY);
    io.err.write(`${colorDiagnostic(`error ${error.code}: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}`, c)}\n`);
  }
  const stack = error.code === 'E_INTERNAL' ? stackOf(error) : undefined;
  if (verbose && stack) io.err.write(`${stack}\n`);
  else if (error.code === 'E_INTERNAL' && !error.hint) io.err.write(`  hint: ${INTERNAL_HINT}\n`);
  return error.exitCode;
}

/** A bad flag or command: `error E_USAGE: ...` on one line, and where the usage is. */
export function printUsageError(err: CommanderError, program: Command, argv: string[], io: Io): ExitCode {
  const message = err.message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ')
    .replace(/\(Did you mean/, '(did you mean');
  const command = program.commands.find((c) => argv.includes(c.name()));
  const hint = `see \`gpt4k ${command ? `${command.name()} ` : ''}--help\` for the usage`;
  if (argv.includes('--json')) io.out.write(errorJson(new GptError('E_USAGE', message, { hint, exitCode: ExitCode.usage })));
  const c = colorsFor(io.env, io.errIsTTY ?? io.isTTY);
  io.err.write(`${colorDiagnostic(`error E_USAGE: ${message}\n  hint: ${hint}`, c)}\n`);
  return ExitCode.usage;
}
