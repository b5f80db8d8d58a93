"""``model_specs/README.md`` stays in step with the code that it documents.

* the generated reference (between the markers) equals what ``scripts/gen_spec_docs.py`` makes now;
* every family ``Params`` field (and every field of a model nested in one) has a description, and
  every op field has one (its own or the generator's note), so the reference has no blank cells;
* the README's ``layers`` example builds and has the parameters and FLOPs its text derives.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import typing
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from pydantic import BaseModel

import roofline
from roofline.families import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "model_specs" / "README.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_spec_docs", ROOT / "scripts/gen_spec_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def test_readme_is_up_to_date() -> None:
    current = README.read_text(encoding="utf-8")
    wanted = GEN.render_readme(current)
    if current != wanted:
        diff = "".join(
            list(
                difflib.unified_diff(
                    current.splitlines(True), wanted.splitlines(True), "committed", "generated", n=1
                )
            )[:60]
        )
        pytest.fail(
            f"model_specs/README.md is out of date: run python scripts/gen_spec_docs.py\n{diff}"
        )


def test_render_readme_replaces_only_the_marked_section() -> None:
    section = GEN.generate()
    text = f"intro\n\n{GEN.BEGIN}\nstale\n{GEN.END}\n\nouter\n"
    assert GEN.render_readme(text) == f"intro\n\n{section}outer\n"
    assert GEN.render_readme("intro\n") == f"intro\n\n{section}"
    assert GEN.render_readme(GEN.render_readme(text)) == GEN.render_readme(text)


def _models_in(ann: object) -> list[type[BaseModel]]:
    """Pydantic models nested in a type annotation (``tuple[TableGroup, ...]``)."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for a in typing.get_args(ann) for m in _models_in(a)]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_params_field_has_a_description(family: str) -> None:
    todo: list[type[BaseModel]] = [FAMILIES[family].params]
    missing = []
    while todo:
        model = todo.pop()
        for name, info in model.model_fields.items():
            if not (info.description or "").strip():
                missing.append(f"{model.__name__}.{name}")
            todo += _models_in(info.annotation)
    assert not missing, f"family {family!r}: give these fields Field(description=...): {missing}"


def test_every_op_field_is_documented() -> None:
    missing = GEN.undocumented_op_fields()
    assert not missing, (
        f"op fields without a description: {missing}; add Field(description=...) in the op module"
    )


def test_layers_example_builds_as_described() -> None:
    """The README's ``tiny_cnn`` (3x32x32 input, conv 3x3 pad 1 keeps 32x32, max pool 2 -> 16x16):
    params = conv1 16*3*9 + bn1 2*16 + conv2 32*16*9 + shortcut 32*16 + fc 32*10 + 10;
    GEMM/conv FLOPs = 2 x MACs of conv1, conv2, shortcut, fc."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    spec = next(yaml.safe_load(b) for b in blocks if "family: layers" in b)
    costs = roofline.count(spec, batch=[1, 4]).costs
    assert costs.weight_elems.sum() == 16 * 27 + 32 + 32 * 16 * 9 + 32 * 16 + 32 * 10 + 10 == 5914
    macs = 16 * 32**2 * 27 + 32 * 16**2 * 144 + 32 * 16**2 * 16 + 32 * 10
    assert list(costs.flops_mac.sum(axis=0)) == [2 * macs, 4 * 2 * macs]
    assert 2 * macs == 3_506_816
