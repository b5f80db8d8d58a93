"""CONTRIBUTING.md stays true: its worked examples are done in a copy of the repository and pass
the house's own checks there, and its map of the house matches the imports.

The examples are fenced blocks whose first line says what they are:

* ``# file: PATH``: a new file (written without that first line);
* ``# edit: PATH``, then ``# after: LINE`` once or more: the lines under each ``# after:`` go in
  right after the one line of PATH whose text (stripped) begins with LINE;
* ``# try it``: Python that shows the result and asserts the numbers the page derives by hand.

:data:`COPIED` is copied into a temporary folder and the blocks are applied there, never to this
repository. ONE subprocess, this file run as a script with the copy first on ``sys.path``
(:func:`work_in_copy`), regenerates the spec docs as the page says, runs every ``# try it`` block
(they load the new op's model and the new family's preset, load the new device and system by
preset name, run the new study and draw its chart, run the new command through
``roofline.cli.main.main``), then runs with pytest the examples' own tests and the house's checks
that a new op, family, device, system, study or command must pass (:data:`HOUSE_CHECKS`), and
writes a JSON report that the tests below read.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_layout

ROOT = Path(__file__).resolve().parents[1]
DOC_NAME = "CONTRIBUTING.md"
#: what the copy holds: the package, the presets, the scripts and tests that check them
COPIED = (
    "roofline",
    "hw_specs",
    "model_specs",
    "scripts",
    "tests",
    "README.md",
    "pyproject.toml",
    DOC_NAME,
)
#: the house's checks of the examples: test file -> pieces of the node ids that select its
#: tests ("" keeps the whole file). Each piece must select a test: a renamed example or test
#: fails here instead of passing by selecting nothing.
HOUSE_CHECKS: dict[str, tuple[str, ...]] = {
    "tests/test_layout.py": ("",),
    "tests/test_ops.py": ("rmsnorm_gated", "test_every_registered_kind_has_a_reference_case"),
    "tests/test_counting_every_op.py": (
        "test_every_registered_op_has_a_strategy",
        "test_fast_counter_equals_reference[rmsnorm_gated]",
    ),
    "tests/test_spec_docs.py": ("",),
    "tests/test_specs_shipped.py": ("test_specs_are_shipped", "[mlp_mnist]", "[l40s]"),
    "tests/test_readme.py": ("test_every_preset_is_listed",),
    "tests/test_energy_specs.py": ("[l40s]",),
    "tests/test_systems_collectives.py": ("[l40s_x8]",),
    "tests/test_studies.py": (
        "test_every_registered_study_is_complete_and_draws_headless[launch]",
        "test_the_registry_is_what_roofline_exports_and_draws",
    ),
    "tests/test_cli_registry.py": (
        "test_every_registered_command_has_its_module_and_a_help[bound]",
        "test_every_command_module_is_registered",
        "test_help_lists_every_command_and_imports_no_command_module",
    ),
}
#: the files that the worked example of each place to touch writes (at least one each)
PLACES = {
    "an op": r"roofline/ops/\w+\.py",
    "a family": r"roofline/families/\w+\.py",
    "a preset": r"model_specs/\w+\.yaml",
    "a device": r"hw_specs/\w+\.yaml",
    "a system": r"hw_specs/systems/\w+\.yaml",
    "a study": r"roofline/studies/\w+\.py",
    "a chart": r"roofline/plot/studies/\w+\.py",
    "a command": r"roofline/cli/\w+\.py",
    "a test": r"tests/test_\w+\.py",
}

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
HEAD = re.compile(r"#\s*(file|edit):\s*(\S+)")
AFTER = "# after: "


@dataclass(frozen=True)
class Block:
    """One marked code block of the page: ``kind`` is ``file``, ``edit`` or ``try``."""

    kind: str
    path: str
    body: str
    line: int

    @property
    def where(self) -> str:
        return f"{DOC_NAME}:{self.line}"


def blocks(text: str) -> list[Block]:
    """The marked code blocks of ``text`` in order (unmarked blocks are prose)."""
    out = []
    for m in FENCE.finditer(text):
        first, _, body = m.group(1).partition("\n")
        line = text.count("\n", 0, m.start()) + 1
        head = HEAD.fullmatch(first.strip())
        if head:
            out.append(Block(head[1], head[2], body, line))
        elif first.strip() == "# try it":
            out.append(Block("try", "", body, line))
    return out


def insertions(block: Block) -> list[tuple[str, str]]:
    """The (LINE, lines to insert after it) pairs of an edit block."""
    pairs: list[list[str]] = []
    for raw in block.body.splitlines(keepends=True):
        if raw.startswith(AFTER):
            pairs.append([raw[len(AFTER) :].strip(), ""])
        elif pairs:
            pairs[-1][1] += raw
        else:
            raise AssertionError(f"{block.where}: an edit block goes on with '{AFTER}LINE'")
    return [(anchor, lines) for anchor, lines in pairs]


def apply_edit(text: str, anchor: str, lines: str, where: str) -> str:
    """``text`` with ``lines`` inserted after its one line that begins with ``anchor``."""
    rows = text.splitlines(keepends=True)
    hits = [i for i, row in enumerate(rows) if row.strip().startswith(anchor)]
    if len(hits) != 1:
        raise AssertionError(
            f"{where}: '{AFTER}{anchor}' matches {len(hits)} lines, not one: update the page"
        )
    i = hits[0] + 1
    return "".join(rows[:i]) + lines + "".join(rows[i:])


def build_copy(dest: Path, marked: list[Block]) -> list[Path]:
    """Copy :data:`COPIED` into ``dest`` and apply the file and edit blocks there; return the
    files written or edited."""
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    touched = []
    for b in marked:
        target = dest / b.path
        if b.kind == "file":
            assert not target.exists(), f"{b.where}: {b.path} exists already"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(b.body, encoding="utf-8")
        elif b.kind == "edit":
            text = target.read_text(encoding="utf-8")
            for anchor, lines in insertions(b):
                text = apply_edit(text, anchor, lines, b.where)
            target.write_text(text, encoding="utf-8")
        else:
            continue
        touched.append(target)
    return touched


class Selector:
    """A pytest plugin: of the files in ``checks`` keep the tests whose node id holds one of the
    file's pieces (and remember which pieces selected something); keep other files whole."""

    def __init__(self, checks: dict[str, tuple[str, ...]]) -> None:
        self.checks = checks
        self.hit: set[tuple[str, str]] = set()

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        keep = []
        for item in items:
            path = item.nodeid.split("::")[0]
            pieces = self.checks.get(path)
            found = [p for p in pieces if p in item.nodeid] if pieces is not None else [""]
            self.hit.update((path, p) for p in found)
            if found:
                keep.append(item)
        items[:] = keep

    def unmatched(self) -> list[str]:
        return [f"{f} {p!r}" for f, ps in self.checks.items() for p in ps if (f, p) not in self.hit]


