"""Review of the family parameter schemas: bad parameters give one SpecError naming the user's
own field (``params.tables[0].rows``, ``params.input_size``) with a fix, never an internal op path
(``params.ops.features.30.kernel_size``), a spurious second error or a silently different model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_errors import one_line
from pydantic import BaseModel

import roofline as rl
from roofline import cli
from roofline.errors import SpecError, SpecErrors
from roofline.families import FAMILIES
from roofline.field_checks import SpecModel

SPECS = Path(__file__).parent.parent / "model_specs"
DLRM: dict[str, Any] = {
    "dense_features": 4,
    "bottom_mlp": [8],
    "tables": [{"rows": 100, "dim": 8}],
    "top_mlp": [1],
}
RESNET50: dict[str, Any] = {"layers": [3, 4, 6, 3]}
SHUFFLENET_V1: dict[str, Any] = {"stage_out_channels": [240, 480, 960]}
SHUFFLENET_V2: dict[str, Any] = {"stages_out_channels": [24, 116, 232, 464, 1024]}
FASTER_RCNN: dict[str, Any] = {"backbone": "resnet", "backbone_layers": [3, 4, 6, 3]}


def _spec(family: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"name": "x", "family": family, "source": "test", "params": params}


def _count(family: str, params: dict[str, Any]) -> dict[str, float]:
    """params and MACs of a valid spec at batch 1."""
    rec = rl.count(rl.load_model(_spec(family, params)), batch=[1]).totals().to_records()[0]
    return {"params": rec["params"], "flops_mac": rec["flops_mac"]}


def _error(family: str, **params: Any) -> SpecError:
    """The one SpecError of an invalid spec: one line, a family field, never an op path."""
    with pytest.raises(SpecError) as info:
        rl.count(rl.load_model(_spec(family, params)), batch=[1])
    exc = info.value
    assert not isinstance(exc, SpecErrors), str(exc)
    assert "\n" not in str(exc)
    assert exc.field and exc.field.startswith("params."), str(exc)
    assert not exc.field.startswith("params.ops"), str(exc)
    return exc


# 1. dlrm table entries: plain values checked like every other spec field


@pytest.mark.parametrize(
    ("table", "field", "problem"),
    [
        ({"rows": True, "dim": 8, "pooling_factor": True}, "rows", "boolean"),
        ({"rows": 100, "dim": True}, "dim", "boolean"),
        ({"rows": 100, "dim": 8, "pooling_factor": True}, "pooling_factor", "boolean"),
        ({"rows": 100, "dim": 8, "count": True}, "count", "boolean"),
        ({"rows": 2**60, "dim": 8}, "rows", r"2\*\*53"),
        ({"rows": 100, "dim": 8, "pooling_factor": 1e20}, "pooling_factor", r"2\*\*53"),
        ({"rows": "100", "dim": 8}, "rows", "text where a whole number"),
    ],
)
def test_dlrm_table_entries_refuse_booleans_and_huge_numbers(table, field, problem) -> None:
    exc = _error("dlrm", **{**DLRM, "tables": [table]})
    assert exc.field == f"params.tables[0].{field}"
    assert re.search(problem, exc.problem), exc.problem
    assert exc.fix


def test_family_sub_models_are_spec_models() -> None:
    """Every model a family's parameters nest is a SpecModel (plain values checked, read-only)."""
    seen: set[type] = set()

    def walk(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen.add(cls)
        assert issubclass(cls, SpecModel), cls
        for info in cls.model_fields.values():
            for sub in _models_in(info.annotation):
                walk(sub)

    for fam in FAMILIES.load_all().values():
        walk(fam.params)
    assert any(c.__name__ == "TableGroup" for c in seen)


def _models_in(ann: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    return [m for a in get_args(ann) for m in _models_in(a)]


# 2. resnet: groups and width_per_group belong to bottleneck blocks


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"groups": 32, "width_per_group": 8}, "params.groups"),
        ({"groups": 2}, "params.groups"),
        ({"width_per_group": 128}, "params.width_per_group"),
    ],
)
def test_resnet_basic_block_refuses_groups_and_width(extra, field) -> None:
    exc = _error("resnet", block="basic", layers=[2, 2, 2, 2], **extra)
    assert exc.field == field
    assert "basic" in exc.problem
    assert "bottleneck" in str(exc)


