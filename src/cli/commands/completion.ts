import { Argument, type Command, type Option } from 'commander';
import { ExitCode, GptError } from '../../util/errors.js';
import { manifestPath } from '../load.js';
import type { CommandContext } from './context.js';

/** What a command's free arguments complete to. */
type ArgKind = 'assets' | 'asset' | 'file' | 'shell' | 'none';
const ARGS: Record<string, ArgKind> = { build: 'assets', plan: 'assets', graph: 'assets', watch: 'assets', pick: 'asset', preflight: 'file', completion: 'shell' };
/** Options whose value completes to ids, files, folders or fixed words. */
const VALUES: Record<string, string> = { '--target': 'targets', '--regenerate': 'assets', '--manifest': 'file', '--directory': 'dir', '--format': 'dot mermaid json' };

interface Spec {
  name: string;
  about: string;
  options: Option[];
  args: ArgKind;
}

const clean = (text: string) => text.replace(/[[\]:'"`$\\]/g, '').replace(/\s+/g, ' ').slice(0, 80);
const flags = (o: Option) => [o.short, o.long].filter((f): f is string => !!f);
const takesValue = (o: Option) => o.required || o.optional;

function specOf(program: Command): { commands: Spec[]; globals: Option[] } {
  const commands = program.commands
    .filter((c) => !c.name().startsWith('__'))
    .map((c) => ({ name: c.name(), about: clean(c.description()), options: c.options as Option[], args: ARGS[c.name()] ?? 'none' }));
  return { commands, globals: program.options as Option[] };
}

function bash(program: Command): string {
  const { commands, globals } = specOf(program);
  const valued = [...globals, ...commands.flatMap((c) => c.options)].filter(takesValue).flatMap(flags);
  const words = (os: Option[]) => os.flatMap(flags).join(' ');
  const ids = (kind: ArgKind) => (kind === 'assets' || kind === 'asset' ? '$(_gpt4k_ids assets)' : kind === 'shell' ? 'bash zsh fish' : '');
  const cases = commands.map((c) => `    ${c.name}) opts="${words(c.options)}"; args="${ids(c.args)}";${c.args === 'file' ? ' files=1;' : ''};`).join('\n');
  return `# gpt4k completion for bash: eval "$(gpt4k completion bash)" in ~/.bashrc
_gpt4k_ids() { command gpt4k __complete "$1" 2>/dev/null; }
_gpt4k() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i w skip=0 opts="" args="" files=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in ${valued.join('|')}) skip=1 ;; -*) ;; *) cmd="$w"; break ;; esac
  done
  case "$prev" in
    -t|--target) COMPREPLY=($(compgen -W "$(_gpt4k_ids targets)" -- "$cur")); return ;;
    --regenerate) COMPREPLY=($(compgen -W "$(_gpt4k_ids assets)" -- "$cur")); return ;;
    -m|--manifest) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -C|--directory) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --format) COMPREPLY=($(compgen -W "dot mermaid json" -- "$cur")); return ;;
  esac
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} ${words(globals)}" -- "$cur")); return
  fi
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts ${words(globals)}" -- "$cur"))
  elif ((files)); then COMPREPLY=($(compgen -f -- "$cur"))
  else COMPREPLY=($(compgen -W "$args" -- "$cur")); fi
}
complete -F _gpt4k gpt4k
`;
}

function zshOption(o: Option): string {
  const value = takesValue(o) ? zshValue(o.long ?? '') : '';
  const about = `[${clean(o.description)}]`;
  const names = flags(o);
  return names.length > 1 ? `'(${names.join(' ')})'{${names.join(',')}}'${about}${value}'` : `'${names[0]}${about}${value}'`;
}

function zshValue(long: string): string {
  const kind = VALUES[long];
  if (kind === 'targets' || kind === 'assets') return `:${kind}:(\${(f)"$(gpt4k __complete ${kind} 2>/dev/null)"})`;
  if (kind === 'file') return ':file:_files';
  if (kind === 'dir') return ':folder:_directories';
  if (kind) return `:value:(${kind})`;
  return ':value:';
}

function zsh(program: Command): string {
  const { commands, globals } = specOf(program);
  const argSpec = (kind: ArgKind) =>
    kind === 'assets' ? `'*:asset:(\${(f)"$(gpt4k __complete assets 2>/dev/null)"})'` : kind === 'asset' ? `'1:asset:(\${(f)"$(gpt4k __complete assets 2>/dev/null)"})'` : kind === 'file' ? "'1:file:_files'" : kind === 'shell' ? "'1:shell:(bash zsh fish)'" : '';
  const cases = commands.map((c) => `        ${c.name}) _arguments ${[...c.options.map(zshOption), argSpec(c.args)].filter(Boolean).join(' ')} ;;`).join('\n');
  return `#compdef gpt4k
# gpt4k completion for zsh: gpt4k completion zsh > "\${fpath[1]}/_gpt4k" (or eval "$(gpt4k completion zsh)" after compinit)
_gpt4k() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(${commands.map((c) => `'${c.name}:${c.about}'`).join(' ')})
  _arguments -C ${globals.map(zshOption).join(' ')} '1: :->command' '*:: :->args'
  case $state in
    command) _describe 'command' commands ;;
    args)
      case $line[1] in
${cases}
      esac ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _gpt4k "$@"; else compdef _gpt4k gpt4k; fi
`;
}

function fishOption(o: Option, condition: string): string {
  const parts = ['complete -c gpt4k', condition];
  if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
  if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
  const kind = VALUES[o.long ?? ''];
  if (takesValue(o)) {
    if (kind === 'assets' || kind === 'targets') parts.push(`-x -a '(gpt4k __complete ${kind} 2>/dev/null)'`);
    else if (kind === 'file') parts.push('-r -F');
    else if (kind === 'dir') parts.push("-x -a '(__fish_complete_directories)'");
    else if (kind) parts.push(`-x -a '${kind}'`);
    else parts.push('-x');
  }
  parts.push(`-d '${clean(o.description)}'`);
  return parts.filter(Boolean).join(' ');
}

function fish(program: Command): string {
  const { commands, globals } = specOf(program);
  const lines = ['# gpt4k completion for fish: gpt4k completion fish > ~/.config/fish/completions/gpt4k.fish', 'complete -c gpt4k -f'];
  for (const o of globals) lines.push(fishOption(o, ''));
  for (const c of commands) {
    lines.push(`complete -c gpt4k -n __fish_use_subcommand -a ${c.name} -d '${c.about}'`);
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    for (const o of c.options) lines.push(fishOption(o, when));
    if (c.args === 'assets' || c.args === 'asset') lines.push(`complete -c gpt4k ${when} -a '(gpt4k __complete assets 2>/dev/null)'`);
    if (c.args === 'file') lines.push(`complete -c gpt4k ${when} -F`);
    if (c.args === 'shell') lines.push(`complete -c gpt4k ${when} -a 'bash zsh fish'`);
  }
  return `${lines.join('\n')}\n`;
}

const SHELLS = { bash, zsh, fish } as const;

/** `gpt4k completion SHELL` prints a script; the scripts call the hidden `gpt4k __complete assets|targets` for ids. */
export function registerCompletionCommand(program: Command, context: CommandContext): void {
  const { io } = context;
  program
    .command('completion')
    .description('print a shell completion script (commands, options, asset and target ids): eval "$(gpt4k completion bash)"')
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(SHELLS)))
    .action((shell: keyof typeof SHELLS) => {
      io.out.write(SHELLS[shell](program));
    });
  program
    .command('__complete', { hidden: true })
    .argument('<kind>', 'assets or targets')
    .action(async (kind: string, _opts: unknown, cmd: Command) => {
      if (kind !== 'assets' && kind !== 'targets') throw new GptError('E_USAGE', `expected assets or targets, got "${kind}"`, { exitCode: ExitCode.usage });
      // Quietly nothing where there is no manifest or it does not load: a completion must not print errors.
      try {
        await manifestPath(context.globals(cmd), io);
        const manifest = await context.load(cmd, { quiet: true });
        const ids = kind === 'assets' ? manifest.assets.map((a) => a.id) : [...manifest.targets.keys()];
        io.out.write(ids.map((id) => `${id}\n`).join(''));
      } catch {
        // no manifest around, or it has errors: no ids
      }
    });
}
