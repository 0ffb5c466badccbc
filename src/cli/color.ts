import picocolors from 'picocolors';

export type Colors = ReturnType<typeof picocolors.createColors>;

/**
 * Whether to colour a stream, by the conventions people's other tools follow: `NO_COLOR` (any
 * non-empty value) turns colour off, `FORCE_COLOR` (anything but 0/false) turns it on even in a
 * pipe, and otherwise only a terminal (not `TERM=dumb`) gets it.
 * picocolors does the escapes; the decision is made here from the CLI's own io, not from the
 * process's, so tests and the programmatic entry point see the same rules.
 */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR.toLowerCase() !== 'false';
  return isTTY && env.TERM !== 'dumb';
}

export function colorsFor(env: NodeJS.ProcessEnv, isTTY: boolean): Colors {
  return picocolors.createColors(colorEnabled(env, isTTY));
}

/** A diagnostic or error block with its severity word and hint coloured (the text is unchanged). */
export function colorDiagnostic(text: string, c: Colors): string {
  return text
    .replace(/^((?:[^\n]*?: )?)(error|warning)( [A-Z_0-9]+:)/, (_m, at: string, word: string, code: string) => `${c.dim(at)}${word === 'error' ? c.red(c.bold(word)) : c.yellow(c.bold(word))}${code}`)
    .replace(/^(\s+)\^$/m, (_m, pad: string) => `${pad}${c.red('^')}`)
    .replace(/^(\s+)hint:/m, (_m, pad: string) => `${pad}${c.cyan('hint:')}`);
}
