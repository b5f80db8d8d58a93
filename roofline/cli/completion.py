"""Command ``completion``: a shell completion script for ``roofline``, written by shtab from the
full argument parser (every command's options, choices and file arguments).

    roofline completion bash > ~/.local/share/bash-completion/completions/roofline
    roofline completion zsh > ~/.zfunc/_roofline    # with fpath+=(~/.zfunc) before compinit

shtab (``pip install 'roofline[completion]'``) is imported only when the command runs, and the
script it prints completes without starting Python, so completion adds nothing to the CLI's start.
"""

from __future__ import annotations

import argparse
from typing import Any

from roofline.cli.common import Command, write_output
from roofline.cli.main import build_parser
from roofline.errors import SpecError

shtab: Any
try:  # an optional dependency: the command says how to install it
    import shtab
except ImportError:  # pragma: no cover - depends on the environment
    shtab = None

#: the shells shtab writes completion for
SHELLS = ("bash", "zsh", "tcsh")


def completion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def completion_script(shell: str) -> str:
    """The completion script of ``roofline`` for ``shell``."""
    if shtab is None:
        raise SpecError(
            "shell completion needs shtab",
            field="completion",
            fix="pip install 'roofline[completion]' (or pip install shtab)",
        )
    return shtab.complete(build_parser("*"), shell=shell)  # the full parser: every command


def run_completion(args: argparse.Namespace) -> int:
    """Print (or write) the script."""
    write_output(completion_script(args.shell), args.output)
    return 0


COMMANDS = {
    "completion": Command(
        completion_arguments,
        run_completion,
        (
            "roofline completion bash > ~/.local/share/bash-completion/completions/roofline",
            "roofline completion zsh > ~/.zfunc/_roofline",
        ),
    )
}
