"""Every shipped spec loads, is named after its file, and says where its numbers come from.

DESIGN.md, Tests 3: each YAML in ``hw_specs/`` and ``model_specs/`` loads through the public
loaders; a model spec carries a non-empty ``source``; a device spec carries a ``source`` in every
block that holds numbers (top level, ``engines.matrix``, ``engines.vector``, each memory level,
``overheads``), read from the YAML itself so that a default could not stand in for one, and
writes every quantity (peaks, capacities, bandwidths, granularities, the per-op overhead) with its
unit (``hw_specs/README.md``, Unit grammar) rather than as a bare number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import roofline

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = sorted((ROOT / "model_specs").glob("*.y*ml"))
DEVICE_FILES = sorted((ROOT / "hw_specs").glob("*.y*ml"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _has_source(block: object) -> bool:
    return (
        isinstance(block, dict)
        and isinstance(block.get("source"), str)
        and bool(block["source"].strip())
    )


def test_specs_are_shipped() -> None:
    assert MODEL_FILES and DEVICE_FILES
    assert {p.stem for p in MODEL_FILES} <= set(roofline.list_models())
    assert {p.stem for p in DEVICE_FILES} <= set(roofline.list_devices())


@pytest.mark.parametrize("path", MODEL_FILES, ids=_ids(MODEL_FILES))
def test_model_spec_loads_with_name_and_source(path: Path) -> None:
    model = roofline.load_model(path)
    assert model.name == path.stem, f"{path.name}: name {model.name!r} differs from the file stem"
    assert model.spec.source.strip(), f"{path.name}: empty source"
    assert model.graph.nodes, f"{path.name}: the family built no ops"
    assert roofline.load_model(path.stem).name == path.stem  # by preset name too


@pytest.mark.parametrize("path", DEVICE_FILES, ids=_ids(DEVICE_FILES))
def test_device_spec_loads_with_name_and_sources(path: Path) -> None:
    hw = roofline.load_hardware(path)
    assert hw.name == path.stem, f"{path.name}: name {hw.name!r} differs from the file stem"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    blocks = {
        "top level": raw,
        "engines.matrix": raw["engines"]["matrix"],
        "engines.vector": raw["engines"]["vector"],
        "overheads": raw["overheads"],
        **{f"memory.{name}": level for name, level in raw["memory"].items()},
    }
    missing = [where for where, block in blocks.items() if not _has_source(block)]
    assert not missing, f"{path.name}: no source in {missing}"
    assert roofline.load_hardware(path.stem).name == path.stem  # by preset name too


def _quantities(raw: dict) -> dict[str, object]:
    """Every quantity field of a device spec (``hw_specs/README.md``, Field reference)."""
    out: dict[str, object] = {"overheads.per_op": raw["overheads"]["per_op"]}
    for engine, block in raw["engines"].items():
        for dtype, value in block["peak"].items():
            out[f"engines.{engine}.peak.{dtype}"] = value
    for level, block in raw["memory"].items():
        for key in ("capacity", "bandwidth", "granularity"):
            out[f"memory.{level}.{key}"] = block[key]
    return out


@pytest.mark.parametrize("path", DEVICE_FILES, ids=_ids(DEVICE_FILES))
def test_device_quantities_state_their_units(path: Path) -> None:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    bare = [
        where
        for where, value in _quantities(raw).items()
        if not (isinstance(value, str) and any(ch.isalpha() for ch in value))
    ]
    assert not bare, f"{path.name}: write these with a unit (e.g. '2 TB/s', '40 MiB'): {bare}"
