import type { Command } from "commander";

/*
 * Shell completion for `steward`, generated from the command tree itself (so a new command
 * or option completes without touching this file): `steward completion bash` / `zsh` prints
 * a script to source, e.g. `source <(steward completion bash)` in ~/.bashrc.
 */

type Node = { words: string[]; options: string[] };

/** Every command path ("" for the top, "models", "models push", …) with its subcommands and options. */
export function commandTree(program: Command): Map<string, Node> {
  const tree = new Map<string, Node>();
  const walk = (cmd: Command, path: string) => {
    const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    tree.set(path, {
      words: subs.map((c) => c.name()),
      options: [...cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)), "--help"],
    });
    for (const c of subs) walk(c, path ? `${path} ${c.name()}` : c.name());
  };
  walk(program, "");
  return tree;
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

export function completionScript(program: Command, shell: "bash" | "zsh"): string {
  const tree = commandTree(program);
  const cases = [...tree.entries()].map(([path, n]) => `    ${quote(path)}) words=${quote([...n.words, ...n.options].join(" "))} ;;`).join("\n");
  const body = `_steward_complete() {
  local cur path w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  # The command path so far: the words before the cursor that are subcommands, not options or values.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case " $(_steward_words "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac
  done
  COMPREPLY=($(compgen -W "$(_steward_words "$path")" -- "$cur"))
}
_steward_words() {
  local words=""
  case "$1" in
${cases}
  esac
  printf '%s' "$words"
}`;
  if (shell === "bash") return `# steward completion for bash: source <(steward completion bash)\n${body}\ncomplete -o default -F _steward_complete steward\n`;
  return `# steward completion for zsh: source <(steward completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${body}\ncomplete -o default -F _steward_complete steward\n`;
}
