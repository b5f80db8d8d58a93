"""The notebooks in notebooks/ are the ones scripts/make_notebooks.py writes, committed with their
outputs, and still current: re-executed headless (inline charts) every one runs without an error
and prints what its committed outputs say (numbers to a relative 1e-6)."""

from __future__ import annotations

import copy
import importlib.util
import math
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("matplotlib_inline")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REGENERATE = "run `python scripts/make_notebooks.py` and commit the notebooks"


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_notebooks", ROOT / "scripts" / "make_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
WIDGET = "application/vnd.jupyter.widget-view+json"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert names == set(GEN.NOTEBOOKS)
    assert {"quickstart.ipynb", "llm_systems.ipynb", "energy.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_cells_are_the_generators(path):
    nb = nbformat.read(path, as_version=4)
    committed = [(c.cell_type, c.source) for c in nb.cells]
    expected = [("markdown" if k == "md" else "code", src) for k, src in GEN.NOTEBOOKS[path.name]]
    assert committed == expected, REGENERATE
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "sys.path" not in cell.source, "notebooks import the installed package only"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_with_their_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), REGENERATE
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    outputs = [o for c in code for o in c.outputs]
    assert outputs and not any(o.output_type == "error" for o in outputs)
    draws = [c for c in code if "plot." in c.source or "figure()" in c.source]
    for cell in draws:  # each chart is in the file as a picture, readable without a kernel
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source


def _texts(cell) -> list[str]:
    """The text a code cell printed or returned (widget views aside: their ids are random)."""
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data") and WIDGET not in o.data:
            out.append(o.data.get("text/plain", ""))
    return out


def _same(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same text, their numbers equal to a relative 1e-6."""
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return False
    return all(
        math.isclose(float(x), float(y), rel_tol=1e-6, abs_tol=1e-12)
        for x, y in zip(NUMBER.findall(a), NUMBER.findall(b))
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_and_its_outputs_are_current(path, tmp_path):
    committed = nbformat.read(path, as_version=4)
    fresh = GEN.execute(copy.deepcopy(committed), str(tmp_path))
    assert list(tmp_path.iterdir()) == []  # a notebook writes no files
    errors = [
        o
        for c in fresh.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    for old, new in zip(committed.cells, fresh.cells):
        if old.cell_type == "code":
            a, b = _texts(old), _texts(new)
            assert len(a) == len(b) and all(map(_same, a, b)), f"{old.source}: {REGENERATE}"