def work_in_copy(copy: Path, report: Path) -> None:
    """In the copy (first on ``sys.path``): regenerate the spec docs, run the ``# try it`` blocks
    from a scratch folder, run the examples' tests and :data:`HOUSE_CHECKS`; write the report."""
    import roofline

    assert Path(roofline.__file__).resolve().is_relative_to(copy.resolve()), roofline.__file__
    runpy.run_path(str(copy / "scripts" / "gen_spec_docs.py"))["main"]([])
    marked = blocks((copy / DOC_NAME).read_text(encoding="utf-8"))
    scratch = copy / "scratch"
    scratch.mkdir()
    here = os.getcwd()
    os.chdir(scratch)
    tried = {}
    for b in (b for b in marked if b.kind == "try"):
        try:
            exec(compile(b.body, b.where, "exec"), {"__name__": "__contributing__"})
            tried[b.where] = ""
        except BaseException:  # the report says what failed, and where
            tried[b.where] = traceback.format_exc()
        finally:
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
    os.chdir(here)
    own = sorted({b.path for b in marked if b.kind == "file" and b.path.startswith("tests/test_")})
    selector = Selector(HOUSE_CHECKS)
    args = [*own, *HOUSE_CHECKS, "-q", "-p", "no:cacheprovider", "--rootdir", str(copy)]
    args += ["-c", str(copy / "pyproject.toml")]
    os.chdir(copy)
    status = pytest.main(args, plugins=[selector])
    os.chdir(here)
    result = {"tried": tried, "pytest": int(status), "unmatched": selector.unmatched()}
    report.write_text(json.dumps(result), encoding="utf-8")


