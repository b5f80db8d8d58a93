"""The command line explains itself: every argument of every command has help text, its default
and its choices; each command's help ends with examples that parse; ``--version``; ``roofline
list`` without a word; shell completion from shtab; and the cheap paths stay cheap."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

import roofline
from roofline.cli.main import REGISTRY, build_parser, command, main


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser("*")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


PARSERS = _subparsers()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_argument_has_help_and_shows_its_choices_and_default(name, capsys):
    sp = PARSERS[name]
    for action in sp._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        assert action.help and len(action.help) > 8, (name, action.dest)
    with pytest.raises(SystemExit):
        main([name, "--help"])
    text = capsys.readouterr().out
    for action in sp._actions:
        if action.choices and action.help != argparse.SUPPRESS:
            assert "{" + ",".join(map(str, action.choices)) + "}" in text, (name, action.dest)
        has_default = action.default not in (None, False, [], argparse.SUPPRESS)
        says = action.help and "default:" in action.help  # the help says it in words
        if action.option_strings and has_default and not says and action.help != argparse.SUPPRESS:
            shown = action.default
            shown = " ".join(shown) if isinstance(shown, list) else str(shown)
            assert f"default: {shown}" in " ".join(text.split()), (name, action.dest)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_command_shows_examples_that_parse(name, capsys):
    examples = command(name).examples
    assert examples, name
    with pytest.raises(SystemExit):
        main([name, "--help"])
    assert "examples:\n  roofline " in capsys.readouterr().out
    for example in examples:
        words = shlex.split(example.split(" > ")[0])
        assert words[0] == "roofline"
        if words[1] != name:  # new's examples show what to do next
            continue
        build_parser(name).parse_args(words[1:])  # a SpecError if it does not parse


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"roofline {roofline.__version__}"


def test_list_without_a_word_lists_what_there_is(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for what in ("models", "devices", "systems"):
        assert f"  {what} " in out
    assert str(len(roofline.list_models())) in out


def test_list_models_prints_descriptions_whole(capsys):
    assert main(["list", "models"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in roofline.list_models():
        description = " ".join(roofline.load_model(name).spec.description.split())
        assert description in out, name
    assert "…" not in out


def test_list_models_imports_no_numpy():
    code = (
        "import sys\n"
        "from roofline.cli.main import main\n"
        "assert main(['list', 'models']) == 0\n"
        "print('numpy' in sys.modules, file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stderr.strip() == "False"


def test_shell_completion_covers_every_command(tmp_path):
    pytest.importorskip("shtab")
    out = tmp_path / "roofline.bash"
    assert main(["completion", "bash", "-o", str(out)]) == 0
    script = out.read_text()
    for name in REGISTRY:
        assert name in script
    assert "--hw" in script and "--dtype" in script
    assert main(["completion", "zsh", "-o", str(tmp_path / "_roofline")]) == 0
