/**
 * User-facing errors. A `Diagnostic` points into a file (manifest, include, template);
 * a `GptError` is a runtime failure a user can act on (missing key, dead server, bad image).
 * Both carry a stable code and a hint; neither is rendered with a stack trace.
 */

export interface SourcePosition {
  file: string; // absolute or project-relative path
  line: number; // 1-based
  col: number; // 1-based
}

export interface Diagnostic {
  code: string; // stable, e.g. "E_UNKNOWN_FIELD"
  message: string; // names the bad value
  at?: SourcePosition;
  hint?: string; // "did you mean ...", "set OPENAI_API_KEY", ...
  severity?: 'error' | 'warning';
  /** The offending source line, for underlining. */
  sourceLine?: string;
}

/** Exit codes, as DESIGN.md defines them. */
export const ExitCode = {
  ok: 0,
  assetFailed: 1,
  usage: 2,
  policy: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class GptError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly diagnostics: Diagnostic[];
  /** Retryable by the provider retry policy. */
  readonly retryable: boolean;
  /** Stop sending new requests to this provider for the rest of the build (401, no quota). */
  readonly haltsProvider: boolean;

  constructor(
    code: string,
    message: string,
    options: {
      hint?: string;
      exitCode?: ExitCode;
      diagnostics?: Diagnostic[];
      retryable?: boolean;
      haltsProvider?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GptError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.assetFailed;
    this.diagnostics = options.diagnostics ?? [];
    this.retryable = options.retryable ?? false;
    this.haltsProvider = options.haltsProvider ?? false;
  }
}

/** A manifest that does not validate: exit 2, one diagnostic per problem. */
export function manifestError(diagnostics: Diagnostic[]): GptError {
  const first = diagnostics[0];
  return new GptError(first?.code ?? 'E_MANIFEST', first?.message ?? 'invalid manifest', {
    hint: first?.hint,
    exitCode: ExitCode.usage,
    diagnostics,
  });
}

export const INTERNAL_HINT = 'this is a bug in gpt4k: run again with --verbose for the stack trace, and report it';

/** Wraps anything thrown into a GptError without losing a user-facing one. */
export function toGptError(err: unknown, fallbackCode = 'E_INTERNAL'): GptError {
  if (err instanceof GptError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new GptError('E_CANCELLED', 'cancelled', { exitCode: ExitCode.interrupted, cause: err });
  }
  const noSpace = noSpaceError(err);
  if (noSpace) return noSpace;
  const message = err instanceof Error ? err.message : String(err);
  return new GptError(fallbackCode, message, { cause: err, ...(fallbackCode === 'E_INTERNAL' ? { hint: INTERNAL_HINT } : {}) });
}

/** A full disk (or quota) is the user's to fix, not a bug: say so, and what survives. */
function noSpaceError(err: unknown): GptError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  const file = (err as NodeJS.ErrnoException).path;
  const what = code === 'EDQUOT' ? 'the disk quota is used up' : 'no space left on the device';
  return new GptError('E_NO_SPACE', `${what}${file ? ` (writing ${file})` : ''}`, {
    cause: err,
    hint: 'free space on the disk that holds the project (gpt4k gc removes cached images the manifest no longer uses), then build again: what is already in .gpt4k/ is kept and not paid for again',
  });
}

export function formatPosition(at: SourcePosition): string {
  return `${at.file}:${at.line}:${at.col}`;
}

/** `file:line:col: message` with the source line underlined and the hint below. */
export function formatDiagnostic(d: Diagnostic): string {
  const head = d.at ? `${formatPosition(d.at)}: ` : '';
  const lines = [`${head}${d.severity === 'warning' ? 'warning' : 'error'} ${d.code}: ${d.message}`];
  if (d.sourceLine !== undefined && d.at) {
    lines.push(`  ${d.sourceLine}`);
    lines.push(`  ${' '.repeat(Math.max(0, d.at.col - 1))}^`);
  }
  if (d.hint) lines.push(`  hint: ${d.hint}`);
  return lines.join('\n');
}
