"""The command registry: each command's module imports and defines it, its ``--help`` exits 0,
every command module is registered, and ``roofline --help`` imports no command module."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import roofline.cli
from roofline.cli.common import Command
from roofline.cli.main import REGISTRY, main

#: modules of roofline/cli/ that define no command
NOT_COMMANDS = {
    "roofline.cli.__init__",
    "roofline.cli.main",
    "roofline.cli.common",
    "roofline.cli.model_args",
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_command_has_its_module_and_a_help(name, capsys):
    entry = REGISTRY[name]
    assert isinstance(importlib.import_module(entry.module).COMMANDS[name], Command)
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: roofline {name}") and entry.help in out


def test_every_command_module_is_registered():
    modules = {f"roofline.cli.{p.stem}" for p in Path(roofline.cli.__file__).parent.glob("*.py")}
    assert modules - NOT_COMMANDS == {e.module for e in REGISTRY.values()}
    for module in modules - NOT_COMMANDS:
        for name in importlib.import_module(module).COMMANDS:
            assert REGISTRY[name].module == module


def test_help_lists_every_command_and_imports_no_command_module():
    code = (
        "import sys\n"
        "from roofline.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0\n"
        "heavy = [m for m in sys.modules if m == 'numpy' or m.startswith('roofline.cli.')]\n"
        "sys.exit(str(sorted(heavy)))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stderr.strip() == "['roofline.cli.common', 'roofline.cli.main']"
    listed = p.stdout.split("COMMAND\n", 2)[-1]
    for name, entry in REGISTRY.items():
        assert name in listed and entry.help in listed


def test_no_command_is_an_error_with_the_help():
    assert main([]) == 2