DOC = (ROOT / DOC_NAME).read_text(encoding="utf-8")
MARKED = blocks(DOC)
TRIES = [b for b in MARKED if b.kind == "try"]


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The copy with the examples applied, and the report of the work done in it."""
    copy = tmp_path_factory.mktemp("house")
    touched = build_copy(copy, MARKED)
    report = copy / "report.json"
    env = {**os.environ, "PYTHONPATH": str(copy), "MPLBACKEND": "Agg"}
    script = copy / "tests" / Path(__file__).name
    proc = subprocess.run(
        [sys.executable, str(script), str(copy), str(report)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and report.exists(), output
    return {"copy": copy, "touched": touched, "output": output, **json.loads(report.read_text())}


def _section(title: str) -> str:
    return DOC.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_every_place_to_touch_has_a_worked_example():
    written = [b.path for b in MARKED if b.kind == "file"]
    for place, pattern in PLACES.items():
        assert any(re.fullmatch(pattern, p) for p in written), f"no worked example of {place}"
    examples = _section("Places to touch").split("\n### ")[1:]
    assert len(examples) == 6
    for example in examples:
        heading = example.splitlines()[0]
        assert "# try it" in example, f"{heading}: no '# try it' block"
        assert "# file: " in example, f"{heading}: no '# file:' block"
    assert DOC.count("python scripts/gen_spec_docs.py") >= 2  # the op and the family say so


def test_the_examples_stay_out_of_the_repository():
    for b in MARKED:
        if b.kind == "file":
            assert not (ROOT / b.path).exists(), f"{b.where}: {b.path} is in the repository"
        elif b.kind == "edit":
            text = (ROOT / b.path).read_text(encoding="utf-8")
            for anchor, lines in insertions(b):
                first = lines.strip().splitlines()[0]
                assert first not in text, f"{b.where}: {b.path} already has {first!r}"
                apply_edit(text, anchor, lines, b.where)  # the anchor matches one line


@pytest.mark.parametrize("block", TRIES, ids=[b.where for b in TRIES])
def test_each_try_it_block_runs_in_the_copy(house, block):
    assert block.where in house["tried"], house["output"]
    assert house["tried"][block.where] == "", house["tried"][block.where]


def test_the_examples_pass_their_tests_and_the_house_checks(house):
    assert house["unmatched"] == [], f"these pieces selected no test: {house['unmatched']}"
    assert house["pytest"] == 0, house["output"]


def test_the_examples_are_ruff_clean(house):
    files = [str(p) for p in house["touched"] if p.suffix == ".py"]
    for check in (["check"], ["format", "--check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--no-cache", *files],
            cwd=house["copy"],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_setup_command_is_the_readmes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bash = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    command = next(b for b in bash if "pytest" in b).strip()
    assert f"```bash\n{command}\n```" in _section("Set up and test")
    assert "roofline/importers/torchvision_compat.py" in _section("Set up and test")


# -- the map ------------------------------------------------------------------------------------

ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*`([^`]+)`\s*\|", re.M)


def _floors() -> dict[str, int]:
    """Room -> floor from the page's map: a room is a module (``graph.py``) or a folder
    (``ops/``) of ``roofline/``."""
    return {room: int(floor) for floor, room in ROW.findall(_section("The map of the house"))}


def _room(module: str, rooms: dict[str, int]) -> str | None:
    """The room of a dotted module: its own file, else the deepest folder holding it."""
    rel = module.split(".")[1:]
    path = test_layout.MODULES[module].relative_to(test_layout.PACKAGE).as_posix()
    if path in rooms:
        return path
    for k in range(len(rel), 0, -1):
        folder = "/".join(rel[:k]) + "/"
        if folder in rooms:
            return folder
    return None


def test_the_map_has_a_room_for_every_module_and_imports_never_go_up():
    rooms = _floors()
    where = {m: _room(m, rooms) for m in test_layout.MODULES}
    assert [m for m, r in where.items() if r is None] == [], "modules without a room in the map"
    assert set(rooms) == set(where.values()), "rooms of the map that hold no module"
    up = [
        f"{i.module} (floor {rooms[where[i.module]]}) imports {i.target} "
        f"(floor {rooms[where[i.target]]})"
        for imports in test_layout.IMPORTS.values()
        for i in imports
        if i.target in where and rooms[where[i.target]] > rooms[where[i.module]]
    ]
    assert up == []


def test_the_package_docstring_names_every_room():
    import roofline

    doc = roofline.__doc__ or ""
    missing = [room for room in _floors() if room.removesuffix(".py") not in doc]
    assert missing == [] and DOC_NAME in doc


if __name__ == "__main__":
    work_in_copy(Path(sys.argv[1]), Path(sys.argv[2]))