def test_resnet_basic_block_with_defaults_is_resnet18() -> None:
    same = _count("resnet", {"block": "basic", "layers": [2, 2, 2, 2], "groups": 1})
    assert same == _count("resnet", {"block": "basic", "layers": [2, 2, 2, 2]})
    assert same["params"] == 11_689_512  # torchvision resnet18


# 3. mobilenet_v2: each (t, c, n, s) entry bounded


@pytest.mark.parametrize(
    ("setting", "entry", "what"),
    [
        ([[1, -16, 1, 1], [6, 24, 2, 1000]], 0, "channels c"),
        ([[1, 16, 1, 1], [6, 24, 2, 1000]], 1, "stride s"),
        ([[1, 16, 1, 1], [6, 24, 2, 3]], 1, "stride s"),
        ([[1, 16, 1, 1], [6, 24, 2, 0]], 1, "stride s"),
        ([[0, 16, 1, 1]], 0, "expansion t"),
        ([[1, 16, 0, 1]], 0, "repeats n"),
        ([[1, 16, 1, 1], [6, 0, 2, 2]], 1, "channels c"),
    ],
)
def test_mobilenet_v2_setting_entries_are_bounded(setting, entry, what) -> None:
    exc = _error("mobilenet_v2", inverted_residual_setting=setting)
    assert exc.field == f"params.inverted_residual_setting[{entry}]"
    assert what in exc.problem
    assert exc.fix


def test_mobilenet_v2_valid_settings_still_count() -> None:
    default = _count("mobilenet_v2", {})
    assert default["params"] == 3_504_872  # torchvision mobilenet_v2
    s2 = _count("mobilenet_v2", {"inverted_residual_setting": [[1, 16, 1, 2], [6, 24, 2, 1]]})
    assert s2["params"] > 0


# 4. errors name the family's field, not an op inside the network


@pytest.mark.parametrize(
    ("family", "params", "field", "fix"),
    [
        ("vgg", {"input_size": [31, 31]}, "params.input_size", "32"),
        ("vgg", {"input_size": [224, 16]}, "params.input_size", "32"),
        ("vgg", {"input_size": [0, 224]}, "params.input_size[0]", None),
        ("resnet", {**RESNET50, "input_size": [0, 224]}, "params.input_size[0]", None),
        ("resnet", {**RESNET50, "input_size": [224, -1]}, "params.input_size[1]", None),
        ("mobilenet_v2", {"input_size": [0, 224]}, "params.input_size[0]", None),
        ("shufflenet_v1", {**SHUFFLENET_V1, "input_size": [0, 224]}, "params.input_size[0]", None),
        ("shufflenet_v2", {**SHUFFLENET_V2, "input_size": [0, 224]}, "params.input_size[0]", None),
        ("faster_rcnn", {**FASTER_RCNN, "input_size": [0, 224]}, "params.input_size[0]", None),
        ("faster_rcnn", {**FASTER_RCNN, "input_size": [-32, 32]}, "params.input_size[0]", None),
        ("dlrm", {**DLRM, "bottom_mlp": [0, 8]}, "params.bottom_mlp[0]", None),
        ("dlrm", {**DLRM, "top_mlp": [0]}, "params.top_mlp[0]", None),
        ("dlrm", {**DLRM, "top_mlp": [16, -1]}, "params.top_mlp[1]", None),
        (
            "shufflenet_v1",
            {**SHUFFLENET_V1, "bottleneck_ratio": 1000},
            "params.bottleneck_ratio",
            "240",
        ),
        (
            "shufflenet_v1",
            {**SHUFFLENET_V1, "groups": 1, "bottleneck_ratio": 241},
            "params.bottleneck_ratio",
            "240",
        ),
    ],
)
def test_errors_name_the_family_field(family, params, field, fix) -> None:
    exc = _error(family, **params)
    assert exc.field == field
    assert "ops" not in exc.problem.split()
    if fix:
        assert exc.fix and fix in exc.fix, str(exc)


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("vgg", {"input_size": [32, 32]}),
        ("vgg", {"input_size": [32, 100]}),
        ("resnet", {**RESNET50, "input_size": [1, 1]}),
        ("mobilenet_v2", {"input_size": [1, 1]}),
        ("shufflenet_v1", {**SHUFFLENET_V1, "input_size": [1, 1]}),
        ("shufflenet_v1", {**SHUFFLENET_V1, "bottleneck_ratio": 80}),
        ("shufflenet_v1", {**SHUFFLENET_V1, "groups": 1, "bottleneck_ratio": 240}),
        ("shufflenet_v2", {**SHUFFLENET_V2, "input_size": [1, 1]}),
        ("faster_rcnn", {**FASTER_RCNN, "input_size": [32, 32]}),
    ],
)
def test_smallest_valid_inputs_still_build(family, params) -> None:
    assert _count(family, params)["flops_mac"] > 0


