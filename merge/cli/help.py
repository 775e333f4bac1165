"""Help that teaches: an example under every command, and shell completion made from the parser."""

from __future__ import annotations

import argparse
import re
from typing import TextIO

from merge.cli.console import PROG, ExitCode

EXAMPLES = {
    "": """\
examples:
  avatar-merge init                                     # a starter template and sheet here
  avatar-merge render leads.xlsx template.json -o review
  avatar-merge submit leads.xlsx template.json -o leads-sent.xlsx --simulate --wait
  avatar-merge submit leads.xlsx template.json -o leads-sent.xlsx --limit 5
  avatar-merge status leads-sent.xlsx --wait --download videos""",
    "render": """\
examples:
  avatar-merge render leads.xlsx template.json -o review
  avatar-merge render leads.xlsx template.json -o review --rows 7 --print
  avatar-merge render leads.csv template.json -o review --json > render.json""",
    "submit": """\
examples:
  avatar-merge submit leads.xlsx template.json -o leads-sent.xlsx --simulate --wait
  avatar-merge submit leads.xlsx template.json -o leads-sent.xlsx --limit 5   # a pilot
  avatar-merge submit leads.xlsx template.json -o leads-sent.xlsx --yes --wait \\
      --download videos --name "{{ Company }} - {{ First Name }}"
  avatar-merge submit --campaign spring.toml                 # every option from a file""",
    "check": """\
examples:
  avatar-merge check leads.xlsx template.json                # key, looks, voices, cost
  avatar-merge check leads.xlsx template.json --simulate     # against the built-in simulator
  avatar-merge check leads.xlsx template.json --json""",
    "avatars": """\
examples:
  avatar-merge avatars                                       # every look the account can use
  avatar-merge avatars --engine avatar_iii --csv > looks.csv""",
    "voices": """\
examples:
  avatar-merge voices --language English
  avatar-merge voices --json | jq '.[].voice_id'""",
    "status": """\
examples:
  avatar-merge status leads-sent.xlsx
  avatar-merge status leads-sent.xlsx --wait --download videos
  avatar-merge status leads-sent.xlsx --json | jq .statuses""",
    "listen": """\
examples:
  avatar-merge listen leads-sent.xlsx --port 8080 --webhook-secret-file secret.txt""",
    "validate": """\
examples:
  avatar-merge validate body.json
  avatar-merge validate bodies.jsonl --json""",
    "simulate": """\
examples:
  avatar-merge simulate --port 8000
  avatar-merge simulate --port 0 --fail-429 0.1 --render-failure 0.05 --seed 7""",
    "schema": """\
examples:
  avatar-merge schema > v2-body.schema.json""",
    "init": """\
examples:
  avatar-merge init
  avatar-merge init spring-campaign""",
    "completion": """\
examples:
  avatar-merge completion bash > ~/.local/share/bash-completion/completions/avatar-merge
  avatar-merge completion zsh > "${fpath[1]}/_avatar-merge"
  avatar-merge completion fish > ~/.config/fish/completions/avatar-merge.fish""",
}


class Formatter(argparse.HelpFormatter):
    """Wrap descriptions as usual, but keep the lines of a text that has its own (the examples)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_examples(
    parser: argparse.ArgumentParser, commands: dict[str, argparse.ArgumentParser]
) -> None:
    """Put each command's examples under its help."""
    parser.formatter_class = Formatter
    parser.epilog = EXAMPLES[""]
    for name, command in commands.items():
        command.formatter_class = Formatter
        command.epilog = EXAMPLES.get(name)


def add_completion(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `completion`."""
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script: bash, zsh or fish",
        description="Print a completion script for your shell; load it from your shell's"
        " start-up file or save it where your shell looks for completions.",
    )
    completion.add_argument("shell", choices=("bash", "zsh", "fish"))
    completion.set_defaults(run=run_completion)


def run_completion(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Print the completion script of the asked shell."""
    spec = _spec(args.parser)
    out.write({"bash": _bash, "zsh": _zsh, "fish": _fish}[args.shell](spec))
    return ExitCode.OK


Spec = dict[str, tuple[str, list[tuple[str, bool, str]]]]
"""command → (its help, [(option, takes a value, help)])."""


def _spec(parser: argparse.ArgumentParser) -> Spec:
    spec: Spec = {}
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, command in action.choices.items():
            options = [
                (string, bool(option.nargs != 0), option.help or "")
                for option in command._actions
                for string in option.option_strings
                if string.startswith("--") and option.help != argparse.SUPPRESS
            ]
            spec[name] = (helps.get(name, ""), options)
    return spec


def _plain(text: str) -> str:
    return re.sub(r"[^\w ,.()/+-]", "", text.replace("%%", "%"))[:70]


def _bash(spec: Spec) -> str:
    cases = "".join(
        f'        {name}) opts="{" ".join(o for o, _, _ in options)}" ;;\n'
        for name, (_, options) in spec.items()
    )
    return f"""# bash completion for {PROG}
_avatar_merge() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(spec)} --help --version" -- "$cur"))
        return
    fi
    case "${{COMP_WORDS[1]}}" in
{cases}    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _avatar_merge {PROG}
"""


def _zsh(spec: Spec) -> str:
    described = "\n".join(f"        '{name}:{_plain(text)}'" for name, (text, _) in spec.items())
    cases = ""
    for name, (_, options) in spec.items():
        specs = " ".join(
            f"'{option}[{_plain(text)}]{':value:_files' if value else ''}'"
            for option, value, text in options
        )
        cases += f"        {name}) _arguments {specs} '*:file:_files' ;;\n"
    return f"""#compdef {PROG}
compdef _avatar_merge {PROG}
_avatar_merge() {{
    local -a commands
    commands=(
{described}
    )
    if (( CURRENT == 2 )); then
        _describe 'command' commands
        return
    fi
    shift words
    (( CURRENT-- ))
    case "$words[1]" in
{cases}    esac
}}
# Complete now when zsh autoloads this file from $fpath; only define it when it is sourced.
if [ "$funcstack[1]" = "_avatar_merge" ]; then
    _avatar_merge "$@"
fi
"""


def _fish(spec: Spec) -> str:
    lines = [f"# fish completion for {PROG}", f"complete -c {PROG} -f"]
    for name, (text, _) in spec.items():
        lines.append(f"complete -c {PROG} -n __fish_use_subcommand -a {name} -d '{_plain(text)}'")
    for name, (_, options) in spec.items():
        for option, value, text in options:
            needs = " -r -F" if value else ""
            lines.append(
                f"complete -c {PROG} -n '__fish_seen_subcommand_from {name}'"
                f" -l {option[2:]}{needs} -d '{_plain(text)}'"
            )
        lines.append(f"complete -c {PROG} -n '__fish_seen_subcommand_from {name}' -F")
    return "\n".join(lines) + "\n"
