"""The README stays current: presets listed, compare fields documented, CI runs its test command,
and every cheap code block runs as written: the blocks marked ``<!-- slow: reason -->`` (an install,
a measurement of minutes) or ``<!-- not run: reason -->`` (it needs files of the reader's) are
not run."""

from __future__ import annotations

import importlib.util
import re
import shlex
import warnings
from pathlib import Path

import pytest

import roofline as rl
from roofline import cli
from roofline.comparison import COMPARE_COLUMNS
from roofline.errors import RooflineWarning

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_preset_is_listed():
    for name in rl.list_models() + rl.list_devices():
        assert f"`{name}`" in README, f"{name} missing from README"


def test_every_compare_field_is_documented():
    table = README.split("### Fields of `compare`", 1)[1].split("## ", 1)[0]
    for col in COMPARE_COLUMNS:
        assert f"`{col}`" in table, col
    for col in (
        "sla_s",
        "max_batch_under_sla",
        "latency_at_max_batch_s",
        "throughput_at_max_batch_per_s",
    ):
        assert f"`{col}`" in table, col


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b).strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci.splitlines()


def test_main_job_command_uses_shipped_presets():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    main_cmd = next(b for b in blocks if "roofline compare" in b)
    words = main_cmd.split("roofline compare", 1)[1].split()
    names = [w for w in words if not w.startswith("-") and not w.isdigit()]
    known = set(rl.list_models()) | set(rl.list_devices())
    assert names and all(n in known for n in names)


def _readme_generator():
    spec = importlib.util.spec_from_file_location(
        "make_readme_charts", ROOT / "scripts" / "make_readme_charts.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table1_is_what_the_generator_writes():
    # regenerating Table 1 (the CLI's `roofline table1 --format markdown`) gives the README's
    # block: every number the README shows there is computed, not pasted
    gen = _readme_generator()
    assert gen.table1_block() in README, "run python scripts/make_readme_charts.py"
    assert gen.readme_with_table1(README) == README
    embeddings = next(line for line in README.splitlines() if "| Embeddings |" in line)
    row = next(r for r in rl.table1() if r["model_type"] == "Embeddings" and
               r["metric"] == "intensity_aw_avg")  # fmt: skip
    assert f"| {row['computed_low']:.3g} ✓" in embeddings


def test_every_picture_the_readme_shows_has_a_generator(tmp_path):
    gen = _readme_generator()
    shown = set(re.findall(r"!\[[^\]]*\]\(docs/img/([^)]+)\)", README))
    assert shown and shown <= set(gen.CHARTS)
    for name in shown:
        assert (ROOT / "docs" / "img" / name).stat().st_size > 10_000
    gen.CHARTS["roofline_paper_models.png"](tmp_path / "r.png")  # the generator still runs
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_no_reference_to_notes_outside_the_repository():
    # the project's notes live in docs/paper_notes.md; a reader of the README cannot open a
    # paper.md that is not in the repository
    assert "paper.md" not in README.replace("paper_notes.md", "")


# -- the README's code blocks run ----------------------------------------------------------------

#: a fenced bash or python block, with the ``<!-- slow: reason -->`` or ``<!-- not run: reason -->``
#: marker that may precede it
BLOCK = re.compile(
    r"(?:<!-- (?:slow|not run): (?P<skip>[^>]*) -->\n)?"
    r"```(?P<lang>bash|python)\n(?P<code>.*?)\n```",
    re.S,
)
BLOCKS = [(m["lang"], m["code"], m["skip"]) for m in BLOCK.finditer(README)]
CHEAP = [(lang, code) for lang, code, slow in BLOCKS if slow is None]


def _commands(code: str) -> list[list[str]]:
    """The ``roofline`` commands of a bash block: continuation lines joined, comments dropped,
    ``&&`` splitting commands."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words:
                assert words[0] == "roofline", f"a README command that is not roofline: {part}"
                out.append(words[1:])
    return out


def test_every_block_runs_here_or_says_why_not():
    assert len(CHEAP) >= 4
    for _lang, _code, slow in BLOCKS:
        assert slow is None or len(slow.strip()) > 10  # a reason, not a bare mark


@pytest.mark.parametrize(
    ("lang", "code"), CHEAP, ids=[f"{lang}-{i}" for i, (lang, _c) in enumerate(CHEAP)]
)
def test_readme_block_runs(lang, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)  # the README's examples are all meant
        warnings.simplefilter("error", DeprecationWarning)
        if lang == "python":
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
            return
        for argv in _commands(code):
            assert cli.main(argv) == 0, (argv, capsys.readouterr().err)
    assert "roofline: warning" not in capsys.readouterr().err


def test_the_main_job_runs(capsys):
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    main_cmd = next(b for b in blocks if "roofline compare" in b)
    argv = shlex.split(main_cmd.split("roofline compare", 1)[1])
    assert cli.main(["compare", *argv]) == 0
    out = capsys.readouterr().out
    assert "hypothetical_100tops" in out and "int8" in out and "fp16" in out