# 5. one bad entry in a list: one error, not also "needs at least 1 entry"


@pytest.mark.parametrize(
    ("family", "params", "field"),
    [
        (
            "dlrm",
            {**DLRM, "tables": [{"rows": 100, "dim": 8, "count": 0}]},
            "params.tables[0].count",
        ),
        ("dlrm", {**DLRM, "bottom_mlp": [8.5]}, "params.bottom_mlp[0]"),
        ("dlrm", {**DLRM, "top_mlp": ["one"]}, "params.top_mlp[0]"),
        ("mobilenet_v2", {"inverted_residual_setting": [[1, 16, 1]]}, None),
        ("mobilenet_v2", {"inverted_residual_setting": [[1, 16, 1, 1, 1]]}, None),
    ],
)
def test_a_bad_only_entry_gives_one_error(family, params, field) -> None:
    exc = _error(family, **params)
    assert "needs at least" not in exc.problem
    assert exc.field == (field or "params.inverted_residual_setting[0]")


def test_an_empty_list_still_needs_an_entry() -> None:
    exc = _error("dlrm", **{**DLRM, "tables": []})
    assert exc.field == "params.tables"
    assert "needs at least 1 entry" in exc.problem


def test_too_short_kept_beside_errors_elsewhere() -> None:
    """Only an error under one of the list's own entries hides its too_short."""
    with pytest.raises(SpecErrors) as info:
        rl.load_model(_spec("dlrm", {**DLRM, "tables": [], "bottom_mlp": [0.5]}))
    fields = [e.field for e in info.value.errors]
    assert "params.tables" in fields
    assert "params.bottom_mlp[0]" in fields


# 6. dlrm: cross_rank without cross layers


def test_dlrm_cross_rank_needs_cross_layers() -> None:
    exc = _error("dlrm", **{**DLRM, "interaction": "cat", "cross_rank": 16})
    assert exc.field == "params.cross_rank"
    assert "cross_layers" in str(exc)
    exc = _error("dlrm", **{**DLRM, "cross_rank": 16, "cross_layers": 0})
    assert exc.field == "params.cross_rank"


def test_dlrm_cross_rank_with_cross_layers_is_valid() -> None:
    low = _count("dlrm", {**DLRM, "interaction": "cat", "cross_layers": 2, "cross_rank": 4})
    full = _count("dlrm", {**DLRM, "interaction": "cat", "cross_layers": 2})
    assert 0 < low["params"] < full["params"]


def test_cli_names_the_field_in_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "bad_rn.yaml"
    path.write_text(
        yaml.safe_dump(
            _spec("resnet", {"block": "basic", "layers": [2, 2, 2, 2], "groups": 32}),
        )
    )
    out = tmp_path / "out.json"
    argv = ["analyze", str(path), "--hw", "a100_sxm4_80gb", "--format", "json", "-o", str(out)]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert one_line(captured.err).startswith(f"roofline: error: {path}: params.groups: ")
    assert not out.exists()


# 7. docs: the minimum act + weight intensity quoted is over convs (the FC's is lower)


@pytest.mark.parametrize(
    ("name", "claim"),
    [
        ("resnext3d_101", "min over convs 28.3 at layer4.0.conv2"),
        ("ir_csn_152", "min over convs 5.91 at layer4.0.conv2.0"),
    ],
)
def test_notes_say_the_quoted_minimum_is_over_convs(name, claim) -> None:
    notes = " ".join(yaml.safe_load((SPECS / f"{name}.yaml").read_text())["notes"].split())
    assert claim in notes
    figure = claim.split()[3]
    assert f"min {figure}" not in notes  # every quoted min of this figure says "over convs"
    row = rl.count(rl.load_model(name), batch=[1]).table1(batch=1)
    assert row.intensity_aw_min < 2  # the FC's, below the conv minimum the notes quote
