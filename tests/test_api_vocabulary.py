"""One API vocabulary: ``batch=``/``dtype=`` everywhere (``compare``'s old ``batches=``/
``dtypes=`` deprecated), preset names wherever a device goes, result objects with named fields,
errors that name what was evaluated, and the same validation in the CLI and the API."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import roofline as rl
from roofline.cli.main import main
from roofline.errors import SpecError


def test_compare_takes_batch_and_dtype_and_warns_of_the_old_names():
    new = rl.compare(["resnet18"], ["t4"], batch=[1, 8], dtype="fp16")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = rl.compare(["resnet18"], ["t4"], batches=[1, 8], dtypes=["fp16"])
    said = sorted(str(w.message).split(":")[0] for w in caught)
    assert said == ["compare(batches=...) is deprecated", "compare(dtypes=...) is deprecated"]
    assert all(w.category is DeprecationWarning for w in caught)
    assert old.to_json() == new.to_json()
    with pytest.raises(SpecError, match="both batches and batch"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        rl.compare(["resnet18"], ["t4"], batch=[4], batches=[1])
    assert rl.compare("resnet18", "t4").to_json() == rl.compare(["resnet18"], ["t4"]).to_json()


def test_preset_names_are_accepted_wherever_a_device_goes():
    grid = rl.vary("t4", {"memory.dram.bandwidth": ["300 GB/s", "600 GB/s"]})
    assert grid.labels == ("t4[0]", "t4[1]")
    assert rl.stack(["t4", "l4"]).labels == ("t4", "l4")
    assert rl.to_grid("l4").labels == ("l4",)
    # one grid per device, shared by every evaluation: read-only
    assert rl.to_grid("l4") is rl.to_grid(rl.load_hardware("l4"))
    assert not rl.to_grid("l4").bandwidth.flags.writeable
    r = rl.evaluate("resnet50", grid, batch=8)
    assert r.latency_s[1, 0] < r.latency_s[0, 0]


def test_per_op_of_a_batch_not_evaluated_names_the_evaluated_batches():
    r = rl.evaluate("resnet18", "t4", batch=[1, 8])
    assert len(r.per_op(batch=8)) == len(r.costs.names)
    with pytest.raises(
        SpecError, match=r"batch 4 was not evaluated \(this result has batch 1, 8\)"
    ):
        r.per_op(batch=4)
    with pytest.raises(SpecError, match="no device 'l4'"):
        r.per_op(device="l4")
    assert r.per_op(device="t4", batch=1)[0]["device"] == "t4"


def test_table1_of_several_batches_needs_one_named():
    c = rl.count("resnet50", batch=[1, 64], dtype="fp16")
    with pytest.raises(SpecError, match="counted at several batches") as info:
        c.table1()
    assert "1, 64" in info.value.fix and "totals" in info.value.fix
    with pytest.raises(SpecError, match="batch 4 was not counted"):
        c.table1(batch=4)
    assert c.table1(batch=64).flops > c.table1(batch=1).flops
    one = rl.count("resnet50", batch=64, dtype="fp16")
    assert one.table1() == c.table1(batch=64)
    with pytest.raises(SpecError, match="several batches"):
        c.per_op()
    assert len(c.per_op(batch=1)) == len(one.per_op())
    # per_op looks the batch up as table1 does, and says so in the same words
    with pytest.raises(
        SpecError, match=r"batch 4 was not counted \(these counts have batch 1, 64\)"
    ):
        c.per_op(batch=4)


def test_results_have_named_fields():
    d = rl.diff_devices("resnet50", "a100_sxm4_80gb", "h100_sxm5", batch=4)
    assert d.by_kind.columns[0] == "kind" and d.bound_changes.title == "ops whose bound changes"
    s = rl.batches_under_sla("resnet50", "t4", "10 ms")
    assert s.best_batch_under_sla >= 1 and s.max_batch_under_sla >= s.best_batch_under_sla


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        (1.5, "must be a whole number >= 1"),
        (0, "must be positive"),
        (-8, "must be positive"),
        (float("nan"), "not finite"),
        ("ten", "not a number"),
    ],
)
def test_the_cli_and_the_api_refuse_the_same_batches(batch, problem, capsys):
    with pytest.raises(SpecError, match=problem):
        rl.evaluate("resnet18", "t4", batch=batch)
    with pytest.raises(SpecError, match=problem):
        rl.compare(["resnet18"], ["t4"], batch=[batch])
    assert main(["analyze", "resnet18", "--hw", "t4", "--batch", str(batch)]) == 2
    assert problem in capsys.readouterr().err


def test_a_zero_overhead_is_accepted_alike(capsys):
    api = rl.sweep("resnet18", "t4", {"overheads.per_op": [0.0, 5e-6]})
    argv = ["sweep", "resnet18", "--hw", "t4", "-q", "--format", "json"]
    assert main([*argv, "--vary", "overheads.per_op=0,5us"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [r["latency_s"] for r in cli] == api["latency_s"]
    assert rl.evaluate("resnet18", rl.vary("t4", {"overheads.per_op": ["0 s"]})).latency_s.size


@pytest.mark.parametrize(
    ("argument", "value"),
    [("chunk", 0), ("chunk", 2.0), ("window", True), ("window", -1), ("workers", 0),
     ("workers", np.float64(2))],
)  # fmt: skip
def test_counts_are_whole_numbers_everywhere_with_one_message(argument, value):
    # chunk, window and workers say what a parallel degree says (arguments.check_count)
    problem = re.escape(f"{argument}: {argument}={value!r} must be a whole number >= 1")
    with pytest.raises(SpecError, match=problem):
        rl.sweep("resnet18", "t4", {"overheads.per_op": [0.0, 5e-6]}, **{argument: value})
    with pytest.raises(SpecError, match=r"tp: tp=0 must be a whole number >= 1"):
        rl.generate("llama2_7b", "dgx_h100", tp=0)


def test_one_model_or_device_or_a_list_of_them_everywhere():
    """compare, generate and stack read "one or a list" by one rule (arguments.one_or_many): a
    name, a path, a mapping or a loaded object is one; a list or tuple is many."""
    from pathlib import Path

    from roofline.arguments import one_or_many

    hw = rl.load_hardware("t4")
    spec = {"name": "x"}
    assert one_or_many("t4") == ["t4"] and one_or_many(Path("t4.yaml")) == [Path("t4.yaml")]
    assert one_or_many(spec) == [spec] and one_or_many(hw) == [hw]
    assert one_or_many(("t4", "l4")) == ["t4", "l4"] and one_or_many(["t4"]) == ["t4"]
    assert len(rl.compare("resnet18", ("t4", "l4"), batch=1)) == 2
    assert rl.stack(("t4", hw)).labels == ("t4", "t4")
    t = rl.generate(("llama2_7b",), ["h100_sxm5", "l4"], prompt=128, output=2, batch=1)
    assert t["device"] == ["h100_sxm5", "l4"]
